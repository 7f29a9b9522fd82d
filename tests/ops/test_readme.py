"""The README stays true: every command is in its table, the quick start's two commands exist, `make serve`
installs no development tools, and the licence is where the README says it is."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import tomllib

from bot.__main__ import build_parser
from bot.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")


def _generator():  # scripts/command-table, loaded as a module
    path = str(PROJECT_ROOT / "scripts" / "command-table")
    spec = importlib.util.spec_from_loader(
        "command_table", importlib.machinery.SourceFileLoader("command_table", path)
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commands_block() -> str:
    match = re.search(r"<!-- commands:start -->(.*?)<!-- commands:end -->", README, flags=re.DOTALL)
    assert match is not None
    return match.group(1)


def test_every_top_level_command_is_in_the_readme() -> None:
    block = _commands_block()
    parser = build_parser()
    (top,) = [a for a in parser._actions if a.dest == "command"]
    names = list(top.choices)  # type: ignore[union-attr]
    assert {
        "serve",
        "doctor",
        "backup",
        "restore",
        "admin",
        "pulse",
        "insights",
        "slack",
        "teams",
        "content",
    } <= set(names)
    for name in names:
        assert re.search(rf"`vipbot {re.escape(name)}[` ]", block), (
            f"`vipbot {name}` is missing from the README"
        )


def test_every_sub_command_is_in_the_readme() -> None:
    block = _commands_block()
    missing = [command for command, _help in _generator().rows() if command not in block]
    assert missing == [], "run scripts/command-table and paste its output into the README: " + ", ".join(
        missing
    )


def test_the_quick_start_commands_exist_and_serve_installs_no_dev_extras() -> None:
    assert "make serve" in README
    assert "make test" in README
    rules = {
        name: recipe
        for name, _deps, recipe in re.findall(
            r"^([\w.$()/-]+):([^\n]*)\n((?:\t[^\n]*\n)*)", MAKEFILE, re.MULTILINE
        )
    }
    targets = dict(re.findall(r"^([\w.$()/-]+):([^\n=]*)$", MAKEFILE, flags=re.MULTILINE))
    assert targets["serve"].split() == ["$(RUNTIME_STAMP)"]
    assert "[dev]" not in rules["$(RUNTIME_STAMP)"]
    for dev_target in ("test", "lint", "typecheck", "bench"):
        assert targets[dev_target].split() == ["$(STAMP)"], dev_target
    assert "'.[dev]'" in rules["$(STAMP)"]


def test_the_licence_is_the_eupl() -> None:
    licence = (PROJECT_ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("EUROPEAN UNION PUBLIC LICENCE v. 1.2")
    assert tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["license"] == "EUPL-1.2"
    assert "European Union Public Licence 1.2" in README
    security = (PROJECT_ROOT / "SECURITY.md").read_text(encoding="utf-8")
    for doc in ("docs/portal.md", "docs/pulses.md", "docs/console.md"):
        assert doc in security
    for doc in re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)", README):
        assert (PROJECT_ROOT / doc).is_file(), doc
