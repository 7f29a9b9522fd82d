"""Insights for management: loads closed rounds, sends them through the one anonymity path
(`bot.domain.aggregation.aggregate`) and words the result. Every output — the chat summary, the console, the
`vipbot insights` command, an export — is built from the `Insights` value this module returns, never from
answers directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol
from uuid import UUID

from bot.domain.aggregation import (
    MIN_DISTRIBUTION_ANSWERS,
    MIN_SCORE_ANSWERS,
    Cell,
    Insights,
    RoundInput,
    aggregate,
)
from bot.domain.content import PulseSet, QuestionKind
from bot.domain.i18n import Translator
from bot.domain.pulses import Pulse, PulseStatus
from bot.domain.tenancy import GroupKind


class AnswerCount(NamedTuple):
    """How many answers of one value one question got directly under one group in one round."""

    pulse_id: UUID
    group_id: UUID
    question_id: str
    value: str
    answers: int


# Per round: per group and question, the number of answers per value.
RoundCounts = Mapping[UUID, Mapping[UUID, Mapping[str, Mapping[str, int]]]]


class AnswerCounts(Protocol):
    """The read side insights need: rounds and their tallies. Nothing else reads answers."""

    async def rounds(self, organisation_id: UUID, pulse_set_id: str) -> list[Pulse]: ...

    async def tallies(self, organisation_id: UUID, pulse_ids: Sequence[UUID]) -> RoundCounts: ...


def published_at(pulse: Pulse) -> datetime:
    """When a closed round became visible: its close (its tally is written in the same transaction)."""
    return pulse.closed_at or pulse.closes_at


def build_rounds(pulses: Sequence[Pulse], tallies: RoundCounts) -> list[RoundInput]:
    return [
        RoundInput(p.id, p.opened_at, published_at(p), p.tree, tallies.get(p.id, {}))
        for p in pulses
        if p.status is PulseStatus.CLOSED
    ]


async def load_insights(
    source: AnswerCounts, pulse_set: PulseSet, organisation_id: UUID, until: datetime | None = None
) -> Insights:
    """What may be published about the organisation's closed rounds of `pulse_set` — with `until`, what was
    published by then (rounds closed by `until`: decisions never depend on rounds closed later, so this is
    exactly what management could see at that moment)."""
    pulses = [
        p
        for p in await source.rounds(organisation_id, pulse_set.id)
        if p.status is PulseStatus.CLOSED and (until is None or published_at(p) <= until)
    ]
    tallies = await source.tallies(organisation_id, [p.id for p in pulses])
    return aggregate(pulse_set, build_rounds(pulses, tallies))


def _percent(share: float) -> str:
    return f"{round(share * 100)}%"


def cell_line(cell: Cell, pulse_set: PulseSet, t: Translator, locale: str) -> str:
    """One group's line: name, then its figures or that it is hidden."""
    indent = "  " * cell.depth
    if not cell.shown or cell.index is None or cell.respondents is None:
        return t.t(locale, "insights.line_hidden", indent=indent, group=cell.group.name)
    parts = []
    for figures in cell.figures:
        question = next(q for q in pulse_set.questions if q.id == figures.question_id)
        label = question.text.in_locale(locale)
        if question.kind is QuestionKind.LIKERT and figures.mean is not None:
            parts.append(
                t.t(
                    locale,
                    "insights.figure_likert",
                    question=label,
                    mean=f"{figures.mean:.1f}",
                    favourable=_percent(figures.favourable_share),
                )
            )
        else:
            parts.append(
                t.t(
                    locale,
                    "insights.figure_choice",
                    question=label,
                    favourable=_percent(figures.favourable_share),
                )
            )
        if figures.distribution is not None:
            labels = (
                [s.in_locale(locale) for s in pulse_set.scale]
                if question.kind is QuestionKind.LIKERT
                else [o.label.in_locale(locale) for o in question.options]
            )
            spread = ", ".join(
                f"{lab}: {n}" for lab, (_, n) in zip(labels, figures.distribution, strict=False)
            )
            parts.append(t.t(locale, "insights.figure_distribution", spread=spread))
    head = t.t(
        locale,
        "insights.line_shown",
        indent=indent,
        group=cell.group.name,
        index=_percent(cell.index),
        count=cell.respondents,
    )
    return "\n".join([head, *(f"{indent}    {p}" for p in parts)])


def trend_line(insights: Insights, t: Translator, locale: str) -> str | None:
    """The organisation's index over the rounds, with gaps where it is hidden."""
    latest = insights.latest
    if latest is None:
        return None
    root = latest.cells[0].group
    points = [
        f"{view.opened_at:%d-%m}: {_percent(v) if v is not None else '–'}"
        for view, v in zip(insights.rounds, insights.trend(root.id), strict=True)
    ]
    return t.t(locale, "insights.trend", group=root.name, points=" · ".join(points[-8:]))


def hidden_explanation(insights: Insights, t: Translator, locale: str) -> str:
    """Plain language: what is hidden in the latest round and why — the rules, never per-group reasons."""
    latest = insights.latest
    hidden = latest.hidden if latest else 0
    rules = t.t(
        locale,
        "insights.hidden_rules",
        score_min=MIN_SCORE_ANSWERS,
        distribution_min=MIN_DISTRIBUTION_ANSWERS,
    )
    return t.t(locale, "insights.hidden", count=hidden) + " " + rules


def summary_lines(insights: Insights, t: Translator, locale: str) -> list[str]:
    """The latest round, every group (teams only as deep as they exist), and the trend."""
    latest = insights.latest
    if latest is None:
        return [t.t(locale, "insights.no_rounds")]
    lines = [
        t.t(
            locale,
            "insights.round_heading",
            pulse=insights.pulse_set.name.in_locale(locale),
            date=f"{latest.opened_at:%d-%m-%Y}",
            count=len(insights.rounds),
        )
    ]
    lines.extend(cell_line(c, insights.pulse_set, t, locale) for c in latest.cells)
    trend = trend_line(insights, t, locale)
    if trend:
        lines.append(trend)
    return lines


def export_rows(insights: Insights) -> list[dict[str, object]]:
    """Every published number, one row per round, group and question — hidden cells as a row saying so and
    nothing more. An export of what management may see, never of answers."""
    rows: list[dict[str, object]] = []
    for view in insights.rounds:
        for cell in view.cells:
            base: dict[str, object] = {
                "round": view.opened_at.date().isoformat(),
                "group": cell.group.slug,
                "kind": cell.group.kind.value,
            }
            if not cell.shown:
                rows.append({**base, "shown": False})
                continue
            for figures in cell.figures:
                rows.append(
                    {
                        **base,
                        "shown": True,
                        "question": figures.question_id,
                        "answers": figures.answers,
                        "favourable_share": round(figures.favourable_share, 4),
                        "mean": None if figures.mean is None else round(figures.mean, 3),
                        "distribution": None if figures.distribution is None else dict(figures.distribution),
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
