"""The periodic report (half-yearly or yearly, per organisation): figures, and the same as a PDF with charts.

Conversations are counted at organisation level only (never by group), only for periods that have ended and
only once the counsellor has classified them (DESIGN §5.7): a figure that moves while a period runs would show a
management viewer that somebody has just started a conversation. A count below 5 is shown as "fewer than
5", and when exactly one value of a dimension would be hidden, the next smallest is hidden too, so the hidden one
cannot be found by subtracting from the total. Pulse trends come through the one anonymity path
(`bot.domain.insights.load_insights`), organisation level only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal
from sqlmodel import col, func, or_, select

from bot.domain.content import TaxonomyItem
from bot.domain.insights import load_insights
from bot.domain.pulses import REMINDER_PREFIX
from bot.domain.tenancy import Organisation
from bot.storage.console_content import ReportNote, SqlConsoleContent
from bot.storage.conversations import ClassificationCount, SqlConversationStore
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.storage.tables import CounsellorRow, OrganisationCounsellorRow
from bot.storage.tables_outreach import (
    OutreachDeliveryRow,
    OutreachOccurrenceRow,
    TeamSessionRow,
    TeamSessionSignupRow,
)
from bot.wiring import Services

MIN_SHOWN = 5
_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-(?P<half>H[12]))?$")
T = Callable[..., str]


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    start: date  # inclusive
    end: date  # exclusive

    @classmethod
    def parse(cls, text: str | None, today: date) -> Period:
        match = _PERIOD.match(text or "")
        if match is None:
            half = "H1" if today.month <= 6 else "H2"
            return cls.parse(f"{today.year}-{half}", today)
        year = int(match.group("year"))
        half = match.group("half")
        if half == "H1":
            return cls(f"{year}-H1", date(year, 1, 1), date(year, 7, 1))
        if half == "H2":
            return cls(f"{year}-H2", date(year, 7, 1), date(year + 1, 1, 1))
        return cls(str(year), date(year, 1, 1), date(year + 1, 1, 1))

    def choices(self) -> list[str]:
        year = self.start.year
        return [f"{y}{h}" for y in (year, year - 1) for h in ("-H2", "-H1", "")]


@dataclass(frozen=True, slots=True)
class Shown:
    """A count as it may be published: the number, or None for "fewer than 5"."""

    label: str
    count: int | None


@dataclass(frozen=True, slots=True)
class Trend:
    pulse: str
    points: tuple[tuple[date, float | None], ...]  # organisation index per round; None when hidden


@dataclass(frozen=True, slots=True)
class ReportData:
    organisation: Organisation
    period: Period
    activity: tuple[Shown, ...]  # columns, reminders, session announcements, check-in rounds sent
    sessions_held: int  # sessions that took place: not cancelled, and over when the report was made
    signups: int
    trends: tuple[Trend, ...]
    conversations_total: int | None
    conversations_from: date | None  # the period has not ended: no conversation figures until this day
    total_withheld: bool  # at least 5, but withheld: another period's small total could be worked out from it
    categories: tuple[Shown, ...]
    contact_types: tuple[Shown, ...]
    follow_ups: tuple[Shown, ...]
    note: ReportNote
    counsellors: tuple[str, ...] = ()  # the organisation's counsellors, primary first


def suppress(
    counts: dict[str, int],
    labels: Sequence[TaxonomyItem],
    locale: str,
    extra: dict[str, str] | None = None,
    hidden: set[str] | None = None,
) -> tuple[Shown, ...]:
    """Counts of one dimension as they may be shown: `hidden` (from `hidden_everywhere`) or, alone, small ones
    plus one more when a single hidden value could be derived from the total."""
    names = {item.id: item.label.in_locale(locale) for item in labels} | (extra or {})
    present = {k: v for k, v in counts.items() if v > 0}
    if hidden is None:
        hidden = hidden_everywhere([counts])
    order = [item.id for item in labels] + sorted(k for k in present if k not in {i.id for i in labels})
    return tuple(
        Shown(names.get(key, key), None if key in hidden else present[key]) for key in order if key in present
    )


def hidden_everywhere(reports: Sequence[dict[str, int]]) -> set[str]:
    """The values of one dimension hidden in every one of overlapping reports (a year and its two halves).

    Small counts in any of them are hidden in all, so no report can be subtracted from another to find one;
    then, in each report, a lone hidden value gets the smallest shown one as company, until nothing changes.
    """
    hidden: set[str] = set()
    changed = True
    while changed:
        changed = False
        for counts in reports:
            present = {k: v for k, v in counts.items() if v > 0}
            small = {k for k, v in present.items() if v < MIN_SHOWN} - hidden
            if small:
                hidden |= small
                changed = True
            if len(hidden & present.keys()) == 1:
                shown = sorted((v, k) for k, v in present.items() if k not in hidden)
                if shown:
                    hidden.add(shown[0][1])
                    changed = True
    return hidden


def _halves(year: int) -> tuple[tuple[date, date], tuple[date, date]]:
    return (date(year, 1, 1), date(year, 7, 1)), (date(year, 7, 1), date(year + 1, 1, 1))


async def build_report(
    services: Services, organisation: Organisation, period: Period, t: T, locale: str
) -> ReportData:
    zone = ZoneInfo(organisation.timezone)
    start = datetime.combine(period.start, time(0, 0), zone).astimezone(UTC)
    end = datetime.combine(period.end, time(0, 0), zone).astimezone(UTC)
    async with services.sessions() as session:
        sent_kinds = (
            await session.exec(
                select(OutreachOccurrenceRow.kind, func.count(func.distinct(OutreachOccurrenceRow.id)))
                .join(
                    OutreachDeliveryRow,
                    col(OutreachDeliveryRow.occurrence_id) == col(OutreachOccurrenceRow.id),
                )
                .where(col(OutreachOccurrenceRow.organisation_id) == organisation.id)
                .where(col(OutreachDeliveryRow.status) == "sent")
                .where(col(OutreachOccurrenceRow.send_at) >= start)
                .where(col(OutreachOccurrenceRow.send_at) < end)
                # a reminder of an open check-in is not a check-in held
                .where(
                    or_(
                        col(OutreachOccurrenceRow.kind) != "pulse",
                        col(OutreachOccurrenceRow.item_id).is_(None),
                        ~col(OutreachOccurrenceRow.item_id).startswith(REMINDER_PREFIX),
                    )
                )
                .group_by(col(OutreachOccurrenceRow.kind))
            )
        ).all()
        held = (
            await session.exec(
                select(TeamSessionRow.id)
                .where(col(TeamSessionRow.organisation_id) == organisation.id)
                .where(col(TeamSessionRow.cancelled).is_(False))
                .where(col(TeamSessionRow.starts_at) >= start)
                .where(col(TeamSessionRow.starts_at) < end)
                .where(col(TeamSessionRow.ends_at) <= services.clock.now())  # held, not merely planned
            )
        ).all()
        signups = 0
        if held:
            signups = int(
                (
                    await session.exec(
                        select(func.count())
                        .select_from(TeamSessionSignupRow)
                        .where(col(TeamSessionSignupRow.session_id).in_(held))
                    )
                ).one()
            )
    kinds = dict(sent_kinds)
    activity = tuple(
        Shown(t(f"console.report.activity.{kind}"), int(kinds.get(kind, 0)))
        for kind in ("column", "reminder", "session", "pulse")
    )
    trends = await _trends(services, organisation, start, end, locale)
    # A year and its halves overlap: every value is judged across all three, so none can be subtracted out.
    # A half that has not ended counts as empty, here and in what is hidden: nothing on any page moves while
    # conversations are being started.
    today = services.clock.now().astimezone(zone).date()
    store = SqlConversationStore(services.sessions)
    halves = [
        [c for c in await store.classification_counts(organisation.id, a, b) if _classified(c)]
        if b <= today
        else []
        for a, b in _halves(period.start.year)
    ]
    ended = period.end <= today
    counts = [*halves[0], *halves[1]] if period.key.isdigit() else halves[0 if period.start.month == 1 else 1]
    total = sum(c.count for c in counts)
    totals = [sum(c.count for c in h) for h in halves]
    totals.append(sum(totals))
    total_shown = total >= MIN_SHOWN and not any(0 < n < MIN_SHOWN for n in totals)
    taxonomy = services.content.catalog.taxonomy

    def per(attribute: str, rows: Sequence[Any]) -> dict[str, int]:
        found: dict[str, int] = {}
        for c in rows:
            key = getattr(c, attribute) or "unclassified"
            found[key] = found.get(key, 0) + c.count
        return found

    def dimension(attribute: str, items: Sequence[TaxonomyItem]) -> tuple[Shown, ...]:
        if total < MIN_SHOWN or not ended:
            return ()
        first, second = per(attribute, halves[0]), per(attribute, halves[1])
        year = {k: first.get(k, 0) + second.get(k, 0) for k in first.keys() | second.keys()}
        hidden = hidden_everywhere([first, second, year])
        return suppress(
            per(attribute, counts), items, locale, {"unclassified": t("console.report.unclassified")}, hidden
        )

    note = await SqlConsoleContent(services.sessions).report_note(organisation.id, period.start, period.end)
    return ReportData(
        organisation=organisation,
        period=period,
        activity=activity,
        sessions_held=len(held),
        signups=signups,
        trends=trends,
        conversations_total=total if total_shown and ended else None,
        conversations_from=None if ended else period.end,
        total_withheld=ended and not total_shown and total >= MIN_SHOWN,
        categories=dimension("category", taxonomy.categories),
        contact_types=dimension("contact_type", taxonomy.contact_types),
        follow_ups=dimension("follow_up", taxonomy.follow_ups),
        note=note,
        counsellors=await counsellor_names(services, organisation),
    )


async def counsellor_names(services: Services, organisation: Organisation) -> tuple[str, ...]:
    """For the cover page: who writes the report, the primary counsellor first."""
    async with services.sessions() as session:
        rows = await session.exec(
            select(CounsellorRow.display_name)
            .join(
                OrganisationCounsellorRow,
                col(OrganisationCounsellorRow.counsellor_id) == col(CounsellorRow.id),
            )
            .where(col(OrganisationCounsellorRow.organisation_id) == organisation.id)
            .order_by(col(OrganisationCounsellorRow.role).desc(), col(CounsellorRow.display_name))
        )
        return tuple(rows.all())


async def _trends(
    services: Services, organisation: Organisation, start: datetime, end: datetime, locale: str
) -> tuple[Trend, ...]:
    secret = services.settings.secret_key
    if secret is None:
        return ()
    store = SqlPulseStore(services.engine, master_key_from(secret.get_secret_value()))
    found = []
    for set_id in await store.pulse_set_ids(organisation.id):
        pulse_set = services.content.catalog.pulse_set(set_id)
        if pulse_set is None:
            continue
        insights = await load_insights(store, pulse_set, organisation.id, until=end)
        if insights.latest is None:
            continue
        root = insights.latest.cells[0].group.id
        points = tuple(
            (view.opened_at.date(), value)
            for view, value in zip(insights.rounds, insights.trend(root), strict=True)
            if start <= view.opened_at < end
        )
        if points:
            found.append(Trend(pulse_set.name.in_locale(locale), points))
    return tuple(found)


def _classified(count: ClassificationCount) -> bool:
    """Counted once the counsellor has classified it in at least one dimension; never at its start."""
    return any(v is not None for v in (count.category, count.contact_type, count.follow_up))


def total_text(data: ReportData, t: T, locale: str) -> str:
    if data.conversations_from is not None:
        return t("console.report.after_period", date=short_day(data.conversations_from, locale))
    if data.total_withheld:
        return t("console.report.withheld")
    return shown_text(data.conversations_total, t, locale)


def sessions_sentence(data: ReportData, t: T) -> str:
    """ "3 teamsessies gehouden, met samen 12 inschrijvingen." — the page and the PDF say it alike."""
    return t(
        "console.report.sessions_line",
        count=data.sessions_held,
        signups=t("console.sessions.signups", count=data.signups),
    )


def shown_text(shown: Shown | int | None, t: T, locale: str) -> str:
    """A published count, or "minder dan 5" — the same words on the page, in the PDF and in its charts."""
    count = shown.count if isinstance(shown, Shown) else shown
    return t("console.report.fewer_than", n=MIN_SHOWN) if count is None else number(count, locale)


def number(value: int, locale: str) -> str:
    """1.234 in Dutch, 1,234 in English."""
    return format_decimal(value, locale=locale)


def short_day(day: date, locale: str) -> str:
    """A day in a sentence: "1-7-2026" in Dutch, "7/1/26" in English."""
    return format_date(day, format="short", locale=locale)


def short_date(day: date, locale: str) -> str:
    """A round's date in a trend: "12 jan." in Dutch, "12 Jan" in English."""
    return format_date(day, format="d MMM", locale=locale)


def period_label(period: Period, t: T) -> str:
    if period.key.endswith("-H1"):
        return t("console.report.period_h1", year=period.start.year)
    if period.key.endswith("-H2"):
        return t("console.report.period_h2", year=period.start.year)
    return t("console.report.period_year", year=period.start.year)
