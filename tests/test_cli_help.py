"""`--help` works for every command and sub-command of `vipbot`, found by walking the parser."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from bot.__main__ import COMMAND_GROUPS, build_parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return {
        name: child
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, child in action.choices.items()
    }


def _helps(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    """What the parent's own --help says about each sub-command."""
    return {
        choice.dest: choice.help
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._get_subactions()
    }


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, child in _subcommands(parser).items():
        found.append((*path, name))
        found.extend(_walk(child, (*path, name)))
    return found


COMMANDS = _walk(build_parser())


def test_the_walk_finds_every_command_group_and_their_sub_commands() -> None:
    top = {path[0] for path in COMMANDS}
    assert len(top) >= len(COMMAND_GROUPS)  # a module may add more than one group
    assert {"serve", "db", "org", "content"} <= top
    assert ("org", "group", "remove") in COMMANDS
    assert ("db", "upgrade") in COMMANDS
    assert len(COMMANDS) > len(top), "sub-commands are walked too"


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "vipbot")
def test_help_works(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([*path, "--help"])
    assert exited.value.code == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    usage = captured.out.splitlines()[0]
    assert usage.startswith(" ".join(("usage: vipbot", *path))), usage
    # There is something to read beyond the usage line.
    assert len([line for line in captured.out.splitlines() if line.strip()]) > 1


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "vipbot")
def test_every_sub_command_is_explained_in_its_parents_help(path: tuple[str, ...]) -> None:
    parser = build_parser()
    for name in path:
        parser = _subcommands(parser)[name]
    for name, text in _helps(parser).items():
        assert text, f"`vipbot {' '.join((*path, name))}` has no help line"


def test_help_of_the_installed_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "org", "group", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: vipbot org group")
    assert "remove" in result.stdout
