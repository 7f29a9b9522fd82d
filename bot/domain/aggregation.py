"""THE anonymity path (DESIGN §5). Every number management sees — chat summary, monthly overview, console, chart,
`vipbot insights` and its JSON export, the periodic report — is read from a stored `Release`, and a release is
made here, once per pulse set, organisation and period, from the tallies of the period's closed rounds.

What a release is:

1. **Pooled over the period.** Every closed round of the pulse set that opened in the period (a calendar month,
   `bot.domain.privacy`) is added up per group, so a group is judged on a month of answers, not on one week's.
   Groups are pooled by *lineage*: a renamed or moved group keeps its id; a merged group's answers count for the
   group it was merged into; a group that is gone from the tree counts for its nearest ancestor that is still
   there. The release uses the tree of the period's latest round.
2. **Floors on respondents** (constants, DESIGN §5.3): respondents of a group in a period are at least the most
   that answered it in any one round (answers are never linked across rounds, so this is the count that can be
   known, and it is never more than the true number of people). Under `MIN_SCORE_ANSWERS` (5) nothing is
   published; from 5 to 9 only a *band* of the favourable share ("60–80 %"), which determines no distribution;
   from `MIN_DISTRIBUTION_ANSWERS` (10) the per-question table with the distribution.
3. **Noise drawn once.** The counts a cell publishes (favourable and other answers over all questions for the
   index, and every value's count per question for the table) get discrete Laplace noise calibrated to what one
   person's answers in the period can change (`rounds × questions` in L1, at each level of the tree), from the
   `NoiseSource` port. The noisy integers and their noise scale are what is stored; everything shown —
   share, mean, distribution, margin, band — is computed from them, so reading a release again spends nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final
from uuid import UUID

from bot.domain.content import PulseSet, Question, QuestionKind
from bot.domain.privacy import (
    INDEX_SHARE,
    LEVEL_SHARE,
    NoiseSource,
    band,
    index_margin,
    mean_margin,
    period_start,
    share_margin,
)
from bot.domain.pulses import answer_options
from bot.domain.tenancy import Group, GroupTree

MIN_SCORE_ANSWERS: Final = 5
MIN_DISTRIBUTION_ANSWERS: Final = 10


@dataclass(frozen=True, slots=True)
class RoundInput:
    """One closed round: when it opened and closed, its tree snapshot, and its answers counted per group,
    question and value (`counts` holds the answers stored directly under each group)."""

    pulse_id: UUID
    opened_at: datetime
    closed_at: datetime
    tree: GroupTree
    counts: Mapping[UUID, Mapping[str, Mapping[str, int]]]  # group → question → value → answers


class Visibility(StrEnum):
    HIDDEN = "hidden"  # fewer than 5 respondents: nothing
    BANDED = "banded"  # 5–9: the band of the favourable share only
    FULL = "full"  # 10 or more: index and per-question table with distribution


@dataclass(frozen=True, slots=True)
class StoredCell:
    """What is stored for one group in one release: noisy integers and the scale of their noise, nothing else."""

    group_id: UUID
    visibility: Visibility
    index_counts: tuple[int, int] | None = None  # noisy (favourable, other answers) over all questions
    index_scale: float = 0.0
    table: tuple[tuple[str, tuple[int, ...]], ...] | None = None  # per question: noisy count per offered value
    table_scale: float = 0.0


@dataclass(frozen=True, slots=True)
class Release:
    """A pulse set's published figures for one organisation and period, as stored."""

    pulse_set_id: str
    period: str
    released_at: datetime
    tree: GroupTree
    epsilon: float
    rounds: int
    cells: tuple[StoredCell, ...]


# --- making a release ----------------------------------------------------------------------------------------


def _depth_first(tree: GroupTree) -> list[tuple[Group, int]]:
    children: dict[UUID | None, list[Group]] = {}
    for g in tree.groups:
        children.setdefault(g.parent_id, []).append(g)
    for kids in children.values():
        kids.sort(key=lambda g: (g.name.casefold(), g.slug))
    order: list[tuple[Group, int]] = []
    stack = [(g, 0) for g in reversed(children.get(None, []))]
    while stack:
        group, depth = stack.pop()
        order.append((group, depth))
        stack.extend((k, depth + 1) for k in reversed(children.get(group.id, [])))
    return order


class _Resolver:
    """Maps a group id of any round to the group of the release's tree that its answers count for."""

    def __init__(self, target: GroupTree, successors: Mapping[UUID, UUID]) -> None:
        self._known = {g.id for g in target.groups}
        self._root = target.root.id
        self._successors = successors
        self._memo: dict[tuple[int, UUID], UUID] = {}

    def _follow(self, gid: UUID) -> UUID | None:
        seen: set[UUID] = set()
        current = gid
        while current not in self._known and current in self._successors and current not in seen:
            seen.add(current)
            current = self._successors[current]
        return current if current in self._known else None

    def resolve(self, gid: UUID, tree: GroupTree) -> UUID:
        key = (id(tree), gid)
        found = self._memo.get(key)
        if found is None:
            found = self._follow(gid)
            if found is None and any(g.id == gid for g in tree.groups):
                found = next(
                    (r for a in tree.ancestors(gid) if (r := self._follow(a.id)) is not None), self._root
                )
            self._memo[key] = found = found or self._root
        return found


def _question_values(question: Question) -> tuple[str, ...]:
    return answer_options(question)


def build_release(
    pulse_set: PulseSet,
    period: str,
    rounds: Sequence[RoundInput],
    epsilon: float,
    noise: NoiseSource,
    released_at: datetime,
    successors: Mapping[UUID, UUID] | None = None,
) -> Release:
    """Pool the period's rounds per group and draw the noise for every cell that may be published.

    `epsilon` is what the accountant granted this release (0: refused — every cell hidden); `successors` maps a
    merged group to the group it was merged into."""
    ordered = sorted(rounds, key=lambda r: (r.opened_at, str(r.pulse_id)))
    if not ordered:
        raise ValueError("a release needs at least one closed round")
    target = ordered[-1].tree
    resolver = _Resolver(target, successors or {})
    order = _depth_first(target)
    parent = {g.id: g.parent_id for g in target.groups}
    questions = pulse_set.questions
    values = [_question_values(q) for q in questions]
    # per group (own answers only, then with everything below): per question, per value
    pooled: dict[UUID, list[list[int]]] = {g.id: [[0] * len(v) for v in values] for g in target.groups}
    respondents: dict[UUID, int] = dict.fromkeys(pooled, 0)
    for rnd in ordered:
        per_round: dict[UUID, list[int]] = {g.id: [0] * len(questions) for g in target.groups}
        for raw_group, answers in rnd.counts.items():
            gid = resolver.resolve(raw_group, rnd.tree)
            for qi, question in enumerate(questions):
                given = answers.get(question.id, {})
                for vi, value in enumerate(values[qi]):
                    n = given.get(value, 0)
                    if n:
                        # every group on the path up gets the answer (totals per subtree)
                        node: UUID | None = gid
                        while node is not None:
                            pooled[node][qi][vi] += n
                            per_round[node][qi] += n
                            node = parent[node]
        for gid, answered in per_round.items():
            respondents[gid] = max(respondents[gid], max(answered, default=0))
    sensitivity = max(1, len(ordered) * len(questions))
    cells: list[StoredCell] = []
    for group, _depth in order:
        seen = respondents[group.id]
        if epsilon <= 0 or seen < MIN_SCORE_ANSWERS:
            cells.append(StoredCell(group.id, Visibility.HIDDEN))
            continue
        level = epsilon * LEVEL_SHARE[group.kind]
        index_eps = level * INDEX_SHARE
        table_eps = level - index_eps
        counts = pooled[group.id]
        favourable = sum(
            n for q, row in zip(questions, counts, strict=True) for v, n in zip(values_of(q), row, strict=True)
            if q.is_favourable(v)
        )
        total = sum(sum(row) for row in counts)
        noisy_index = noise.noisy_counts((favourable, total - favourable), sensitivity, index_eps)
        index_counts = (noisy_index[0], noisy_index[1])
        if seen < MIN_DISTRIBUTION_ANSWERS:
            cells.append(StoredCell(group.id, Visibility.BANDED, index_counts, sensitivity / index_eps))
            continue
        flat = noise.noisy_counts([n for row in counts for n in row], sensitivity, table_eps)
        table: list[tuple[str, tuple[int, ...]]] = []
        at = 0
        for question, row in zip(questions, counts, strict=True):
            table.append((question.id, tuple(flat[at : at + len(row)])))
            at += len(row)
        cells.append(
            StoredCell(
                group.id,
                Visibility.FULL,
                index_counts,
                sensitivity / index_eps,
                tuple(table),
                sensitivity / table_eps,
            )
        )
    return Release(pulse_set.id, period, released_at, target, epsilon, len(ordered), tuple(cells))


def values_of(question: Question) -> tuple[str, ...]:
    return _question_values(question)


# --- reading releases: what every output shows ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionFigures:
    question_id: str
    answers: int
    favourable_share: float
    margin: float | None  # points, 9 times out of 10
    mean: float | None  # Likert only, on the favourable-up scale (reverse-scored items turned round)
    mean_margin: float | None
    distribution: tuple[tuple[str, int], ...]


def _question_figures(question: Question, noisy: Sequence[int], scale: float) -> QuestionFigures:
    counts = [max(0, n) for n in noisy]
    order = values_of(question)
    total = sum(counts)
    fav = [n for v, n in zip(order, counts, strict=True) if question.is_favourable(v)]
    other = [n for v, n in zip(order, counts, strict=True) if not question.is_favourable(v)]
    share = sum(fav) / total if total else 0.0
    mean = spread = None
    if question.kind is QuestionKind.LIKERT and total:
        scores = [6 - int(v) if question.reverse else int(v) for v in order]
        mean = sum(s * n for s, n in zip(scores, counts, strict=True)) / total
        spread = mean_margin(scores, counts, scale)
    return QuestionFigures(
        question.id,
        total,
        share,
        share_margin(fav, other, scale),
        mean,
        spread,
        tuple(zip(order, counts, strict=True)),
    )


@dataclass(frozen=True, slots=True)
class Cell:
    """One group in one period, as published: index with margin (or its band), and per-question figures."""

    group: Group
    depth: int
    visibility: Visibility
    index: float | None = None  # the favourable share over all questions; None unless FULL
    margin: float | None = None  # points
    band: tuple[int, int] | None = None  # BANDED (and FULL): the 20-point band the index falls in
    figures: tuple[QuestionFigures, ...] = ()
    respondents: int | None = None  # FULL only: noisy answers to the most-answered question

    @property
    def shown(self) -> bool:
        return self.visibility is not Visibility.HIDDEN

    @property
    def distribution_shown(self) -> bool:
        return self.visibility is Visibility.FULL

    @property
    def approximate(self) -> float | None:
        """The best single figure for a chart: the index, or the middle of the band."""
        if self.index is not None:
            return self.index
        if self.band is not None:
            return (self.band[0] + self.band[1]) / 200
        return None


def _cell(stored: StoredCell, group: Group, depth: int, pulse_set: PulseSet) -> Cell:
    if stored.visibility is Visibility.HIDDEN or stored.index_counts is None:
        return Cell(group, depth, Visibility.HIDDEN)
    fav, other = (max(0, n) for n in stored.index_counts)
    share = fav / (fav + other) if fav + other else 0.0
    if stored.visibility is Visibility.BANDED:
        return Cell(group, depth, Visibility.BANDED, band=band(share))
    by_id = {q.id: q for q in pulse_set.questions}
    figures = tuple(
        _question_figures(by_id[qid], noisy, stored.table_scale)
        for qid, noisy in stored.table or ()
        if qid in by_id and len(noisy) == len(values_of(by_id[qid]))
    )
    return Cell(
        group,
        depth,
        Visibility.FULL,
        index=share,
        margin=index_margin(fav, other, stored.index_scale),
        band=band(share),
        figures=figures,
        respondents=max((f.answers for f in figures), default=0),
    )


@dataclass(frozen=True, slots=True)
class RoundView:
    """One published period."""

    period: str
    opened_at: datetime  # the period's start
    closed_at: datetime  # when it was released
    cells: tuple[Cell, ...]  # the tree in depth-first order, the organisation first
    refused: bool = False  # the privacy budget of the period was spent: nothing published
    rounds: int = 0  # how many rounds the period pooled

    @property
    def hidden(self) -> int:
        return sum(1 for c in self.cells if not c.shown)

    def cell(self, group_id: UUID) -> Cell | None:
        return next((c for c in self.cells if c.group.id == group_id), None)


def view_of(release: Release, pulse_set: PulseSet) -> RoundView:
    stored = {c.group_id: c for c in release.cells}
    cells = tuple(
        _cell(stored.get(g.id, StoredCell(g.id, Visibility.HIDDEN)), g, depth, pulse_set)
        for g, depth in _depth_first(release.tree)
    )
    return RoundView(
        release.period,
        period_start(release.period),
        release.released_at,
        cells,
        refused=release.epsilon <= 0,
        rounds=release.rounds,
    )


@dataclass(frozen=True, slots=True)
class Insights:
    """Every published period of a pulse set: `rounds` in period order (for display), `published` in the order
    they were released."""

    pulse_set: PulseSet
    rounds: tuple[RoundView, ...]
    published: tuple[RoundView, ...]

    @property
    def latest(self) -> RoundView | None:
        return self.published[-1] if self.published else None

    def trend(self, group_id: UUID) -> tuple[float | None, ...]:
        """The group's index per period; None where it is hidden, banded or absent (a gap, never a line)."""
        out: list[float | None] = []
        for view in self.rounds:
            cell = view.cell(group_id)
            out.append(cell.index if cell else None)
        return tuple(out)


def insights_from(pulse_set: PulseSet, releases: Sequence[Release]) -> Insights:
    views = [view_of(r, pulse_set) for r in sorted(releases, key=lambda r: (r.released_at, r.period))]
    return Insights(pulse_set, tuple(sorted(views, key=lambda v: v.period)), tuple(views))
