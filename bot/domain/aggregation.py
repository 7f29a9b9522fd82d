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
from dataclasses import dataclass, field
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
class _Scoring:
    """Per question: each accepted value's favourable flag and score on the favourable-up scale."""

    question: Question
    order: tuple[str, ...]
    favourable: frozenset[str]
    oriented: Mapping[str, int] | None

    @classmethod
    def of(cls, question: Question) -> _Scoring:
        order = answer_options(question)
        oriented = None
        if question.kind is QuestionKind.LIKERT:
            oriented = {v: (6 - int(v) if question.reverse else int(v)) for v in order}
        return cls(question, order, frozenset(v for v in order if question.is_favourable(v)), oriented)

    def favourable_share(self, values: Mapping[str, int]) -> float:
        total = sum(values.values())
        return sum(n for v, n in values.items() if v in self.favourable) / total

    def figures(self, values: Mapping[str, int], with_distribution: bool) -> QuestionFigures:
        total = 0
        favourable = 0
        oriented = 0
        for value, n in values.items():
            total += n
            if value in self.favourable:
                favourable += n
            if self.oriented is not None:
                oriented += self.oriented.get(value, 0) * n
        mean = oriented / total if self.oriented is not None else None
        distribution = tuple((v, values.get(v, 0)) for v in self.order) if with_distribution else None
        return QuestionFigures(self.question.id, total, favourable / total, mean, distribution)


@dataclass(frozen=True, slots=True)
class Cell:
    """One group in one round, as it may be published. Figures are worked out when asked for."""

    group: Group
    depth: int
    shown: bool
    _values: tuple[Mapping[str, int], ...] = field(default=(), repr=False)
    _scorings: tuple[_Scoring, ...] = field(default=(), repr=False)
    _with_distribution: bool = field(default=False, repr=False)

    @property
    def figures(self) -> tuple[QuestionFigures, ...]:
        if not self.shown:
            return ()
        return tuple(
            s.figures(v, self._with_distribution) for s, v in zip(self._scorings, self._values, strict=True)
        )

    @property
    def respondents(self) -> int | None:
        """Participation at group level (answers to the most-answered question); None when hidden."""
        return max(sum(v.values()) for v in self._values) if self.shown and self._values else None

    @property
    def index(self) -> float | None:
        """The share of favourable answers, averaged over the questions; None when hidden."""
        if not self.shown or not self._values:
            return None
        shares = [s.favourable_share(v) for s, v in zip(self._scorings, self._values, strict=True)]
        return sum(shares) / len(shares)

    @property
    def distribution_shown(self) -> bool:
        return self.shown and self._with_distribution


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


class _TreeIndex:
    """A tree snapshot with integer ids: depth-first order, children, and subtree ranges, so that "is an
    ancestor or a descendant of" is a range check and a group's subtree is a slice."""

    def __init__(self, tree: GroupTree, ids: dict[UUID, int]) -> None:
        children: dict[UUID | None, list[Group]] = {}
        for g in tree.groups:
            children.setdefault(g.parent_id, []).append(g)
        for kids in children.values():
            kids.sort(key=lambda g: (g.name.casefold(), g.slug))
        self.order: list[tuple[Group, int]] = []
        self.ids: list[int] = []
        self.start: dict[int, int] = {}
        self.end: dict[int, int] = {}
        self.children: dict[int, list[int]] = {}
        self.ancestors: dict[int, list[int]] = {}
        stack: list[tuple[Group, int, list[int], bool]] = [
            (r, 0, [], False) for r in reversed(children.get(None, []))
        ]
        while stack:
            group, depth, above, done = stack.pop()
            gid = ids.setdefault(group.id, len(ids))
            if done:
                self.end[gid] = len(self.ids)
                continue
            self.start[gid] = len(self.ids)
            self.order.append((group, depth))
            self.ids.append(gid)
            self.ancestors[gid] = above
            kids = children.get(group.id, [])
            self.children[gid] = [ids.setdefault(k.id, len(ids)) for k in kids]
            stack.append((group, depth, above, True))
            stack.extend((k, depth + 1, [gid, *above], False) for k in reversed(kids))

    def subtree(self, gid: int) -> list[int]:
        return self.ids[self.start[gid] : self.end[gid]]

    def related(self, gid: int) -> list[int]:
        """The group, its ancestors and its descendants: the groups whose answer sets nest with it."""
        if gid not in self.start:
            return []
        return [*self.ancestors[gid], *self.subtree(gid)]


class _Round:
    """Totals of one round, per group (its own answers plus everything below it)."""

    def __init__(self, data: RoundInput, questions: Sequence[Question], index: _TreeIndex) -> None:
        self.data = data
        self.index = index
        self.dist: dict[int, list[dict[str, int]]] = {}
        for gid in reversed(index.ids):
            group = index.order[index.start[gid]][0]
            own = [dict(data.counts.get((group.id, q.id), {})) for q in questions]
            for kid in index.children[gid]:
                for i, values in enumerate(self.dist[kid]):
                    mine = own[i]
                    for value, n in values.items():
                        mine[value] = mine.get(value, 0) + n
            self.dist[gid] = own
        self.n: dict[int, tuple[int, ...]] = {
            gid: tuple(sum(v.values()) for v in per_q) for gid, per_q in self.dist.items()
        }

    def maximal_shown_below(self, gid: int, shown: set[int]) -> list[int]:
        found: list[int] = []
        stack = list(self.index.children[gid])
        while stack:
            kid = stack.pop()
            if kid in shown:
                found.append(kid)
            else:
                stack.extend(self.index.children[kid])
        return found


class _History:
    """What earlier rounds published, per tree snapshot: group → the count vectors it was shown with."""

    def __init__(self) -> None:
        self.by_tree: dict[int, tuple[_TreeIndex, dict[int, set[tuple[int, ...]]]]] = {}

    def add(self, index: _TreeIndex, counts: Mapping[int, tuple[int, ...]], shown: Iterable[int]) -> None:
        _, published = self.by_tree.setdefault(id(index), (index, {}))
        for gid in shown:
            published.setdefault(gid, set()).add(counts[gid])

    def versions(self, groups: Iterable[int]) -> dict[int, set[tuple[int, ...]]]:
        wanted = set(groups)
        found: dict[int, set[tuple[int, ...]]] = {}
        for _, published in self.by_tree.values():
            for gid, versions in published.items():
                if gid in wanted:
                    found.setdefault(gid, set()).update(versions)
        return found


def _below_threshold(counts: Iterable[int], threshold: int) -> bool:
    return any(0 < n < threshold for n in counts)


def _near_any(mine: tuple[int, ...], others: Iterable[tuple[int, ...]], threshold: int) -> bool:
    """Whether some vector differs from `mine` by 1..threshold-1 in some position."""
    for other in others:
        if other == mine:
            continue
        for a, b in zip(mine, other, strict=True):
            if 0 < abs(a - b) < threshold:
                return True
    return False


def _guard_rounds(rnd: _Round, candidates: set[int], history: _History, threshold: int) -> None:
    """Differencing guard: drop candidates whose counts differ by 1..threshold-1 from a nested earlier cell
    (nested in this round's tree or in the tree of the round that published it)."""
    for gid in list(candidates):
        mine = rnd.n[gid]
        related_now = rnd.index.related(gid)
        for index, published in history.by_tree.values():
            related = related_now if index is rnd.index else {*related_now, *index.related(gid)}
            if _near_any(mine, (v for h in related for v in published.get(h, ())), threshold):
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
    rnd: _Round, shown: set[int], threshold: int, earlier: Mapping[int, set[tuple[int, ...]]]
) -> None:
    """Hide cells until, under every published group P, "P minus its largest published parts" is 0 or at least
    `threshold` answers — for every mix of this round's counts and the counts published in earlier rounds.

    Earlier rounds count because their figures stay out there: with stable teams, "last round's department minus
    last round's team minus this round's other team" is as good as a subtraction within one round. Only this
    round's cells can still be hidden: the smallest part first, else P itself.
    """

    def versions(gid: int) -> set[tuple[int, ...]]:
        found = set(earlier.get(gid, ()))
        if gid in shown:
            found.add(rnd.n[gid])
        return found

    def new_here(gid: int) -> bool:
        return gid in shown and rnd.n[gid] not in earlier.get(gid, ())

    changed = True
    while changed:
        changed = False
        family = shown | earlier.keys()
        for gid in rnd.index.ids:
            if gid not in family:
                continue
            parts = rnd.maximal_shown_below(gid, family)
            if not (new_here(gid) or any(new_here(p) for p in parts)):
                continue  # every number involved was checked in the round that published it
            if not _rest_can_leak(versions(gid), [versions(p) for p in parts], threshold):
                continue
            hidable = [p for p in parts if new_here(p)]
            if hidable:
                smallest = min(hidable, key=lambda p: (min(rnd.n[p]), sum(rnd.n[p]), p))
                shown.difference_update(rnd.index.subtree(smallest))
            else:
                shown.discard(gid)
            changed = True
            family = shown | earlier.keys()


def aggregate(pulse_set: PulseSet, rounds: Sequence[RoundInput]) -> Insights:
    """Decide, round by round in time order, what may be published; compute only what may."""
    questions = pulse_set.questions
    scorings = tuple(_Scoring.of(q) for q in questions)
    ids: dict[UUID, int] = {}
    indexes: dict[str, _TreeIndex] = {}
    score_history = _History()
    dist_history = _History()
    views: list[RoundView] = []
    for data in sorted(rounds, key=lambda r: (r.opened_at, str(r.pulse_id))):
        key = repr(sorted((str(g.id), str(g.parent_id), g.name, g.slug) for g in data.tree.groups))
        index = indexes.get(key)
        if index is None:
            index = indexes[key] = _TreeIndex(data.tree, ids)
        rnd = _Round(data, questions, index)
        shown = {gid for gid, counts in rnd.n.items() if counts and min(counts) >= MIN_SCORE_ANSWERS}
        _guard_rounds(rnd, shown, score_history, MIN_SCORE_ANSWERS)
        _complementary(rnd, shown, MIN_SCORE_ANSWERS, score_history.versions(index.ids))
        with_dist = {gid for gid in shown if min(rnd.n[gid]) >= MIN_DISTRIBUTION_ANSWERS}
        _guard_rounds(rnd, with_dist, dist_history, MIN_DISTRIBUTION_ANSWERS)
        _complementary(rnd, with_dist, MIN_DISTRIBUTION_ANSWERS, dist_history.versions(index.ids))

        cells: list[Cell] = []
        for gid, (group, depth) in zip(index.ids, index.order, strict=True):
            if gid not in shown:
                cells.append(Cell(group, depth, shown=False))
                continue
            cells.append(Cell(group, depth, True, tuple(rnd.dist[gid]), scorings, gid in with_dist))
        views.append(RoundView(data.pulse_id, data.opened_at, tuple(cells)))
        score_history.add(index, rnd.n, shown)
        dist_history.add(index, rnd.n, with_dist)
    return Insights(pulse_set, tuple(views))
