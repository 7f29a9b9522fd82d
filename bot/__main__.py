"""The `vipbot` command. The only place that reads the process environment."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.cli import (
    admin,
    backup,
    content,
    counsellor,
    db,
    doctor,
    insights,
    org,
    pulse,
    schedule,
    send,
    serve,
    session,
    slack,
    teams,
)
from bot.cli.context import CliContext
from bot.domain.clock import Clock, SystemClock
from bot.errors import ConfigError, ContentError, VipbotError

EXIT_FAILURE = 1
EXIT_CONFIG = 2

# Each module adds its sub-commands; a new command group is one more entry here.
COMMAND_GROUPS = (
    serve,
    doctor,
    backup,
    db,
    content,
    org,
    admin,
    slack,
    counsellor,
    pulse,
    insights,
    teams,
    schedule,
    send,
    session,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vipbot",
        description="vipbot — Slack and Teams bot for the proactive confidential counsellor (vertrouwenspersoon).",
        epilog="Settings come from the environment and an optional .env file; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"vipbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    """Run one command. `clock` is the time every command and the service go by (the system's by default)."""
    args = build_parser().parse_args(argv)
    ctx = CliContext(environ=dict(os.environ), clock=clock or SystemClock())
    try:
        return int(asyncio.run(args.handler(args, ctx)))
    except ConfigError as exc:
        print(f"vipbot: configuration error: {exc.variable}: {exc.problem}", file=sys.stderr)
        return EXIT_CONFIG
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(
            f"vipbot: the content library has {len(exc.problems)} problem(s); nothing was started",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except VipbotError as exc:  # DatabaseNotReadyError, PlatformError, … : one line each
        print(f"vipbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except _unreachable() as exc:
        # The last net under every command: a platform or file that did not answer is one line, not a traceback.
        print(f"vipbot: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _unreachable() -> tuple[type[BaseException], ...]:
    """What counts as a platform or file that did not answer (evaluated only when a command failed).

    aiohttp's client errors count once aiohttp is loaded: a command that never imported it cannot raise one, and
    `vipbot --help` or a bad setting need not load it.
    """
    aiohttp = sys.modules.get("aiohttp")
    return (OSError, TimeoutError, aiohttp.ClientError) if aiohttp is not None else (OSError, TimeoutError)


def _one_line(exc: BaseException) -> str:
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    detail = " ".join(detail.split())
    what = "no answer in time" if isinstance(exc, TimeoutError) else "a connection or file operation failed"
    return f"{what} ({type(exc).__name__}{': ' + detail if detail else ''})"


if __name__ == "__main__":
    sys.exit(main())
