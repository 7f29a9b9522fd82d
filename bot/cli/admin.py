"""`vipbot admin …`: console accounts from the command line (the first administrator, unlocking, resetting)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TYPE_CHECKING

from bot.cli.context import CliContext
from bot.domain.accounts import Role, password_problem
from bot.errors import ConfigError, NotFoundError
from bot.security import DEFAULT_PASSWORD_POLICY, Secret, hash_password

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.storage.accounts import SqlAccountRepository

_PROBLEMS = {
    "console.password.mismatch": "the two passwords differ",
    "console.password.too_short": "use at least 12 characters",
    "console.password.is_email": "the password may not be the e-mail address",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "admin",
        help="console accounts",
        description="Console accounts: create the first administrator, unlock or reset an account.",
    )
    sub = parser.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")

    create = sub.add_parser(
        "create",
        help="create an administrator account",
        description=(
            "Create a practice administrator for the web console. The password is asked twice, or read from "
            "standard input with --password-stdin. The administrator sets up an authenticator app at first "
            "sign-in."
        ),
    )
    create.add_argument(
        "--email", required=True, help="the administrator's e-mail address (their sign-in name)"
    )
    create.add_argument("--name", required=True, help="the name shown in the console")
    create.add_argument("--locale", choices=["nl", "en"], default="nl", help="console language (default: nl)")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    create.set_defaults(handler=run_create)

    lst = sub.add_parser("list", help="list console accounts", description="List every console account.")
    lst.set_defaults(handler=run_list)

    password = sub.add_parser(
        "reset-password",
        help="give an account a new password (asked twice, or --password-stdin) and unlock it",
        description="Set a new password for a console account, unlock it and end its sessions.",
    )
    password.add_argument("--email", required=True)
    password.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    password.set_defaults(handler=run_reset_password)

    reset = sub.add_parser(
        "reset-2fa",
        help="remove an account's authenticator (it sets up a new one at next sign-in) and unlock it",
        description="Remove an account's authenticator and unlock it; every session of the account ends.",
    )
    reset.add_argument("--email", required=True)
    reset.set_defaults(handler=run_reset_2fa)

    require = sub.add_parser(
        "require-2fa",
        help="require (or, with --off, no longer require) a second factor of an organisation's management viewers",
        description="Management viewers of the organisation sign in with an authenticator code; those without "
        "one set it up at their next sign-in. Administrators and counsellors always need one.",
    )
    require.add_argument("--organisation", required=True, help="the organisation's slug")
    require.add_argument("--off", action="store_true", help="no longer require it")
    require.set_defaults(handler=run_require_2fa)


def _read_password(args: argparse.Namespace, ctx: CliContext) -> str:
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        problem = password_problem(line, line, args.email)
    else:
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password again: ")
        problem = password_problem(first, second, args.email)
        line = first
    if problem:
        raise ConfigError("password", _PROBLEMS[problem])
    return line


def _accounts(engine: AsyncEngine) -> SqlAccountRepository:
    # Storage is imported when a command runs: `vipbot --help` and a bad setting need none of it.
    from bot.storage.accounts import SqlAccountRepository
    from bot.storage.db import session_factory

    return SqlAccountRepository(session_factory(engine))


async def run_create(args: argparse.Namespace, ctx: CliContext) -> int:
    if "@" not in args.email:
        raise ConfigError("--email", "must be an e-mail address")
    password = _read_password(args, ctx)
    encoded = await asyncio.to_thread(hash_password, Secret(password), policy=DEFAULT_PASSWORD_POLICY)
    async with ctx.database() as engine:
        repo = _accounts(engine)
        account = await repo.create_account(args.email, args.name, Role.ADMIN, encoded, locale=args.locale)
    settings = ctx.settings()
    ctx.print(f"Created administrator {account.email}.")
    ctx.print(f"Sign in at {settings.public_base_url}/console/login and set up an authenticator app.")
    return 0


async def run_list(_args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        accounts = await _accounts(engine).list_accounts()
    if not accounts:
        ctx.print("No console accounts yet. Create the first with: vipbot admin create --email … --name …")
    for account in accounts:
        state = "blocked" if account.disabled else ("2FA on" if account.totp_enabled else "2FA not set up")
        ctx.print(f"{account.email:<40} {account.role.value:<11} {account.display_name}  ({state})")
    return 0


async def run_reset_2fa(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        repo = _accounts(engine)
        credentials = await repo.credentials(args.email)
        if credentials is None:
            raise NotFoundError(f"no console account with the e-mail address {args.email}")
        await repo.reset_second_factor(credentials.account.id)
    ctx.print(f"Removed the authenticator of {args.email}; it sets up a new one at next sign-in.")
    return 0


async def run_reset_password(args: argparse.Namespace, ctx: CliContext) -> int:
    password = _read_password(args, ctx)
    encoded = await asyncio.to_thread(hash_password, Secret(password), policy=DEFAULT_PASSWORD_POLICY)
    async with ctx.database() as engine:
        repo = _accounts(engine)
        credentials = await repo.credentials(args.email)
        if credentials is None:
            raise NotFoundError(f"no console account with the e-mail address {args.email}")
        await repo.set_password_hash(credentials.account.id, encoded)
        await repo.record_success(credentials.account.id)
        await repo.end_all_sessions(credentials.account.id)
    ctx.print(f"Set a new password for {args.email}; its sessions have ended.")
    return 0


async def run_require_2fa(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.console_policy import SqlConsolePolicy
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    async with ctx.database() as engine:
        organisation = await SqlOrganisationRepository(session_factory(engine)).get_organisation(
            args.organisation
        )
        await SqlConsolePolicy(engine).set_requires_totp(organisation.id, not args.off)
    state = "no longer need" if args.off else "now need"
    ctx.print(f"Management viewers of {organisation.name} {state} a second factor to sign in.")
    return 0
