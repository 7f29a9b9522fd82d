"""`vipbot session …`: team sessions — plan (announce now, remind the day before), list with counts, cancel."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from bot.cli.context import CLI_LOCALE, CliContext
from bot.cli.schedule import ScheduleError, add_audience_arguments, audience_from, materialiser_for
from bot.domain.outreach import AudienceError, What
from bot.domain.sessions import SessionError, TeamSession, reminder_moment
from bot.errors import ConfigError
from bot.storage.db import session_factory
from bot.storage.sessions import SqlSessionStore
from scheduler.service import master_key


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


async def run_add(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.content()  # content problems stop the command before the database is touched
    settings = ctx.settings()
    audience = audience_from(args)
    async with ctx.database() as engine:
        materialiser = materialiser_for(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        starts = _moment(args.start, org.timezone)
        ends = _moment(args.end, org.timezone, day=starts)
        now = datetime.now(UTC)
        if starts <= now:
            raise ConfigError("--start", "the session must start in the future")
        session = TeamSession(
            id=uuid.uuid4(),
            organisation_id=org.id,
            title=args.title,
            description=args.description,
            starts_at=starts,
            ends_at=ends,
            place=args.place,
            online_url=args.online,
            audience=audience,
            locale=args.locale,
        )
        try:
            session.check()
        except SessionError as exc:
            raise ConfigError("session", str(exc)) from None
        try:
            targets = await materialiser.addressees(org, audience)
        except AudienceError as exc:
            raise ScheduleError(str(exc)) from None
        if not targets:
            raise ScheduleError(f"the session's audience ({audience.describe()}) has no channel or member")
        store = SqlSessionStore(session_factory(engine), master_key(settings))
        await store.add(session)
        announced = await materialiser.publish_now(org, What.SESSION, str(session.id), audience, args.locale)
        t = ctx.content().translator
        ctx.print(
            t.t(
                CLI_LOCALE,
                "cli.session.announcing",
                title=session.title,
                id=session.id,
                count=announced.deliveries,
            )
        )
        if not args.no_reminder:
            calendar = await materialiser.schedules.calendar(org.id)
            moment = reminder_moment(session, org.timezone)
            allowed = calendar.next_allowed(moment.astimezone(ZoneInfo(org.timezone)))
            if allowed is not None and now < allowed.astimezone(UTC) < starts:
                reminder = await materialiser.publish_now(
                    org,
                    What.SESSION_REMINDER,
                    str(session.id),
                    audience,
                    args.locale,
                    send_at=allowed.astimezone(UTC),
                )
                when = f"{allowed:%a %Y-%m-%d %H:%M %Z}"
                ctx.print(
                    t.t(CLI_LOCALE, "cli.session.reminder_queued", moment=when, count=reminder.deliveries)
                )
            else:
                ctx.print("No reminder: the day before has passed already.")
    return 0


async def run_list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        materialiser = materialiser_for(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        store = SqlSessionStore(session_factory(engine), master_key(ctx.settings()))
        listed = await store.list_sessions(org.id, after=None if args.all else datetime.now(UTC))
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
    try:
        session_id = uuid.UUID(args.session)
    except ValueError:
        raise ConfigError("session", f"'{args.session}' is not a session id") from None
    async with ctx.database() as engine:
        materialiser = materialiser_for(ctx, engine)
        org = await materialiser.organisations.get_organisation(args.org)
        store = SqlSessionStore(session_factory(engine), master_key(ctx.settings()))
        session = await store.cancel(org.id, session_id)
    ctx.print(f"Cancelled '{session.title}'. Posts about it that are still queued will not be sent.")
    return 0
