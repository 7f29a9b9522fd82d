"""Insights for management: releases a period's figures once (through the one anonymity path,
`bot.domain.aggregation.build_release`, charged to the privacy accountant) and words what was released. Every
output — the chat summary, the monthly overview, the console, `vipbot insights` and its export, the report — is
built from the stored releases through `load_insights`, never from answers, and reading spends no budget.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol
from uuid import UUID

from bot.domain.aggregation import (
    MIN_DISTRIBUTION_ANSWERS,
    MIN_SCORE_ANSWERS,
    Cell,
    Insights,
    Release,
    RoundInput,
    Visibility,
    build_release,
    insights_from,
)
from bot.domain.content import PulseSet, QuestionKind
from bot.domain.i18n import Translator
from bot.domain.privacy import NoiseSource, Spend, charge, period_end, period_of, release_epsilon
from bot.domain.pulses import Pulse, PulseStatus
from bot.domain.summary import SummaryGroup
from bot.domain.tenancy import GroupKind
from bot.errors import ConflictError


class AnswerCount(NamedTuple):
    """How many answers of one value one question got directly under one group in one round."""

    pulse_id: UUID
    group_id: UUID
    question_id: str
    value: str
    answers: int


# Per round: per group and question, the number of answers per value.
RoundCounts = Mapping[UUID, Mapping[UUID, Mapping[str, Mapping[str, int]]]]


class ReleaseSource(Protocol):
    """The read side every output needs: the stored releases. Nothing else is shown."""

    async def releases(self, organisation_id: UUID, pulse_set_id: str) -> list[Release]: ...


class ReleaseStore(ReleaseSource, Protocol):
    """What making a release needs: rounds, their tallies, lineage, the ledger, and a once-only save."""

    async def rounds(self, organisation_id: UUID, pulse_set_id: str) -> list[Pulse]: ...

    async def pulse_set_ids(self, organisation_id: UUID) -> list[str]: ...

    async def tallies(self, organisation_id: UUID, pulse_ids: Sequence[UUID]) -> RoundCounts: ...

    async def successors(self, organisation_id: UUID) -> Mapping[UUID, UUID]: ...

    async def ledger(self, organisation_id: UUID, period: str) -> list[Spend]: ...

    async def save_release(self, organisation_id: UUID, release: Release) -> bool: ...


def published_at(pulse: Pulse) -> datetime:
    """When a closed round's tally was written: its close."""
    return pulse.closed_at or pulse.closes_at


def build_rounds(pulses: Sequence[Pulse], tallies: RoundCounts) -> list[RoundInput]:
    return [
        RoundInput(p.id, p.opened_at, published_at(p), p.tree, tallies.get(p.id, {}))
        for p in pulses
        if p.status is PulseStatus.CLOSED
    ]


def due_periods(pulses: Sequence[Pulse], released: set[str], now: datetime) -> list[str]:
    """Periods that may be released: ended, every round that opened in them closed, not released yet."""
    periods: dict[str, bool] = {}
    for p in pulses:
        period = period_of(p.opened_at)
        periods[period] = periods.get(period, True) and p.status is PulseStatus.CLOSED
    return sorted(
        period
        for period, all_closed in periods.items()
        if all_closed and period not in released and period_end(period) <= now
    )


async def release_due(
    store: ReleaseStore,
    pulse_sets: Mapping[str, PulseSet],
    organisation_id: UUID,
    now: datetime,
    noise: NoiseSource,
) -> list[Release]:
    """Release every due period of every pulse set of the organisation: noise drawn once, stored, charged."""
    made: list[Release] = []
    by_set = {
        set_id: await store.rounds(organisation_id, set_id)
        for set_id in await store.pulse_set_ids(organisation_id)
    }
    done = {set_id: {r.period for r in await store.releases(organisation_id, set_id)} for set_id in by_set}
    for set_id, pulses in sorted(by_set.items()):
        pulse_set = pulse_sets.get(set_id)
        if pulse_set is None:
            continue
        for period in due_periods(pulses, done[set_id], now):
            in_period = [p for p in pulses if period_of(p.opened_at) == period]
            waiting = sum(
                1
                for other, rounds in by_set.items()
                if period not in done[other] and any(period_of(p.opened_at) == period for p in rounds)
            )
            release = await release_period(
                store, pulse_set, organisation_id, period, in_period, waiting, now, noise
            )
            done[set_id].add(period)
            if release is not None:
                made.append(release)
    return made


async def release_period(
    store: ReleaseStore,
    pulse_set: PulseSet,
    organisation_id: UUID,
    period: str,
    pulses: Sequence[Pulse],
    pulse_sets_left: int,
    now: datetime,
    noise: NoiseSource,
    epsilon: float | None = None,
) -> Release | None:
    """One period of one pulse set: what the accountant grants (all of `epsilon` or refused), pooled, noised once,
    stored. A refused period is stored with nothing shown, so every output shows a gap there. None if another
    process released it first."""
    ledger = await store.ledger(organisation_id, period)
    granted = release_epsilon(ledger, period, pulse_sets_left) if epsilon is None else epsilon
    try:
        charge(ledger, Spend(period, pulse_set.id, granted))
    except ConflictError:
        granted = 0.0
    tallies = await store.tallies(organisation_id, [p.id for p in pulses])
    successors = await store.successors(organisation_id)
    # Pooling a large organisation's month takes a moment of CPU: not on the event loop, where requests wait.
    release = await asyncio.to_thread(
        build_release, pulse_set, period, build_rounds(pulses, tallies), granted, noise, now, successors
    )
    return release if await store.save_release(organisation_id, release) else None


async def load_insights(
    source: ReleaseSource, pulse_set: PulseSet, organisation_id: UUID, until: datetime | None = None
) -> Insights:
    """What is published about the organisation's pulse set — with `until`, what was published by then."""
    releases = [
        r
        for r in await source.releases(organisation_id, pulse_set.id)
        if until is None or r.released_at <= until
    ]
    return insights_from(pulse_set, releases)


def _percent(share: float) -> str:
    return f"{round(share * 100)} %"


def _points(margin: float | None) -> str:
    return "?" if margin is None else str(max(1, round(margin)))


def cell_line(cell: Cell, pulse_set: PulseSet, t: Translator, locale: str) -> str:
    """One group: name and index with its margin, its band, or that it is hidden; then a table per question."""
    indent = "  " * cell.depth
    if cell.visibility is Visibility.HIDDEN:
        return t.t(locale, "insights.line_hidden", indent=indent, group=cell.group.name)
    if cell.visibility is Visibility.BANDED or cell.index is None:
        low, high = cell.band or (0, 100)
        return t.t(locale, "insights.line_banded", indent=indent, group=cell.group.name, low=low, high=high)
    lines = [
        t.t(
            locale,
            "insights.line_shown",
            indent=indent,
            group=cell.group.name,
            index=_percent(cell.index),
            margin=_points(cell.margin),
        ),
        t.t(locale, "insights.table_heading", indent=indent),
    ]
    by_id = {q.id: q for q in pulse_set.questions}
    for figures in cell.figures:
        question = by_id[figures.question_id]
        labels = (
            [s.in_locale(locale) for s in pulse_set.scale]
            if question.kind is QuestionKind.LIKERT
            else [o.label.in_locale(locale) for o in question.options]
        )
        total = sum(n for _, n in figures.distribution) or 1
        spread = ", ".join(
            f"{label} {round(100 * n / total)} %"
            for label, (_, n) in zip(labels, figures.distribution, strict=False)
        )
        mean = "–"
        if figures.mean is not None:
            mean = f"{figures.mean:.1f} ± {figures.mean_margin or 0:.1f}"
        lines.append(
            t.t(
                locale,
                "insights.table_row",
                indent=indent,
                question=question.text.in_locale(locale),
                favourable=_percent(figures.favourable_share),
                margin=_points(figures.margin),
                mean=mean,
                spread=spread,
            )
        )
    return "\n".join(lines)


def monthly_trend(insights: Insights, group_id: UUID) -> list[tuple[str, float | None]]:
    """The group's index for every month from the first release to the last — None where nothing was published
    (hidden, only a band, refused, or no release at all that month), so charts draw a gap there, never a line."""
    values = dict(zip((v.period for v in insights.rounds), insights.trend(group_id), strict=True))
    if not values:
        return []
    months: list[tuple[str, float | None]] = []
    year, month = (int(p) for p in min(values).split("-"))
    last = max(values)
    while (period := f"{year:04d}-{month:02d}") <= last:
        months.append((period, values.get(period)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def trend_line(insights: Insights, t: Translator, locale: str) -> str | None:
    """The organisation's index per month, with a gap ("–") where it was not published."""
    latest = insights.latest
    if latest is None:
        return None
    root = latest.cells[0].group
    points = [
        f"{period}: {_percent(v) if v is not None else '–'}" for period, v in monthly_trend(insights, root.id)
    ]
    return t.t(locale, "insights.trend", group=root.name, points=" · ".join(points[-12:]))


def hidden_explanation(insights: Insights, t: Translator, locale: str) -> str:
    """Plain language: what is hidden in the latest period and why — the rules, never per-group reasons."""
    latest = insights.latest
    hidden = latest.hidden if latest else 0
    rules = t.t(
        locale,
        "insights.hidden_rules",
        score_min=MIN_SCORE_ANSWERS,
        distribution_min=MIN_DISTRIBUTION_ANSWERS,
    )
    if latest is not None and latest.refused:
        return t.t(locale, "insights.hidden_refused") + " " + rules
    return t.t(locale, "insights.hidden", count=hidden) + " " + rules


def summary_heading(insights: Insights, t: Translator, locale: str) -> str:
    """The latest period and how many rounds it pools (or that there is none yet)."""
    latest = insights.latest
    if latest is None:
        return t.t(locale, "insights.no_rounds")
    return t.t(
        locale,
        "insights.round_heading",
        pulse=insights.pulse_set.name.in_locale(locale),
        period=latest.period,
        count=latest.rounds,
    )


def summary_groups(insights: Insights, t: Translator, locale: str) -> list[SummaryGroup]:
    """Every group of the latest period in the order of the tree (teams only as deep as they exist), each with its
    `cell_line` and the name of the group it belongs to."""
    latest = insights.latest
    if latest is None:
        return []
    names = {c.group.id: c.group.name for c in latest.cells}
    return [
        SummaryGroup(
            c.depth,
            cell_line(c, insights.pulse_set, t, locale),
            names.get(c.group.parent_id) if c.group.parent_id is not None else None,
        )
        for c in latest.cells
    ]


def summary_lines(insights: Insights, t: Translator, locale: str) -> list[str]:
    """The latest period, every group (teams only as deep as they exist), and the trend."""
    if insights.latest is None:
        return [summary_heading(insights, t, locale)]
    lines = [summary_heading(insights, t, locale)]
    lines.extend(g.text for g in summary_groups(insights, t, locale))
    trend = trend_line(insights, t, locale)
    if trend:
        lines.append(trend)
    return lines


def export_rows(insights: Insights) -> list[dict[str, object]]:
    """Every published number, one row per period, group and question, each with its margin (points, 9 times
    out of 10) — hidden cells as a row saying so, banded cells with their band only. Never answers."""
    rows: list[dict[str, object]] = []
    for view in insights.rounds:
        for cell in view.cells:
            base: dict[str, object] = {
                "period": view.period,
                "group": cell.group.slug,
                "kind": cell.group.kind.value,
                "shown": cell.visibility.value,
            }
            if cell.visibility is Visibility.HIDDEN:
                rows.append(base)
                continue
            if cell.visibility is Visibility.BANDED:
                low, high = cell.band or (0, 100)
                rows.append({**base, "favourable_band": [low, high]})
                continue
            base = {
                **base,
                "index": round(cell.index or 0.0, 4),
                "index_margin": None if cell.margin is None else round(cell.margin, 1),
            }
            for figures in cell.figures:
                rows.append(
                    {
                        **base,
                        "question": figures.question_id,
                        "answers": figures.answers,
                        "favourable_share": round(figures.favourable_share, 4),
                        "favourable_margin": None if figures.margin is None else round(figures.margin, 1),
                        "mean": None if figures.mean is None else round(figures.mean, 3),
                        "mean_margin": None if figures.mean_margin is None else round(figures.mean_margin, 3),
                        "distribution": dict(figures.distribution),
                    }
                )
    return rows


def chart_groups(insights: Insights, limit: int = 24) -> list[Cell]:
    """The cells the chart shows for the latest round: organisation and departments first, then teams."""
    latest = insights.latest
    if latest is None:
        return []
    order = {GroupKind.ORGANISATION: 0, GroupKind.DEPARTMENT: 1, GroupKind.TEAM: 2}
    ranked = sorted(latest.cells, key=lambda c: (order[c.group.kind], latest.cells.index(c)))
    return sorted(ranked[:limit], key=latest.cells.index)
