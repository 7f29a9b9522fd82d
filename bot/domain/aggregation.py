"""THE anonymity path (DESIGN §5). Every number management sees — chat summary, console, CLI, export — comes out
of `aggregate()`, and nothing else reads answers for display.

What it guarantees, for one pulse set in one organisation, over all its rounds:

1. **Thresholds** (constants; no setting can lower them): a group's figures are shown with at least
   `MIN_SCORE_ANSWERS` (5) answers to every question; a full distribution with at least `MIN_DISTRIBUTION_ANSWERS`
   (10).
2. **Complementary suppression**: within a round, for every shown group P the answers that are in P but in none of
   its largest shown sub-groups — what anyone can compute as "P minus the shown parts" — number 0 or at least the
   threshold. If not, the smallest shown sub-group (with everything under it) is hidden too, until they do.
3. **Differencing guard across rounds**: two shown cells of the same group, or of nested groups (parent and
   descendant, in either round's tree), in different rounds whose answer counts differ by 1–4 (1–9 for
   distributions) are never both shown. Rounds are decided in order and an earlier round's figures never change,
   so the later cell is the one hidden. This is what stops "the team had 6 answers last round and 5 now".

Hidden cells show no figures and no answer count: a count alone would tell who took part. Which rule hid a cell
is not shown either (that would say whether a hidden group has fewer than five answers); the explanation lists
the rules and how many groups they hid in total.

The computation is plain Python over per-value answer counts (one GROUP BY in storage).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from bot.domain.content import PulseSet, Question, QuestionKind
from bot.domain.pulses import answer_options
from bot.domain.tenancy import Group, GroupTree

MIN_SCORE_ANSWERS: Final = 5
MIN_DISTRIBUTION_ANSWERS: Final = 10


@dataclass(frozen=True, slots=True)
class RoundInput:
    """One closed round: its tree snapshot and its answers counted per (group, question) and value.

    `counts` holds the answers stored directly under each group (usually a team); parents add up their children.
    """

    pulse_id: UUID
    opened_at: datetime
    tree: GroupTree
    counts: Mapping[tuple[UUID, str], Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class QuestionFigures:
    question_id: str
    answers: int
    favourable_share: float
    mean: float | None  # Likert only, on the favourable-up scale (reverse-scored items turned round)
    distribution: tuple[tuple[str, int], ...] | None  # None unless the distribution may be shown


@dataclass(frozen=True, slots=True)
class Cell:
    """One group in one round, as it may be published."""

    group: Group
    depth: int
    shown: bool
    figures: tuple[QuestionFigures, ...] = ()

    @property
    def respondents(self) -> int | None:
        """Participation at group level (answers to the most-answered question); None when hidden."""
        return max(f.answers for f in self.figures) if self.shown and self.figures else None

    @property
    def index(self) -> float | None:
        """The share of favourable answers, averaged over the questions; None when hidden."""
        if not self.shown or not self.figures:
            return None
        return sum(f.favourable_share for f in self.figures) / len(self.figures)

    @property
    def distribution_shown(self) -> bool:
        return self.shown and all(f.distribution is not None for f in self.figures)


@dataclass(frozen=True, slots=True)
class RoundView:
    pulse_id: UUID
    opened_at: datetime
    cells: tuple[Cell, ...]  # the tree in depth-first order, the organisation first

    @property
    def hidden(self) -> int:
        return sum(1 for c in self.cells if not c.shown)

    def cell(self, group_id: UUID) -> Cell | None:
        return next((c for c in self.cells if c.group.id == group_id), None)


@dataclass(frozen=True, slots=True)
class Insights:
    """Everything that may be published about a pulse set's rounds, oldest round first."""

    pulse_set: PulseSet
    rounds: tuple[RoundView, ...]

    @property
    def latest(self) -> RoundView | None:
        return self.rounds[-1] if self.rounds else None

    def trend(self, group_id: UUID) -> tuple[float | None, ...]:
        """The group's index per round; None where it is hidden or did not exist."""
        out: list[float | None] = []
        for view in self.rounds:
            cell = view.cell(group_id)
            out.append(cell.index if cell else None)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class _Shown:
    """A cell published in an earlier round, as the differencing guard needs it."""

    group_id: UUID
    counts: tuple[int, ...]
    related: frozenset[UUID]


def _depth_first(tree: GroupTree) -> list[tuple[Group, int]]:
    order: list[tuple[Group, int]] = []
    children: dict[UUID | None, list[Group]] = {}
    for g in tree.groups:
        children.setdefault(g.parent_id, []).append(g)
    for kids in children.values():
        kids.sort(key=lambda g: (g.name.casefold(), g.slug))

    def visit(group: Group, depth: int) -> None:
        order.append((group, depth))
        for kid in children.get(group.id, []):
            visit(kid, depth + 1)

    for root in children.get(None, []):
        visit(root, 0)
    return order


def _related(tree: GroupTree, group_id: UUID) -> frozenset[UUID]:
    """The group, its ancestors and its descendants: the groups whose answer sets nest with it."""
    return frozenset(
        [group_id, *(g.id for g in tree.ancestors(group_id)), *(g.id for g in tree.descendants(group_id))]
    )


class _Round:
    """Totals of one round, per group (its own answers plus everything below it)."""

    def __init__(self, data: RoundInput, questions: Sequence[Question]) -> None:
        self.data = data
        self.questions = questions
        self.order = _depth_first(data.tree)
        self.children: dict[UUID, list[UUID]] = {g.id: [] for g, _ in self.order}
        for g, _ in self.order:
            if g.parent_id is not None and g.parent_id in self.children:
                self.children[g.parent_id].append(g.id)
        self.dist: dict[UUID, list[dict[str, int]]] = {}
        for group, _ in reversed(self.order):
            own = [dict(data.counts.get((group.id, q.id), {})) for q in questions]
            for kid in self.children[group.id]:
                for i, values in enumerate(self.dist[kid]):
                    for value, n in values.items():
                        own[i][value] = own[i].get(value, 0) + n
            self.dist[group.id] = own
        self.n: dict[UUID, tuple[int, ...]] = {
            gid: tuple(sum(v.values()) for v in per_q) for gid, per_q in self.dist.items()
        }

    def subtree(self, group_id: UUID) -> list[UUID]:
        out = [group_id]
        for kid in self.children[group_id]:
            out.extend(self.subtree(kid))
        return out

    def maximal_shown_below(self, group_id: UUID, shown: set[UUID]) -> list[UUID]:
        found: list[UUID] = []
        for kid in self.children[group_id]:
            if kid in shown:
                found.append(kid)
            else:
                found.extend(self.maximal_shown_below(kid, shown))
        return found


def _below_threshold(counts: Iterable[int], threshold: int) -> bool:
    return any(0 < n < threshold for n in counts)


def _guard_rounds(rnd: _Round, candidates: set[UUID], history: list[_Shown], threshold: int) -> None:
    """Differencing guard: drop candidates whose counts differ by 1..threshold-1 from a nested earlier cell."""
    for gid in list(candidates):
        related = _related(rnd.data.tree, gid)
        mine = rnd.n[gid]
        for earlier in history:
            if earlier.group_id not in related and gid not in earlier.related:
                continue
            if _below_threshold((abs(a - b) for a, b in zip(mine, earlier.counts, strict=True)), threshold):
                candidates.discard(gid)
                break


def _rest_can_leak(
    whole: Iterable[tuple[int, ...]], parts: Sequence[Iterable[tuple[int, ...]]], threshold: int
) -> bool:
    """Whether "whole minus some of its parts" can come to 1..threshold-1 answers, or to minus that, for some
    question — taking for every group any count it was published with, or leaving a part out.

    Within one round the parts are disjoint and only "all parts" matters. Across rounds a person who moved or
    joined can sit in two parts, or in the parts but not the whole: then every subset counts, and a negative
    remainder ("the two departments now minus the organisation then") is as telling as a positive one. Per
    question this is a subset-sum on an integer bit set: bit `threshold + k` set means k answers left over.
    """
    wholes = list(whole)
    part_versions = [list(p) for p in parts]
    window = ((1 << threshold) - 2) | (((1 << threshold) - 2) << threshold)  # -(t-1)..-1 and 1..t-1
    for q in range(len(wholes[0]) if wholes else 0):
        bits = 0
        for version in wholes:
            bits |= 1 << (version[q] + threshold)
        for versions in part_versions:
            shifted = bits
            for version in versions:
                shifted |= bits >> version[q]
            bits = shifted
        if bits & window:
            return True
    return False


def _complementary(
    rnd: _Round, shown: set[UUID], threshold: int, earlier: Mapping[UUID, set[tuple[int, ...]]]
) -> None:
    """Hide cells until, under every published group P, "P minus its largest published parts" is 0 or at least
    `threshold` answers — for every mix of this round's counts and the counts published in earlier rounds.

    Earlier rounds count because their figures stay out there: with stable teams, "last round's department minus
    last round's team minus this round's other team" is as good as a subtraction within one round. Only this
    round's cells can still be hidden: the smallest part first, else P itself.
    """

    def versions(gid: UUID) -> set[tuple[int, ...]]:
        found = set(earlier.get(gid, ()))
        if gid in shown:
            found.add(rnd.n[gid])
        return found

    def new_here(gid: UUID) -> bool:
        return gid in shown and rnd.n[gid] not in earlier.get(gid, ())

    changed = True
    while changed:
        changed = False
        for group, _ in rnd.order:
            if group.id not in shown and group.id not in earlier:
                continue
            family = shown | earlier.keys()
            parts = rnd.maximal_shown_below(group.id, family)
            if not (new_here(group.id) or any(new_here(p) for p in parts)):
                continue  # every number involved was checked in the round that published it
            if not _rest_can_leak(versions(group.id), [versions(p) for p in parts], threshold):
                continue
            hidable = [p for p in parts if new_here(p)]
            if hidable:
                smallest = min(hidable, key=lambda p: (min(rnd.n[p]), sum(rnd.n[p]), str(p)))
                shown.difference_update(rnd.subtree(smallest))
            else:
                shown.discard(group.id)
            changed = True


def _figures(question: Question, values: Mapping[str, int], with_distribution: bool) -> QuestionFigures:
    total = sum(values.values())
    favourable = sum(n for v, n in values.items() if question.is_favourable(v))
    mean: float | None = None
    order: tuple[str, ...] = answer_options(question)
    if question.kind is QuestionKind.LIKERT:
        oriented = sum((6 - int(v) if question.reverse else int(v)) * n for v, n in values.items())
        mean = oriented / total
    distribution = tuple((v, values.get(v, 0)) for v in order) if with_distribution else None
    return QuestionFigures(question.id, total, favourable / total, mean, distribution)


def _published(history: Sequence[_Shown], rnd: _Round) -> dict[UUID, set[tuple[int, ...]]]:
    """The counts each group of this round's tree was published with in earlier rounds."""
    found: dict[UUID, set[tuple[int, ...]]] = {}
    for earlier in history:
        if earlier.group_id in rnd.n:
            found.setdefault(earlier.group_id, set()).add(earlier.counts)
    return found


def aggregate(pulse_set: PulseSet, rounds: Sequence[RoundInput]) -> Insights:
    """Decide, round by round in time order, what may be published; compute only what may."""
    questions = pulse_set.questions
    score_history: list[_Shown] = []
    dist_history: list[_Shown] = []
    views: list[RoundView] = []
    for data in sorted(rounds, key=lambda r: (r.opened_at, str(r.pulse_id))):
        rnd = _Round(data, questions)
        shown = {gid for gid, counts in rnd.n.items() if counts and min(counts) >= MIN_SCORE_ANSWERS}
        _guard_rounds(rnd, shown, score_history, MIN_SCORE_ANSWERS)
        _complementary(rnd, shown, MIN_SCORE_ANSWERS, _published(score_history, rnd))
        with_dist = {gid for gid in shown if min(rnd.n[gid]) >= MIN_DISTRIBUTION_ANSWERS}
        _guard_rounds(rnd, with_dist, dist_history, MIN_DISTRIBUTION_ANSWERS)
        _complementary(rnd, with_dist, MIN_DISTRIBUTION_ANSWERS, _published(dist_history, rnd))

        cells: list[Cell] = []
        for group, depth in rnd.order:
            if group.id not in shown:
                cells.append(Cell(group, depth, shown=False))
                continue
            figures = tuple(
                _figures(q, rnd.dist[group.id][i], group.id in with_dist) for i, q in enumerate(questions)
            )
            cells.append(Cell(group, depth, shown=True, figures=figures))
        views.append(RoundView(data.pulse_id, data.opened_at, tuple(cells)))
        score_history.extend(_Shown(g, rnd.n[g], _related(data.tree, g)) for g in shown)
        dist_history.extend(_Shown(g, rnd.n[g], _related(data.tree, g)) for g in with_dist)
    return Insights(pulse_set, tuple(views))
