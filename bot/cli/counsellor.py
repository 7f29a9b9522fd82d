"""`vipbot counsellor …` (counsellors and their keys) and `vipbot conversations …` (retention, digest)."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.cli.context import CliContext
from bot.domain.clock import SystemClock
from bot.domain.tenancy import CounsellorRole
from bot.errors import ConfigError, ConflictError
from bot.security.secret import Secret
from bot.usecases.audit import AuditAction
from bot.usecases.counsellors import MESSAGES, check_key_owner, passphrase_problem, rotate_key


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "counsellor",
        help="counsellors and their keys for the confidential channel",
        description="Counsellors, the organisations they serve and the key pair that opens their conversations.",
    )
    sub = parser.add_subparsers(dest="counsellor_command", required=True, metavar="COMMAND")

    add = sub.add_parser(
        "add",
        help="add a counsellor with a key pair protected by a passphrase",
        description="Add a counsellor to an organisation, with a new key pair whose private key is wrapped under "
        "the counsellor's passphrase (Argon2id). One person is one counsellor: a counsellor or console account "
        "with this e-mail address (also an administrator's) gets the key. A counsellor can also create the key "
        "in the console (Profiel), so the passphrase is never typed on the server.",
    )
    add.add_argument("org", help="organisation handle")
    add.add_argument("name", help="the counsellor's name")
    add.add_argument(
        "--email",
        help="e-mail address: the console account's address (an existing account, an administrator's too, is "
        "linked to the counsellor), and where digests go",
    )
    add.add_argument("--deputy", action="store_true", help="add as the organisation's deputy counsellor")
    add.add_argument(
        "--passphrase-stdin", action="store_true", help="read the passphrase from the first line of stdin"
    )
    add.set_defaults(handler=run_add)

    link = sub.add_parser(
        "link",
        help="let a counsellor serve another organisation",
        description="Assign an existing counsellor to another organisation. Conversation keys reach them the "
        "next time a colleague who holds them unlocks the inbox.",
    )
    link.add_argument("counsellor", help="the counsellor's name or id")
    link.add_argument("org", help="organisation handle")
    link.add_argument("--deputy", action="store_true", help="as deputy counsellor")
    link.set_defaults(handler=run_link)

    unlink = sub.add_parser(
        "unlink",
        help="end a counsellor's assignment to an organisation",
        description="End a counsellor's assignment and delete their copies of the organisation's conversation "
        "keys, so they can no longer read those conversations.",
    )
    unlink.add_argument("counsellor", help="the counsellor's name or id")
    unlink.add_argument("org", help="organisation handle")
    unlink.set_defaults(handler=run_unlink)

    lst = sub.add_parser(
        "list", help="list counsellors", description="List counsellors and whether they have a key."
    )
    lst.add_argument("org", nargs="?", help="only this organisation's counsellors")
    lst.set_defaults(handler=run_list)

    rotate = sub.add_parser(
        "rotate-key",
        help="new key pair (and passphrase); re-seals every conversation key",
        description="Make a new key pair for the counsellor, protected by a new passphrase, and re-seal every "
        "conversation key the counsellor holds to it. Unlocked inboxes of this counsellor are locked.",
    )
    rotate.add_argument("counsellor", help="the counsellor's name or id")
    rotate.add_argument(
        "--passphrase-stdin",
        action="store_true",
        help="read the current passphrase (line 1) and the new one (line 2) from stdin",
    )
    rotate.set_defaults(handler=run_rotate)

    conversations = commands.add_parser(
        "conversations",
        help="retention and digest of the confidential channel",
        description="Housekeeping of the confidential channel (the service does this by itself while it runs).",
    )
    csub = conversations.add_subparsers(dest="conversations_command", required=True, metavar="COMMAND")
    expire = csub.add_parser(
        "expire",
        help="erase conversations past their retention",
        description="Erase conversations whose last activity is older than the organisation's retention: "
        "messages and keys go, the anonymous classification stays.",
    )
    expire.set_defaults(handler=run_expire)
    digest = csub.add_parser(
        "digest", help="send the content-free digest e-mails now", description="Send due digest e-mails now."
    )
    digest.set_defaults(handler=run_digest)


def _read_passphrases(
    from_stdin: bool, prompts: list[str], *, confirm_last: bool, email: str | None
) -> list[str]:
    if from_stdin:
        lines = sys.stdin.read().splitlines()
        if len(lines) < len(prompts):
            raise ConfigError(
                "--passphrase-stdin", f"expected one line on stdin per passphrase asked for ({len(prompts)})"
            )
        values = lines[: len(prompts)]
        repeated = values[-1]
    else:
        values = [getpass.getpass(f"{prompt}: ") for prompt in prompts]
        repeated = getpass.getpass("Repeat the new passphrase: ") if confirm_last else values[-1]
    problem = passphrase_problem(values[-1], repeated, email)
    if problem is not None:
        raise ConfigError("passphrase", MESSAGES[problem])
    return values


async def run_add(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.accounts import SqlAccountRepository, normalise_email
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.web.portal.channel import ConfidentialChannel

    email = normalise_email(args.email) if args.email else None
    settings = ctx.settings_with_key()
    role = CounsellorRole.DEPUTY if args.deputy else CounsellorRole.PRIMARY
    async with ctx.database() as engine:
        sessions = session_factory(engine)
        org = await SqlOrganisationRepository(sessions).get_organisation(args.org)
        accounts = SqlAccountRepository(sessions)
        credentials = await accounts.credentials(email) if email else None
        # Refused before the passphrase is asked: a key nobody could ever open.
        check_key_owner(email, credentials.account if credentials else None)
        channel = ConfidentialChannel(engine, settings, SystemClock())
        existing = await channel.store.counsellor_by_email(email) if email else None
        if existing is not None and await channel.store.has_key(existing):
            raise ConflictError(
                f"{email} has a key already: to let them serve {org.slug} too, run "
                f"'vipbot counsellor link {existing} {org.slug}'"
            )
        (passphrase,) = _read_passphrases(
            args.passphrase_stdin, ["Passphrase for the new key"], confirm_last=True, email=email
        )
        counsellor_id = await channel.add_counsellor(org.id, args.name, email, Secret(passphrase), role)
        await ctx.services(engine).audit.record(None, AuditAction.KEY_CREATED, org.id, "key")
    linked = " and linked to the console account of that address" if credentials else ""
    ctx.print(
        f"Added {args.name} as {role.value} counsellor of {org.slug}, with a key pair "
        f"(id {counsellor_id}){linked}. Keep the passphrase safe: without it the conversations cannot be read."
    )
    return 0


async def run_link(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.conversations import SqlConversationStore
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    role = CounsellorRole.DEPUTY if args.deputy else CounsellorRole.PRIMARY
    async with ctx.database() as engine:
        sessions = session_factory(engine)
        store = SqlConversationStore(sessions)
        org = await SqlOrganisationRepository(sessions).get_organisation(args.org)
        counsellor = await store.find_counsellor(args.counsellor)
        await store.link_counsellor(org.id, counsellor.id, role)
    ctx.print(f"{counsellor.display_name} now serves {org.slug} as {role.value} counsellor.")
    return 0


async def run_unlink(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.conversations import SqlConversationStore
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    async with ctx.database() as engine:
        sessions = session_factory(engine)
        store = SqlConversationStore(sessions)
        org = await SqlOrganisationRepository(sessions).get_organisation(args.org)
        counsellor = await store.find_counsellor(args.counsellor)
        removed = await store.unlink_counsellor(org.id, counsellor.id)
    ctx.print(
        f"{counsellor.display_name} no longer serves {org.slug}; {removed} conversation key copies deleted."
    )
    return 0


async def run_list(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.conversations import SqlConversationStore
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    async with ctx.database() as engine:
        sessions = session_factory(engine)
        org_id = (
            (await SqlOrganisationRepository(sessions).get_organisation(args.org)).id if args.org else None
        )
        counsellors = await SqlConversationStore(sessions).counsellors(org_id)
    if not counsellors:
        ctx.print("No counsellors yet. Add one with: vipbot counsellor add ORG NAME")
    for c in counsellors:
        ctx.print(f"{c.id}  {c.display_name:<30} {'key' if c.has_key else 'no key':<7} {c.email or ''}")
    return 0


async def run_rotate(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.conversations import SqlConversationStore
    from bot.storage.db import session_factory
    from bot.web.portal.channel import ConfidentialChannel

    settings = ctx.settings_with_key()
    async with ctx.database() as engine:
        counsellor = await SqlConversationStore(session_factory(engine)).find_counsellor(args.counsellor)
        old, new = _read_passphrases(
            args.passphrase_stdin,
            ["Current passphrase", "New passphrase"],
            confirm_last=True,
            email=counsellor.email,
        )
        channel = ConfidentialChannel(engine, settings, SystemClock())
        count = await rotate_key(channel, counsellor.id, Secret(old), Secret(new))
        await ctx.services(engine).audit.record(None, AuditAction.KEY_ROTATED, subject="key")
    ctx.say("cli.counsellor.rotated", name=counsellor.display_name, count=count)
    return 0


async def run_expire(_args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.web.portal.channel import ConfidentialChannel

    settings = ctx.settings_with_key()
    async with ctx.database() as engine:
        count = await ConfidentialChannel(engine, settings, SystemClock()).expire()
    ctx.say("cli.counsellor.expired", count=count)
    return 0


async def run_digest(_args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.mail.digest import send_due_digests

    settings = ctx.settings_with_key()
    async with ctx.database() as engine:
        sent = await send_due_digests(engine, settings, SystemClock(), ctx.content().translator)
    ctx.say("cli.counsellor.digests", count=sent)
    return 0
