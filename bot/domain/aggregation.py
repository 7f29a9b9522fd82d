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
from dataclasses import dataclass, field
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
    table: tuple[tuple[str, tuple[int, ...]], ...] | None = (
        None  # per question: noisy count per offered value
    )
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


Pooled = dict[UUID, list[list[int]]]  # per group (with everything below it): per question, per value


def _pool(
    rounds: Sequence[RoundInput], target: GroupTree, resolver: _Resolver, pulse_set: PulseSet
) -> tuple[Pooled, dict[UUID, int]]:
    """The period's answers per group of the release's tree, and each group's respondents (the most that
    answered it in one round)."""
    parent = {g.id: g.parent_id for g in target.groups}
    questions = pulse_set.questions
    values = [values_of(q) for q in questions]
    pooled: Pooled = {g.id: [[0] * len(v) for v in values] for g in target.groups}
    respondents: dict[UUID, int] = dict.fromkeys(pooled, 0)
    for rnd in rounds:
        per_round: dict[UUID, list[int]] = {g.id: [0] * len(questions) for g in target.groups}
        for raw_group, answers in rnd.counts.items():
            gid = resolver.resolve(raw_group, rnd.tree)
            for qi, question in enumerate(questions):
                given = answers.get(question.id, {})
                for vi, value in enumerate(values[qi]):
                    n = given.get(value, 0)
                    node: UUID | None = gid if n else None
                    while node is not None:  # every group on the path up gets the answer
                        pooled[node][qi][vi] += n
                        per_round[node][qi] += n
                        node = parent[node]
        for gid, answered in per_round.items():
            respondents[gid] = max(respondents[gid], max(answered, default=0))
    return pooled, respondents


def _visibility(respondents: int, epsilon: float) -> Visibility:
    """What a group publishes: decided on the floors alone, before any noise is drawn."""
    if epsilon <= 0 or respondents < MIN_SCORE_ANSWERS:
        return Visibility.HIDDEN
    return Visibility.BANDED if respondents < MIN_DISTRIBUTION_ANSWERS else Visibility.FULL


def _draw(
    pulse_set: PulseSet,
    order: Sequence[tuple[Group, int]],
    pooled: Pooled,
    visible: Mapping[UUID, Visibility],
    epsilon: float,
    sensitivity: int,
    noise: NoiseSource,
) -> tuple[dict[UUID, tuple[int, int]], dict[UUID, tuple[int, ...]]]:
    """One draw per level and kind of count: the groups of a level are disjoint in what each answer counts for,
    so the level's vectors side by side have the same sensitivity as one group's (parallel composition)."""
    flags = [[q.is_favourable(v) for v in values_of(q)] for q in pulse_set.questions]
    width = sum(len(f) for f in flags)
    index_noisy: dict[UUID, tuple[int, int]] = {}
    table_noisy: dict[UUID, tuple[int, ...]] = {}
    for kind, share in LEVEL_SHARE.items():
        level = [g.id for g, _ in order if g.kind is kind and visible[g.id] is not Visibility.HIDDEN]
        if not level:
            continue
        flat_index: list[int] = []
        for gid in level:
            favourable = sum(
                n
                for row, fs in zip(pooled[gid], flags, strict=True)
                for n, f in zip(row, fs, strict=True)
                if f
            )
            flat_index.extend((favourable, sum(sum(row) for row in pooled[gid]) - favourable))
        drawn = noise.noisy_counts(flat_index, sensitivity, epsilon * share * INDEX_SHARE)
        for i, gid in enumerate(level):
            index_noisy[gid] = (drawn[2 * i], drawn[2 * i + 1])
        full = [gid for gid in level if visible[gid] is Visibility.FULL]
        if full:
            flat = [n for gid in full for row in pooled[gid] for n in row]
            drawn = noise.noisy_counts(flat, sensitivity, epsilon * share * (1 - INDEX_SHARE))
            for i, gid in enumerate(full):
                table_noisy[gid] = tuple(drawn[i * width : (i + 1) * width])
    return index_noisy, table_noisy


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
    order = _depth_first(target)
    pooled, respondents = _pool(ordered, target, _Resolver(target, successors or {}), pulse_set)
    visible = {g.id: _visibility(respondents[g.id], epsilon) for g, _ in order}
    questions = pulse_set.questions
    sensitivity = max(1, len(ordered) * len(questions))
    index_noisy, table_noisy = _draw(pulse_set, order, pooled, visible, epsilon, sensitivity, noise)
    cells: list[StoredCell] = []
    for group, _depth in order:
        seen_as = visible[group.id]
        if seen_as is Visibility.HIDDEN:
            cells.append(StoredCell(group.id, Visibility.HIDDEN))
            continue
        share = LEVEL_SHARE[group.kind]
        index_scale = sensitivity / (epsilon * share * INDEX_SHARE)
        if seen_as is Visibility.BANDED:
            cells.append(StoredCell(group.id, Visibility.BANDED, index_noisy[group.id], index_scale))
            continue
        flat_row = table_noisy[group.id]
        table: list[tuple[str, tuple[int, ...]]] = []
        at = 0
        for question in questions:
            width = len(values_of(question))
            table.append((question.id, tuple(flat_row[at : at + width])))
            at += width
        cells.append(
            StoredCell(
                group.id,
                Visibility.FULL,
                index_noisy[group.id],
                index_scale,
                tuple(table),
                sensitivity / (epsilon * share * (1 - INDEX_SHARE)),
            )
        )
    return Release(pulse_set.id, period, released_at, target, epsilon, len(ordered), tuple(cells))


def values_of(question: Question) -> tuple[str, ...]:
    """The values a question's counts are kept for, in the order its buttons show them."""
    return answer_options(question)


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


@dataclass(frozen=True, slots=True)
class _Shape:
    """Per question, worked out once per read: its values in order, which are favourable, and their scores on
    the favourable-up scale (Likert only)."""

    question: Question
    order: tuple[str, ...]
    favourable: tuple[bool, ...]
    scores: tuple[int, ...] | None

    @classmethod
    def of(cls, question: Question) -> _Shape:
        order = values_of(question)
        scores = None
        if question.kind is QuestionKind.LIKERT:
            scores = tuple(6 - int(v) if question.reverse else int(v) for v in order)
        return cls(question, order, tuple(question.is_favourable(v) for v in order), scores)


def _question_figures(shape: _Shape, noisy: Sequence[int], scale: float) -> QuestionFigures:
    counts = [n if n > 0 else 0 for n in noisy]
    total = sum(counts)
    fav = [n for n, f in zip(counts, shape.favourable, strict=True) if f]
    other = [n for n, f in zip(counts, shape.favourable, strict=True) if not f]
    share = sum(fav) / total if total else 0.0
    mean = spread = None
    if shape.scores is not None and total:
        mean = sum(s * n for s, n in zip(shape.scores, counts, strict=True)) / total
        spread = mean_margin(shape.scores, counts, scale)
    return QuestionFigures(
        shape.question.id,
        total,
        share,
        share_margin(fav, other, scale),
        mean,
        spread,
        tuple(zip(shape.order, counts, strict=True)),
    )


@dataclass(frozen=True, slots=True)
class Cell:
    """One group in one period, as published: index with margin (or its band), and per-question figures — all
    worked out from the stored noisy counts when asked, so reading a year of releases stays cheap."""

    group: Group
    depth: int
    visibility: Visibility
    _stored: StoredCell | None = field(default=None, repr=False)
    _shapes: Mapping[str, _Shape] = field(default_factory=dict, repr=False)

    def _share(self) -> float | None:
        if self._stored is None or self._stored.index_counts is None:
            return None
        fav, other = self._stored.index_counts
        fav, other = max(0, fav), max(0, other)
        return fav / (fav + other) if fav + other else 0.0

    @property
    def index(self) -> float | None:
        """The favourable share over all questions; None unless FULL."""
        return self._share() if self.visibility is Visibility.FULL else None

    @property
    def margin(self) -> float | None:
        """The index's margin in points (9 times out of 10); None unless FULL."""
        if (
            self.visibility is not Visibility.FULL
            or self._stored is None
            or self._stored.index_counts is None
        ):
            return None
        fav, other = self._stored.index_counts
        return index_margin(max(0, fav), max(0, other), self._stored.index_scale)

    @property
    def band(self) -> tuple[int, int] | None:
        """The 20-point band the index falls in (BANDED and FULL)."""
        share = self._share() if self.visibility is not Visibility.HIDDEN else None
        return None if share is None else band(share)

    @property
    def figures(self) -> tuple[QuestionFigures, ...]:
        """Per question: favourable share, mean and distribution, each with its margin (FULL cells only)."""
        if self.visibility is not Visibility.FULL or self._stored is None:
            return ()
        return tuple(
            _question_figures(self._shapes[qid], noisy, self._stored.table_scale)
            for qid, noisy in self._stored.table or ()
            if qid in self._shapes and len(noisy) == len(self._shapes[qid].order)
        )

    @property
    def respondents(self) -> int | None:
        """FULL only: the (noisy) answers to the most-answered question."""
        if self.visibility is not Visibility.FULL or self._stored is None:
            return None
        return max((sum(n for n in noisy if n > 0) for _, noisy in self._stored.table or ()), default=0)

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
        found = self.band
        return None if found is None else (found[0] + found[1]) / 200


def _cell(stored: StoredCell, group: Group, depth: int, shapes: Mapping[str, _Shape]) -> Cell:
    if stored.visibility is Visibility.HIDDEN or stored.index_counts is None:
        return Cell(group, depth, Visibility.HIDDEN)
    return Cell(group, depth, stored.visibility, stored, shapes)


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


def view_of(release: Release, pulse_set: PulseSet, shapes: Mapping[str, _Shape] | None = None) -> RoundView:
    shapes = shapes if shapes is not None else {q.id: _Shape.of(q) for q in pulse_set.questions}
    stored = {c.group_id: c for c in release.cells}
    cells = tuple(
        _cell(stored.get(g.id, StoredCell(g.id, Visibility.HIDDEN)), g, depth, shapes)
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
    shapes = {q.id: _Shape.of(q) for q in pulse_set.questions}
    views = [view_of(r, pulse_set, shapes) for r in sorted(releases, key=lambda r: (r.released_at, r.period))]
    return Insights(pulse_set, tuple(sorted(views, key=lambda v: v.period)), tuple(views))
