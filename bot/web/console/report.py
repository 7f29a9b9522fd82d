"""The periodic report (half-yearly or yearly, per organisation): figures, and the same as a PDF with charts.

Conversations are counted at organisation level only (never by group), only for periods that have ended and
only once the counsellor has classified them (DESIGN §5.7): a figure that moves while a period runs would show a
management viewer that somebody has just started a conversation. A count below 5 is shown as "fewer than
5", and when exactly one value of a dimension would be hidden, the next smallest is hidden too, so the hidden one
cannot be found by subtracting from the total. Pulse trends come through the one anonymity path
(`bot.domain.insights.load_insights`), organisation level only.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select

from bot.app import Services
from bot.domain.content import TaxonomyItem
from bot.domain.insights import load_insights
from bot.domain.tenancy import Organisation
from bot.storage.console_content import ReportNote, SqlConsoleContent
from bot.storage.conversations import ClassificationCount, SqlConversationStore
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.storage.tables_outreach import (
    OutreachDeliveryRow,
    OutreachOccurrenceRow,
    TeamSessionRow,
    TeamSessionSignupRow,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    activity: tuple[Shown, ...]  # columns, reminders, session announcements, pulses sent
    sessions_held: int
    signups: int
    trends: tuple[Trend, ...]
    conversations_total: int | None
    conversations_from: date | None  # the period has not ended: no conversation figures until this day
    total_withheld: bool  # at least 5, but withheld: another period's small total could be worked out from it
    categories: tuple[Shown, ...]
    contact_types: tuple[Shown, ...]
    follow_ups: tuple[Shown, ...]
    note: ReportNote


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
    )


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


def total_text(data: ReportData, t: T) -> str:
    if data.conversations_from is not None:
        return t("console.report.after_period", date=data.conversations_from.strftime("%d-%m-%Y"))
    if data.total_withheld:
        return t("console.report.withheld")
    return shown_text(data.conversations_total, t)


def shown_text(shown: Shown | int | None, t: T) -> str:
    count = shown.count if isinstance(shown, Shown) else shown
    return t("console.report.fewer_than", n=MIN_SHOWN) if count is None else str(count)


# --- PDF -------------------------------------------------------------------------------------------------

A4 = (8.27, 11.69)


def report_pdf(data: ReportData, t: T, locale: str, generated: datetime) -> bytes:
    """The report as a PDF (matplotlib, text kept as text so it can be searched and read aloud)."""
    import matplotlib as mpl
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    out = io.BytesIO()
    with (
        mpl.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}),
        PdfPages(
            out,
            metadata={
                "Title": t(
                    "console.report.pdf_title",
                    organisation=data.organisation.name,
                    period=period_label(data.period, t),
                ),
                "Creator": "vipbot",
                "Producer": "vipbot",
            },
        ) as pdf,
    ):
        figure = Figure(figsize=A4)
        lines = _summary_lines(data, t, generated)
        _write(figure, lines)
        pdf.savefig(figure)
        figure = Figure(figsize=A4, layout="constrained")
        _charts(figure, data, t)
        pdf.savefig(figure)
        figure = Figure(figsize=A4)
        _write(figure, _note_lines(data, t))
        pdf.savefig(figure)
    return out.getvalue()


def period_label(period: Period, t: T) -> str:
    if period.key.endswith("-H1"):
        return t("console.report.period_h1", year=period.start.year)
    if period.key.endswith("-H2"):
        return t("console.report.period_h2", year=period.start.year)
    return t("console.report.period_year", year=period.start.year)


def _summary_lines(data: ReportData, t: T, generated: datetime) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = [
        (
            "title",
            t(
                "console.report.pdf_title",
                organisation=data.organisation.name,
                period=period_label(data.period, t),
            ),
        ),
        ("small", t("console.report.generated", date=generated.strftime("%d-%m-%Y"))),
        ("h", t("console.report.prevention")),
    ]
    lines += [("p", f"{a.label}: {a.count}") for a in data.activity]
    lines.append(("p", t("console.report.sessions_line", sessions=data.sessions_held, signups=data.signups)))
    lines.append(("h", t("console.report.pulse_trends")))
    if not data.trends:
        lines.append(("p", t("console.report.no_trends")))
    for trend in data.trends:
        points = " · ".join(
            f"{d:%d-%m}: {round(v * 100)}%" if v is not None else f"{d:%d-%m}: –" for d, v in trend.points
        )
        lines.append(("p", f"{trend.pulse}: {points}"))
    lines.append(("h", t("console.report.conversations")))
    lines.append(("p", t("console.report.conversations_total", count=total_text(data, t))))
    lines.append(("small", t("console.report.small_counts", n=MIN_SHOWN)))
    for heading, values in (
        ("console.report.by_category", data.categories),
        ("console.report.by_contact_type", data.contact_types),
        ("console.report.by_follow_up", data.follow_ups),
    ):
        if values:
            lines.append(("h2", t(heading)))
            lines += [("p", f"{v.label}: {shown_text(v, t)}") for v in values]
    return lines


def _note_lines(data: ReportData, t: T) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = [("h", t("console.report.signals"))]
    lines += [("p", para) for para in (data.note.signals or t("console.report.nothing_written")).split("\n")]
    lines.append(("h", t("console.report.advice")))
    lines += [("p", para) for para in (data.note.advice or t("console.report.nothing_written")).split("\n")]
    return lines


_STYLES = {
    "title": (16, "bold", 0.04),
    "h": (13, "bold", 0.035),
    "h2": (11, "bold", 0.028),
    "p": (10, "normal", 0.022),
    "small": (8, "normal", 0.02),
}


def _write(figure: Figure, lines: list[tuple[str, str]]) -> None:
    y = 0.95
    for style, text in lines:
        size, weight, step = _STYLES[style]
        if style in {"h", "h2"}:
            y -= 0.012
        for part in textwrap.wrap(text, width=95 if size <= 10 else 70) or [""]:
            if y < 0.04:
                return
            figure.text(0.08, y, part, fontsize=size, fontweight=weight, va="top")
            y -= step


def _charts(figure: Figure, data: ReportData, t: T) -> None:
    top, middle, bottom = figure.subplots(3, 1)
    labels = [a.label for a in data.activity] + [t("console.report.activity.signups")]
    values = [a.count or 0 for a in data.activity] + [data.signups]
    top.barh(range(len(values))[::-1], values, color="#2f5d62")
    top.set_yticks(list(range(len(values)))[::-1], labels, fontsize=8)
    top.set_title(t("console.report.prevention"), fontsize=11)
    for y, v in zip(list(range(len(values)))[::-1], values, strict=True):
        top.text(v, y, f" {v}", va="center", fontsize=8)
    middle.set_title(t("console.report.pulse_trends"), fontsize=11)
    middle.set_ylim(0, 100)
    middle.set_ylabel("%", fontsize=8)
    for trend in data.trends:
        xs = [d.isoformat() for d, _ in trend.points]
        ys = [v * 100 if v is not None else float("nan") for _, v in trend.points]
        middle.plot(xs, ys, marker="o", label=trend.pulse)
    if data.trends:
        middle.legend(fontsize=7)
        middle.tick_params(axis="x", labelsize=7, rotation=30)
    else:
        middle.text(
            0.5, 0.5, t("console.report.no_trends"), ha="center", va="center", transform=middle.transAxes
        )
    bottom.set_title(t("console.report.by_category"), fontsize=11)
    shown = [c for c in data.categories if c.count is not None]
    if shown:
        bottom.barh(range(len(shown))[::-1], [c.count or 0 for c in shown], color="#2f5d62")
        bottom.set_yticks(list(range(len(shown)))[::-1], [c.label for c in shown], fontsize=8)
    else:
        bottom.text(
            0.5,
            0.5,
            t("console.report.fewer_than", n=MIN_SHOWN),
            ha="center",
            va="center",
            transform=bottom.transAxes,
        )
    hidden = [c.label for c in data.categories if c.count is None]
    if hidden:
        bottom.set_xlabel(t("console.report.hidden_categories", names=", ".join(hidden)), fontsize=7)
