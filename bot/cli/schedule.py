"""`vipbot schedule …`: outreach schedules per organisation, their calendar, the member directory and the outbox.

A schedule is stored in the database; a running `vipbot serve` picks it up within VIPBOT_OUTREACH_SYNC seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TextIO
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from bot.cli.context import CliContext
from bot.domain.delivery import Post, Target, TargetKind, portal_link
from bot.domain.outreach import (
    Audience,
    AudienceError,
    Occurrence,
    What,
    parse_channel,
    rotation_pick,
)
from bot.domain.pulses import REMINDER_PREFIX, PulsePost, PulseReminderPost
from bot.domain.recurrence import (
    OutreachCalendar,
    RecurrenceError,
    WhenBlocked,
    parse_clock,
)
from bot.domain.tenancy import Organisation, Platform
from bot.errors import ConfigError, VipbotError
from bot.usecases.schedules import (
    NewSchedule,
    ScheduleChanges,
    ScheduleProblem,
    ScheduleRefusedError,
    add_schedule,
    edit_schedule,
    remove_schedule,
)
from scheduler.triggers import Fate, Planned, ScheduleTrigger, first_sendable, plan

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.catalog import ContentLibrary
    from bot.storage.schedules import SqlScheduleRepository
    from scheduler.materialiser import Materialiser
    from scheduler.posts import OutreachPosts

# Storage and the outreach pipeline are imported when a command runs (here and in the handlers):
# `vipbot --help` and a bad setting need none of it.

WHAT_CHOICES = [What.COLUMN.value, What.REMINDER.value, What.PULSE.value, What.DIGEST.value]


class ScheduleError(VipbotError):
    """A schedule that cannot work as asked (never fires, targets nothing, names unknown content)."""


#: The option to name when the shared schedule check refuses the rule.
_OPTION_OF = {
    ScheduleProblem.RECURRENCE: "--every",
    ScheduleProblem.TIMEZONE: "--timezone",
    ScheduleProblem.GRACE: "--grace",
    ScheduleProblem.NEVER_FIRES: "--every",
    ScheduleProblem.ALWAYS_BLOCKED: "--every",
    ScheduleProblem.NAME_MISSING: "--rename",
    ScheduleProblem.NAME_TAKEN: "--rename",
}
#: The same for `add`, where only the rule's options are wrong input; a rule that never posts is refused as such.
_ADD_OPTION_OF = {
    ScheduleProblem.RECURRENCE: "--every",
    ScheduleProblem.TIMEZONE: "--timezone",
    ScheduleProblem.GRACE: "--grace",
}


# --- arguments shared with `vipbot send` and `vipbot session` ------------------------------------------------


def add_audience_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="WHO",
        help="group:HANDLE (the group's bound channels), channel:PLATFORM:WORKSPACE:CHANNEL, or members "
        "(every member's DM); repeat for more",
    )
    parser.add_argument(
        "--platform",
        action="append",
        choices=[p.value for p in Platform],
        help="only this platform (repeatable)",
    )


def audience_from(args: argparse.Namespace) -> Audience:
    groups: list[str] = []
    channels: list[str] = []
    members = False
    for item in args.to:
        kind, _, rest = item.partition(":")
        if kind == "group" and rest:
            groups.append(rest)
        elif kind == "channel" and rest:
            try:
                parse_channel(rest)
            except AudienceError as exc:
                raise ConfigError("--to", str(exc)) from None
            channels.append(rest)
        elif item == "members":
            members = True
        else:
            raise ConfigError(
                "--to", f"'{item}' is not group:HANDLE, channel:PLATFORM:WORKSPACE:CHANNEL or members"
            )
    platforms = (
        tuple(Platform(p) for p in args.platform) if args.platform else (Platform.SLACK, Platform.TEAMS)
    )
    return Audience(tuple(groups), tuple(channels), members, platforms)


def check_item(content: ContentLibrary, what: What, item: str | None) -> None:
    catalog = content.catalog
    if item is None:
        if what is What.PULSE:
            raise ConfigError("--item", "say which pulse set to run (see content/pulses)")
        return
    known = {
        What.COLUMN: [c.id for c in catalog.columns],
        What.REMINDER: [r.id for r in catalog.reminders],
        What.PULSE: [p.id for p in catalog.pulse_sets],
    }.get(what, [])
    if item not in known:
        raise ConfigError("--item", f"there is no {what.value} '{item}'; known: {', '.join(known) or 'none'}")


def materialiser_for(ctx: CliContext, engine: AsyncEngine) -> Materialiser:
    """The materialiser `vipbot serve` has (the same member sources: Teams people included)."""
    from scheduler.service import outreach_of

    return outreach_of(ctx.services(engine)).materialiser


class Progress:
    """One line that updates in place on a terminal, and a line per step elsewhere."""

    def __init__(self, out: TextIO, total: int, label: str) -> None:
        self._out = out
        self._total = total
        self._label = label
        self._tty = out.isatty()
        self._last = ""

    def show(self, done: int, extra: str = "") -> None:
        width = 30
        filled = int(width * done / self._total) if self._total else width
        line = f"{self._label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self._total}{extra}"
        if line == self._last:
            return
        self._last = line
        if self._tty:
            self._out.write("\r" + line)
        else:
            self._out.write(line + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._tty:
            self._out.write("\n")
            self._out.flush()


# --- the command ---------------------------------------------------------------------------------------------


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "schedule",
        help="outreach schedules: columns, reminders and pulses on a recurrence",
        description="Outreach schedules per organisation. Times are in the organisation's time zone.",
    )
    sub = parser.add_subparsers(dest="schedule_command", required=True, metavar="COMMAND")

    add = sub.add_parser(
        "add",
        help="add a schedule",
        description="Add a schedule. Recurrences: 'daily at 09:30', 'weekdays at 09:30', 'every monday, thursday "
        "at 12:00', 'every other tuesday at 09:30', 'every 3 weeks on friday at 16:00', 'monthly on day 1 at "
        "09:00', 'first monday of the month at 09:30', or 'cron 30 9 * * tue'.",
    )
    add.add_argument("org", help="organisation handle")
    add.add_argument("name", help="a name for the schedule, e.g. 'columns-all'")
    add.add_argument("--what", choices=WHAT_CHOICES, required=True, help="what to post")
    add.add_argument(
        "--item", help="a fixed column/reminder id, or the pulse set (default: the next in rotation)"
    )
    add.add_argument(
        "--every", required=True, metavar="RECURRENCE", help="when, e.g. 'every other tuesday at 09:30'"
    )
    add_audience_arguments(add)
    add.add_argument("--timezone", help="IANA time zone (default: the organisation's)")
    add.add_argument(
        "--locale", choices=["nl", "en"], help="language of the posts (default: the organisation's)"
    )
    add.add_argument(
        "--when-blocked",
        choices=[w.value for w in WhenBlocked],
        default=WhenBlocked.SKIP.value,
        help="an occurrence in quiet hours, a weekend or a holiday: skip it (default) or defer it",
    )
    add.add_argument(
        "--grace",
        type=int,
        default=120,
        metavar="MINUTES",
        help="send missed occurrences this late (default 120)",
    )
    add.add_argument(
        "--anchor", type=date.fromisoformat, help="date 'every other week' counts from (default today)"
    )
    add.set_defaults(handler=run_add)

    _register_edit(sub)

    lst = sub.add_parser("list", help="list schedules", description="List an organisation's schedules.")
    lst.add_argument("org", help="organisation handle")
    lst.set_defaults(handler=run_list)

    remove = sub.add_parser("remove", help="remove a schedule", description="Remove a schedule.")
    remove.add_argument("org", help="organisation handle")
    remove.add_argument("name", help="the schedule's name")
    remove.set_defaults(handler=run_remove)

    preview = sub.add_parser(
        "preview",
        help="show the next occurrences and exactly what would be posted",
        description="Show the next occurrences (skipped and deferred ones too), who they reach, and the message "
        "each platform would get.",
    )
    preview.add_argument("org", help="organisation handle")
    preview.add_argument("name", help="the schedule's name")
    preview.add_argument("--count", type=int, default=5, help="how many occurrences (default 5)")
    preview.add_argument(
        "--platform", choices=[p.value for p in Platform], help="only this platform's message"
    )
    preview.add_argument("--no-payload", action="store_true", help="list occurrences only")
    preview.set_defaults(handler=run_preview)

    calendar = sub.add_parser(
        "calendar",
        help="show or set quiet hours, weekends and holidays",
        description="The organisation's calendar: nothing is posted in quiet hours, on weekends (unless allowed) "
        "or on holidays.",
    )
    calendar.add_argument("org", help="organisation handle")
    calendar.add_argument(
        "--quiet", metavar="HH:MM-HH:MM", help="quiet hours, e.g. 20:00-07:00 (00:00-00:00: none)"
    )
    calendar.add_argument(
        "--weekends", choices=["skip", "allow"], help="post on Saturdays and Sundays or not"
    )
    calendar.add_argument(
        "--holiday", action="append", type=date.fromisoformat, default=[], help="add a date"
    )
    calendar.add_argument("--clear-holidays", action="store_true", help="forget every holiday first")
    calendar.add_argument(
        "--country", metavar="CODE", help="whose public holidays apply, e.g. NL or BE ('none': only own days)"
    )
    calendar.set_defaults(handler=run_calendar)

    members = sub.add_parser(
        "members",
        help="people who may get DMs",
        description="The member directory behind 'members' audiences. The Slack and Teams adapters add people "
        "they meet; this adds or counts them by hand (one Slack user id or Teams conversation key a line).",
    )
    members.add_argument("org", help="organisation handle")
    members.add_argument("--platform", choices=[p.value for p in Platform])
    members.add_argument("--workspace", help="Slack team id or Teams tenant id")
    members.add_argument(
        "--add", type=argparse.FileType("r"), metavar="FILE", help="file with one id a line (- = stdin)"
    )
    members.set_defaults(handler=run_members)

    status = sub.add_parser(
        "status",
        help="the outbox: pending, sent and failed deliveries",
        description="Counts of the outbox and every recorded failure reason (permanent failures are not retried).",
    )
    status.add_argument("org", help="organisation handle")
    status.set_defaults(handler=run_status)


def _register_edit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    edit = sub.add_parser(
        "edit",
        help="change a schedule in place",
        description="Change a schedule in place: its history and rotation stay with it. Options left out keep "
        "their value. A changed rule counts 'every other week' from today and sends nothing that fell due "
        "before the change. The same checks as `add` and the console.",
    )
    edit.add_argument("org", help="organisation handle")
    edit.add_argument("name", help="the schedule's name")
    edit.add_argument("--rename", metavar="NAME", help="a new name")
    edit.add_argument("--every", metavar="RECURRENCE", help="a new rule, e.g. 'om de dinsdag 9 uur'")
    edit.add_argument("--item", help="a fixed column/reminder id or the pulse set")
    edit.add_argument("--rotate", action="store_true", help="back to the rotation (no fixed item)")
    edit.add_argument(
        "--to",
        action="append",
        metavar="WHO",
        help="a new audience: group:HANDLE, channel:PLATFORM:WORKSPACE:CHANNEL or members; repeat for more",
    )
    edit.add_argument(
        "--platform", action="append", choices=[p.value for p in Platform], help="only this platform"
    )
    edit.add_argument("--when-blocked", choices=[w.value for w in WhenBlocked])
    edit.add_argument("--timezone", help="IANA time zone")
    edit.add_argument("--grace", type=int, metavar="MINUTES", help="send missed occurrences this late")
    edit.set_defaults(handler=run_edit)


async def _org(engine: AsyncEngine, handle: str) -> Organisation:
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository

    return await SqlOrganisationRepository(session_factory(engine)).get_organisation(handle)


def _schedules(engine: AsyncEngine) -> SqlScheduleRepository:
    from bot.storage.db import session_factory
    from bot.storage.schedules import SqlScheduleRepository

    return SqlScheduleRepository(session_factory(engine))


async def run_add(args: argparse.Namespace, ctx: CliContext) -> int:
    content = ctx.content()
    what = What(args.what)
    check_item(content, what, args.item)
    audience = audience_from(args)
    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        materialiser = materialiser_for(ctx, engine)
        if what.rotates and args.item is None and not materialiser.library(what):
            raise ScheduleError(f"the content library has no {what.value}s to rotate")
        try:
            targets = await materialiser.addressees(org, audience)
        except AudienceError as exc:
            raise ScheduleError(f"the schedule targets nothing: {exc}") from None
        if not targets:
            raise ScheduleError(
                f"the schedule targets nothing: {audience.describe()} reaches no channel and no person"
                + (" (add members with `vipbot schedule members`)" if audience.members else "")
            )
        new = NewSchedule(
            name=args.name,
            what=what,
            item_id=args.item,
            audience=audience,
            recurrence=args.every,
            when_blocked=WhenBlocked(args.when_blocked),
            grace_minutes=args.grace,
            timezone=args.timezone,
            locale=args.locale,
            anchor=args.anchor,
        )
        try:  # the same use case as the console's schedule form and digest page
            schedule, first = await add_schedule(materialiser.schedules, org, new, ctx.clock.now())
        except ScheduleRefusedError as exc:
            raise _refused(exc, _ADD_OPTION_OF) from None
    assert first.send_at is not None  # noqa: S101  (first_sendable only returns occurrences that send)
    ctx.say(
        "cli.schedule.added",
        name=schedule.name,
        org=org.slug,
        what=f"{schedule.what.value} {args.every} ({schedule.timezone})",
        audience=audience.describe(),
        count=len(targets),
    )
    ctx.print(f"First post: {_local(first.send_at, schedule.timezone)}.")
    return 0


def _refused(exc: ScheduleRefusedError, options: dict[ScheduleProblem, str]) -> VipbotError:
    """A refusal of the shared schedule checks: a wrong option names it (exit 2); anything else is the
    refusal itself (exit 1), its code kept."""
    option = options.get(exc.problem)
    return exc if option is None else ConfigError(option, str(exc))


async def run_edit(args: argparse.Namespace, ctx: CliContext) -> int:
    content = ctx.content()
    audience = audience_from(args) if args.to else None
    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        materialiser = materialiser_for(ctx, engine)
        if args.item is not None:
            current = await materialiser.schedules.get(org, args.name)
            check_item(content, current.what, args.item)
        if audience is not None:
            try:
                targets = await materialiser.addressees(org, audience)
            except AudienceError as exc:
                raise ScheduleError(f"the schedule targets nothing: {exc}") from None
            if not targets:
                raise ScheduleError(f"the schedule targets nothing: {audience.describe()}")
        changes = ScheduleChanges(
            name=args.rename,
            item_id=args.item,
            clear_item=args.rotate,
            audience=audience,
            recurrence=args.every,
            when_blocked=WhenBlocked(args.when_blocked) if args.when_blocked else None,
            timezone=args.timezone,
            grace_minutes=args.grace,
        )
        try:  # the same use case as the console's schedule page
            schedule, first = await edit_schedule(
                materialiser.schedules, org, args.name, changes, datetime.now(UTC)
            )
        except ScheduleRefusedError as exc:
            raise _refused(exc, _OPTION_OF) from None
    assert first.send_at is not None  # noqa: S101  (first_post only returns occurrences that send)
    ctx.print(
        f"Changed schedule '{schedule.name}' in {org.slug}: {schedule.what.value} {schedule.recurrence.text} "
        f"({schedule.timezone}) to {schedule.audience.describe()}."
    )
    ctx.print(f"First post: {_local(first.send_at, schedule.timezone)}.")
    return 0


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


async def run_list(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        repo = _schedules(engine)
        schedules = await repo.list_schedules(org)
        calendar = await repo.calendar(org.id)
    if not schedules:
        ctx.print(
            f"No schedules in {org.slug}. Add one with: vipbot schedule add {org.slug} NAME --what column ..."
        )
    now = datetime.now(UTC)
    for s in schedules:
        trigger = ScheduleTrigger(s.recurrence, s.timezone, s.anchor)
        first = first_sendable(trigger, calendar, s.when_blocked, now)
        nxt = _local(first.send_at, s.timezone) if first and first.send_at else "never"
        item = f" {s.item_id}" if s.item_id else ""
        ctx.print(
            f"{s.name:<20} {s.what.value}{item}, {s.recurrence.text} → {s.audience.describe()}; next: {nxt}"
        )
    return 0


async def run_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        # the same use case as the console's cancel button
        await remove_schedule(_schedules(engine), org, args.name)
    ctx.print(f"Removed schedule '{args.name}' from {org.slug}. Posts already queued are still sent.")
    return 0


#: A pulse round is opened when the pulse is sent, so the preview shows its card under a placeholder id.
PREVIEW_ROUND = UUID(int=0)


async def _preview_post(
    posts: OutreachPosts,
    content: ContentLibrary,
    organisation: Organisation,
    what: What,
    item: str | None,
    send_at: datetime,
    locale: str,
    portal: str,
) -> Post | None:
    """The Post an occurrence would send, built the way the service builds it (without opening a pulse round)."""
    if what is What.PULSE:
        set_id = (item or "").removeprefix(REMINDER_PREFIX)
        pulse_set = content.catalog.pulse_set(set_id)
        if pulse_set is None:
            return None
        closes_at = send_at + timedelta(days=pulse_set.window_days)
        kind = PulseReminderPost if (item or "").startswith(REMINDER_PREFIX) else PulsePost
        return kind(PREVIEW_ROUND, pulse_set, closes_at, portal)
    occurrence = Occurrence(uuid4(), organisation.id, None, send_at, send_at, what, item, locale)
    return await posts.build(occurrence)


async def run_preview(args: argparse.Namespace, ctx: CliContext) -> int:  # noqa: PLR0915
    content = ctx.content()
    settings = ctx.settings()
    if not 1 <= args.count <= 100:
        raise ConfigError("--count", "must be between 1 and 100")
    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        materialiser = materialiser_for(ctx, engine)
        schedule = await materialiser.schedules.get(org, args.name)
        calendar = await materialiser.schedules.calendar(org.id)
        try:
            targets = await materialiser.addressees(org, schedule.audience)
        except AudienceError as exc:
            raise ScheduleError(str(exc)) from None
        used = await materialiser.outbox.item_use(org.id, schedule.id)
        services = ctx.services(engine)
        from scheduler.service import outreach_of

        posts = outreach_of(services).posts  # the service's own, with every feature's post factory
        trigger = ScheduleTrigger(schedule.recurrence, schedule.timezone, schedule.anchor)
        now = datetime.now(UTC)
        found: list[Planned] = []
        cursor = now
        while len(found) < args.count:
            batch = plan(
                trigger,
                calendar,
                schedule.when_blocked,
                cursor,
                now + timedelta(days=2 * 366),
                limit=args.count,
            )
            if not batch:
                break
            found.extend(batch)
            cursor = batch[-1].occurs_at
        found = found[: args.count]
        platforms = {t.target.platform for t in targets}
        ctx.say(
            "cli.schedule.shown",
            name=schedule.name,
            org=org.slug,
            what=f"{schedule.what.value}, {schedule.recurrence.text} ({schedule.timezone}, {schedule.locale})",
            audience=schedule.audience.describe(),
            count=len(targets),
            platforms=", ".join(sorted(p.value for p in platforms)) or "-",
        )
        if not found:
            ctx.print("It never fires.")
            return 0
        portal = portal_link(settings.public_portal_url, org.slug)
        renderers = {platform: registry.renderers for platform, registry in services.platforms.items()}
        counts = dict(used)
        for planned in found:
            when = _local(planned.occurs_at, schedule.timezone)
            if planned.fate != Fate.SEND or planned.send_at is None:
                ctx.print(f"\n{when}: skipped ({planned.reason})")
                continue
            moved = (
                f", deferred to {_local(planned.send_at, schedule.timezone)} ({planned.reason})"
                if planned.reason
                else ""
            )
            item = schedule.item_id
            if item is None and schedule.what.rotates:
                item = rotation_pick(schedule.id, materialiser.library(schedule.what), counts)
                if item is not None:
                    counts[item] = counts.get(item, 0) + 1
            ctx.print(f"\n{when}{moved}: {schedule.what.value} {item or ''}".rstrip())
            if args.no_payload:
                continue
            post = await _preview_post(
                posts, content, org, schedule.what, item, planned.send_at, schedule.locale, portal
            )
            if post is None:
                ctx.print("  (nothing would be sent: the item is unknown, cancelled or has no open round)")
                continue
            for platform in sorted(platforms if not args.platform else {Platform(args.platform)}, key=str):
                rendered = renderers[platform].render(post, schedule.locale)
                ctx.print(f"  {platform.value}: {rendered.fallback_text}")
                ctx.print(_indent(json.dumps(rendered.payload, ensure_ascii=False, indent=2), "    "))
        return 0


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


async def run_calendar(args: argparse.Namespace, ctx: CliContext) -> int:
    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        repo = _schedules(engine)
        current = await repo.calendar(org.id)
        changed = (
            args.quiet or args.weekends or args.holiday or args.clear_holidays or args.country is not None
        )
        if changed:
            quiet_start, quiet_end = current.quiet_start, current.quiet_end
            if args.quiet:
                start, _, end = args.quiet.partition("-")
                try:
                    quiet_start, quiet_end = parse_clock(start), parse_clock(end)
                except RecurrenceError as exc:
                    raise ConfigError("--quiet", str(exc)) from None
            holidays = frozenset() if args.clear_holidays else current.holidays
            current = OutreachCalendar(
                quiet_start=quiet_start,
                quiet_end=quiet_end,
                skip_weekends=current.skip_weekends if args.weekends is None else args.weekends == "skip",
                holidays=holidays | frozenset(args.holiday),
                country=current.country if args.country is None else _country(args.country),
            )
            await repo.set_calendar(org.id, current)
            current = await repo.calendar(org.id)
    quiet = (
        "none"
        if current.quiet_start == current.quiet_end
        else f"{current.quiet_start:%H:%M}-{current.quiet_end:%H:%M}"
    )
    weekends = "skipped" if current.skip_weekends else "allowed"
    ctx.print(f"{org.slug} ({org.timezone}): quiet hours {quiet}; weekends {weekends}")
    ctx.print("holidays: " + (", ".join(d.isoformat() for d in sorted(current.holidays)) or "none"))
    ctx.print(
        f"public holidays: {current.country} (from the holidays package)"
        if current.country
        else "public holidays: none (no country)"
    )
    return 0


def _country(code: str) -> str:
    from bot.storage.planning import supported_countries

    code = code.strip().upper()
    if code in {"", "NONE"}:
        return ""
    if code not in supported_countries():
        raise ConfigError(
            "--country", f"'{code}' is not a country the holidays package knows (ISO code, e.g. NL)"
        )
    return code


async def run_members(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.db import session_factory
    from bot.storage.outbox import SqlOutbox
    from bot.storage.schedules import SqlMemberDirectory

    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        if args.add is not None:
            if not args.platform or not args.workspace:
                raise ConfigError("--add", "needs --platform and --workspace")
            ids = [line.strip() for line in _lines(args.add) if line.strip() and not line.startswith("#")]
            kind = TargetKind.PERSON
            targets = [Target(Platform(args.platform), args.workspace, kind, i) for i in ids]
            added = await SqlOutbox(engine).register_members(org.id, targets)
            ctx.say("cli.schedule.members_added", count=added, known=len(ids) - added)
        count = await SqlMemberDirectory(session_factory(engine)).count(org.id)
    ctx.say("cli.schedule.members", org=org.slug, count=count)
    return 0


def _lines(handle: Iterable[str]) -> list[str]:
    lines = list(handle)
    if handle is not sys.stdin and hasattr(handle, "close"):
        handle.close()
    return lines


async def run_status(args: argparse.Namespace, ctx: CliContext) -> int:
    from bot.storage.outbox import SqlOutbox

    async with ctx.database() as engine:
        org = await _org(engine, args.org)
        stats = await SqlOutbox(engine).stats(org.id)
    ctx.print(
        f"{org.slug}: {stats.pending} pending, {stats.claimed} sending, {stats.sent} sent, {stats.failed} failed"
    )
    for reason, count in stats.failures:
        ctx.print(f"  failed ×{count}: {reason}")
    return 0
