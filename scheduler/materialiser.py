"""Turning due occurrences into outbox rows.

Any replica may run this at any time: an occurrence is UNIQUE(schedule, occurrence time) and a delivery
UNIQUE(occurrence, target), so a second run inserts nothing. An occurrence missed while the service was down is
materialised once if it is still within the schedule's grace window, and skipped with a log line after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from bot.catalog import ContentLibrary
from bot.domain.clock import Clock
from bot.domain.outreach import (
    Addressee,
    Audience,
    AudienceError,
    Member,
    Occurrence,
    Schedule,
    What,
    resolve_audience,
    rotation_pick,
)
from bot.domain.recurrence import OutreachCalendar
from bot.domain.tenancy import Organisation
from bot.logs import get_logger, log_failure
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.outbox import SqlOutbox
from bot.storage.schedules import SqlMemberDirectory, SqlScheduleRepository, schedule_from_row
from scheduler.triggers import Fate, Planned, ScheduleTrigger, plan, spread_deferred

log = get_logger(__name__)

#: How far back deferred occurrences are looked for (a long holiday run; next_allowed looks 60 days ahead).
DEFER_LOOKBACK = timedelta(days=62)

# More people to DM, from elsewhere (the Teams adapter's personal conversation references).
MemberSource = Callable[[UUID], Awaitable[list[Member]]]


class NothingToPostError(ValueError):
    """The library of a rotation is empty, or a fixed item does not exist."""


@dataclass(frozen=True, slots=True)
class Materialised:
    occurrence: Occurrence
    created: bool
    deliveries: int


def trigger_of(schedule: Schedule) -> ScheduleTrigger:
    return ScheduleTrigger(schedule.recurrence, schedule.timezone, schedule.anchor)


class Materialiser:
    def __init__(
        self,
        schedules: SqlScheduleRepository,
        outbox: SqlOutbox,
        organisations: SqlOrganisationRepository,
        members: SqlMemberDirectory,
        content: ContentLibrary,
        clock: Clock,
        member_sources: Sequence[MemberSource] = (),
        pace: float = 0.0,
    ) -> None:
        self.member_sources = list(member_sources)
        self.pace = (
            pace  # sends a second per workspace: deliveries fall due at that pace (SqlOutbox.add_deliveries)
        )
        self.schedules = schedules
        self.outbox = outbox
        self.organisations = organisations
        self.members = members
        self.content = content
        self.clock = clock

    async def addressees(self, organisation: Organisation, audience: Audience) -> list[Addressee]:
        tree = await self.organisations.group_tree(organisation.id)
        bindings = await self.organisations.bindings(organisation.id)
        members: list[Member] = []
        if audience.members:
            members = await self.members.members(organisation.id)
            for source in self.member_sources:
                members.extend(await source(organisation.id))
        return resolve_audience(audience, tree, bindings, members)

    def library(self, what: What) -> list[str]:
        catalog = self.content.catalog
        if what is What.COLUMN:
            return [c.id for c in catalog.columns]
        if what is What.REMINDER:
            return [r.id for r in catalog.reminders]
        return []

    async def choose_item(self, schedule: Schedule) -> str | None:
        if schedule.item_id is not None or not schedule.what.rotates:
            return schedule.item_id
        used = await self.outbox.item_use(schedule.organisation_id, schedule.id)
        picked = rotation_pick(schedule.id, self.library(schedule.what), used)
        if picked is None:
            raise NothingToPostError(f"the content library has no {schedule.what.value}s")
        return picked

    async def run_schedule(
        self, schedule: Schedule, calendar: OutreachCalendar | None = None
    ) -> list[Planned]:
        """Materialise every occurrence of the schedule that is due now; returns what was considered."""
        now = self.clock.now()
        after = schedule.cursor_at or schedule.created_at
        if after >= now:
            return []
        calendar = calendar or await self.schedules.calendar(schedule.organisation_id)
        grace = timedelta(minutes=schedule.grace_minutes)
        planned = plan(
            trigger_of(schedule), calendar, schedule.when_blocked, after, now, now=now, grace=grace
        )
        organisation = await self.organisations.get_organisation(str(schedule.organisation_id))
        for item in planned:
            local = item.local(schedule.timezone).isoformat()
            if item.fate == Fate.SKIPPED_BLOCKED:
                log.info(
                    "outreach occurrence skipped",
                    schedule=schedule.name,
                    occurs_at=local,
                    reason=item.reason,
                )
                continue
            if item.fate == Fate.MISSED:
                log.warning(
                    "outreach occurrence missed beyond the grace window; skipped",
                    schedule=schedule.name,
                    occurs_at=local,
                    grace_minutes=schedule.grace_minutes,
                )
                continue
            assert item.send_at is not None  # noqa: S101  (Fate.SEND always has a send time)
            send_at = item.send_at
            if send_at != item.occurs_at:  # deferred: its place among the others deferred to that morning
                send_at = await self.deferred_send_at(schedule, organisation, calendar, item)
            await self._materialise(schedule, organisation, item.occurs_at, send_at)
        # Only move past what was looked at: a cap on the plan leaves the rest for the next run.
        cursor = planned[-1].occurs_at if len(planned) >= 1000 else now
        await self.schedules.advance_cursor(schedule.organisation_id, schedule.id, cursor)
        return planned

    async def deferred_send_at(
        self, schedule: Schedule, organisation: Organisation, calendar: OutreachCalendar, item: Planned
    ) -> datetime:
        """When a deferred occurrence goes out: spread with every other post of the organisation deferred to the
        same moment (`spread_deferred`), so that a weekend's posts do not all land at Monday's first minute."""
        assert item.send_at is not None  # noqa: S101  (only deferred occurrences that send come here)
        base = item.send_at
        planned: list[tuple[UUID, Planned]] = []
        for other in await self.schedules.list_schedules(organisation):
            if not other.enabled and other.id != schedule.id:
                continue
            since = max(base - DEFER_LOOKBACK, other.created_at)
            planned.extend(
                (other.id, p)
                for p in plan(trigger_of(other), calendar, other.when_blocked, since, base)
                if p.send_at == base
            )
        if not any(key == schedule.id and p.occurs_at == item.occurs_at for key, p in planned):
            planned.append((schedule.id, item))
        return spread_deferred(planned).get((schedule.id, item.occurs_at), base)

    async def _materialise(
        self, schedule: Schedule, organisation: Organisation, occurs_at: datetime, send_at: datetime
    ) -> Materialised:
        existing = await self.outbox.find_occurrence(schedule.organisation_id, schedule.id, occurs_at)
        item = existing.item_id if existing is not None else await self.choose_item(schedule)
        occurrence, created = await self.outbox.add_occurrence(
            organisation_id=schedule.organisation_id,
            schedule_id=schedule.id,
            occurs_at=occurs_at,
            send_at=send_at,
            what=schedule.what,
            item_id=item,
            locale=schedule.locale,
        )
        try:
            addressees = await self.addressees(organisation, schedule.audience)
        except AudienceError as exc:
            log.error("outreach audience cannot be resolved", schedule=schedule.name, problem=str(exc))
            addressees = []
        count = await self.outbox.add_deliveries(occurrence, addressees, self.pace)
        log.info(
            "outreach occurrence materialised",
            schedule=schedule.name,
            occurs_at=occurs_at.isoformat(),
            item=occurrence.item_id,
            deliveries=count,
            first=created,
        )
        return Materialised(occurrence, created, count)

    async def run_all(self) -> int:
        """One pass over every enabled schedule (at start-up, and as a safety net next to the triggers)."""
        done = 0
        for row, _tz, _locale in await self.schedules.all_enabled():
            organisation = await self.organisations.get_organisation(str(row.organisation_id))
            try:
                await self.run_schedule(schedule_from_row(row, organisation))
            except Exception:
                log_failure(log, "outreach schedule could not be materialised", schedule=row.name)
                continue
            done += 1
        return done

    async def run_by_id(self, schedule_id: UUID) -> None:
        for row, _tz, _locale in await self.schedules.all_enabled():
            if row.id == schedule_id:
                organisation = await self.organisations.get_organisation(str(row.organisation_id))
                await self.run_schedule(schedule_from_row(row, organisation))

    async def publish_now(
        self,
        organisation: Organisation,
        what: What,
        item_id: str | None,
        audience: Audience,
        locale: str | None,
        send_at: datetime | None = None,
    ) -> Materialised:
        """Post one item through the same outbox: a one-off occurrence without a schedule."""
        if what.rotates and item_id is None:
            raise NothingToPostError(f"say which {what.value} to publish")
        if what is What.COLUMN and self.content.catalog.column(item_id or "") is None:
            raise NothingToPostError(f"there is no column '{item_id}' in the content library")
        if what is What.REMINDER and self.content.catalog.reminder(item_id or "") is None:
            raise NothingToPostError(f"there is no reminder '{item_id}' in the content library")
        addressees = await self.addressees(organisation, audience)
        if not addressees:
            raise AudienceError(f"the audience ({audience.describe()}) has no channel or member to post to")
        moment = send_at or self.clock.now()
        occurrence, created = await self.outbox.add_occurrence(
            organisation_id=organisation.id,
            schedule_id=None,
            occurs_at=moment,
            send_at=moment,
            what=what,
            item_id=item_id,
            locale=locale or organisation.locale,
        )
        count = await self.outbox.add_deliveries(occurrence, addressees, self.pace)
        return Materialised(occurrence, created, count)


def anchor_today(now: datetime, zone: str) -> date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(zone)).date()
