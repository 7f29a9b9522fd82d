"""`vipbot session …`: team sessions — plan (announce now, remind the day before), list with counts, cancel."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.cli.context import CLI_LOCALE, CliContext
from bot.cli.schedule import ScheduleError, add_audience_arguments, audience_from
from bot.errors import ConfigError, VipbotError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.usecases.team_sessions import SessionRefusedError, TeamSessions
    from scheduler.materialiser import Materialiser

# The team-session use case (and with it the outreach pipeline and storage) is imported when a command runs:
# `vipbot --help` and a bad setting need none of it.


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "session",
        help="team sessions: plan, list, cancel",
        description="Team sessions (an information session, peer consultation, a visit to a team meeting). "
        "Planning one announces it now with a 'count me in' button and reminds the audience the day before.",
    )
    sub = parser.add_subparsers(dest="session_command", required=True, metavar="COMMAND")

    add = sub.add_parser(
        "add", help="plan a session and announce it", description="Plan a session and announce it."
    )
    add.add_argument("org", help="organisation handle")
    add.add_argument("--title", required=True)
    add.add_argument("--description", default="")
    add.add_argument(
        "--start", required=True, help="local start, e.g. '2026-05-12 14:00' (organisation's time zone)"
    )
    add.add_argument("--end", required=True, help="local end: '15:30' (same day) or '2026-05-12 15:30'")
    add.add_argument("--place", help="where, e.g. 'Vergaderzaal 2'")
    add.add_argument("--online", metavar="URL", help="online link (https://…)")
    add_audience_arguments(add)
    add.add_argument("--locale", choices=["nl", "en"], help="language (default: the organisation's)")
    add.add_argument("--no-reminder", action="store_true", help="do not remind the audience the day before")
    add.set_defaults(handler=run_add)

    lst = sub.add_parser("list", help="coming sessions with sign-up counts", description="Coming sessions.")
    lst.add_argument("org", help="organisation handle")
    lst.add_argument("--all", action="store_true", help="past sessions too")
    lst.set_defaults(handler=run_list)

    cancel = sub.add_parser(
        "cancel", help="cancel a session", description="Cancel a session: queued posts about it are not sent."
    )
    cancel.add_argument("org", help="organisation handle")
    cancel.add_argument("session", help="the session id (see `vipbot session list`)")
    cancel.set_defaults(handler=run_cancel)


def _moment(text: str, zone: str, day: datetime | None = None) -> datetime:
    text = text.strip()
    try:
        if day is not None and len(text) <= 5:
            hours, minutes = (int(x) for x in text.replace(".", ":").split(":"))
            local = datetime.combine(day.astimezone(ZoneInfo(zone)).date(), time(hours, minutes))
        else:
            local = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError("--start/--end", f"'{text}' is not a date and time like 2026-05-12 14:00") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def _refused(exc: SessionRefusedError) -> VipbotError:
    """The shared check's refusal as the CLI reports it: a bad option (exit 2) or an unreachable audience."""
    from bot.usecases.team_sessions import SessionProblem

    option = {
        SessionProblem.IN_PAST: "--start",
        SessionProblem.INVALID: "session",
        SessionProblem.NOT_FOUND: "session",
    }.get(exc.problem)
    return ScheduleError(str(exc)) if option is None else ConfigError(option, str(exc))


def _use_cases(ctx: CliContext, engine: AsyncEngine) -> tuple[TeamSessions, Materialiser]:
    from bot.usecases.team_sessions import TeamSessions
    from scheduler.service import outreach_of

    services = ctx.services(engine)
    outreach = outreach_of(services)
    return TeamSessions(outreach, services.clock), outreach.materialiser


async def run_add(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.usecases.team_sessions import SessionDraft, SessionRefusedError

    ctx.content()  # content problems stop the command before the database is touched
    audience = audience_from(args)
    async with ctx.database() as engine:
        sessions, materialiser = _use_cases(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        starts = _moment(args.start, org.timezone)
        draft = SessionDraft(
            title=args.title,
            description=args.description,
            starts_at=starts,
            ends_at=_moment(args.end, org.timezone, day=starts),
            place=args.place,
            online_url=args.online,
            audience=audience,
            locale=args.locale,
        )
        try:
            planned = await sessions.plan(org, draft, remind=not args.no_reminder)
        except SessionRefusedError as exc:
            raise _refused(exc) from None
        session = planned.session
        t = ctx.content().translator
        ctx.print(
            t.t(
                CLI_LOCALE,
                "cli.session.announcing",
                title=session.title,
                id=session.id,
                count=planned.announced,
            )
        )
        if planned.reminder_at is not None:
            local = planned.reminder_at.astimezone(ZoneInfo(org.timezone))
            when = f"{local:%a %Y-%m-%d %H:%M %Z}"
            ctx.print(t.t(CLI_LOCALE, "cli.session.reminder_queued", moment=when, count=planned.reminded))
        elif not args.no_reminder:
            ctx.print("No reminder: the day before has passed already.")
    return 0


async def run_list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        sessions, materialiser = _use_cases(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        listed = await sessions.listing(org, past_too=args.all)
    if not listed:
        ctx.print(f"No coming sessions in {org.slug}.")
    zone = ZoneInfo(org.timezone)
    t = ctx.content().translator
    for session, count in listed:
        state = " (cancelled)" if session.cancelled else ""
        start, end = session.starts_at.astimezone(zone), session.ends_at.astimezone(zone)
        ctx.print(
            f"{session.id}  {start:%a %Y-%m-%d %H:%M}–{end:%H:%M}  {session.title}{state}: "
            + t.t(CLI_LOCALE, "sessions.count", count=count)
        )
    return 0


async def run_cancel(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.usecases.team_sessions import SessionRefusedError

    try:
        session_id = uuid.UUID(args.session)
    except ValueError:
        raise ConfigError("session", f"'{args.session}' is not a session id") from None
    async with ctx.database() as engine:
        sessions, materialiser = _use_cases(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        try:
            session = await sessions.cancel(org, session_id)
        except SessionRefusedError as exc:
            raise _refused(exc) from None
    ctx.print(f"Cancelled '{session.title}'. Posts about it that are still queued will not be sent.")
    return 0
