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
   distributions) are never both shown. This is what stops "the team had 6 answers last round and 5 now".
   The same holds for what a round makes computable without showing it — the *rest* of a shown group, "P minus
   its largest shown parts" — against the cells and rests of earlier rounds it nests with: "last round's
   department minus this round's department outside its shown team" is a difference too. A conflicting rest
   hides this round's smallest shown part under it.

**Order of decisions.** Rounds are decided in the order they were *published* — when they closed (`closed_at`;
rounds closed at the same moment by when they opened, then by id) — each against everything published before it.
So a round's figures are fixed the moment it closes: a later round can only hide its own cells, never change or
hide what is already out, and the number it does show has been checked against every number out by then. Rounds
of one pulse set may overlap (each round has its own window): one that opened later can close first, and then it
is decided first. Display (the trend, the export) lists rounds in the order they opened; `Insights.latest` is the
round published last.

Hidden cells show no figures and no answer count: a count alone would tell who took part. Which rule hid a cell
is not shown either (that would say whether a hidden group has fewer than five answers); the explanation lists
the rules and how many groups they hid in total.

The computation is plain Python over per-value answer counts (one GROUP BY in storage).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from uuid import UUID

from bot.domain.content import PulseSet, Question, QuestionKind
from bot.domain.pulses import answer_options
from bot.domain.tenancy import Group, GroupTree

MIN_SCORE_ANSWERS: Final = 5
MIN_DISTRIBUTION_ANSWERS: Final = 10

Counts = tuple[int, ...]  # one number per question


@dataclass(frozen=True, slots=True)
class RoundInput:
    """One closed round: when it opened and closed (was published), its tree snapshot, and its answers counted
    per group, question and value.

    `counts` holds the answers stored directly under each group (usually a team); parents add up their children.
    """

    pulse_id: UUID
    opened_at: datetime
    closed_at: datetime
    tree: GroupTree
    counts: Mapping[UUID, Mapping[str, Mapping[str, int]]]  # group → question → value → answers


@dataclass(frozen=True, slots=True)
class QuestionFigures:
    question_id: str
    answers: int
    favourable_share: float
    mean: float | None  # Likert only, on the favourable-up scale (reverse-scored items turned round)
    distribution: tuple[tuple[str, int], ...] | None  # None unless the distribution may be shown


@dataclass(frozen=True, slots=True)
class _Scoring:
    """Per question: where its values sit in a round's count vector, and each value's favourable flag and score
    on the favourable-up scale. A value the question no longer offers counts in a last slot of its own (it is an
    answer, neither favourable nor scored)."""

    question: Question
    order: tuple[str, ...]
    offset: int  # where this question's counts start in a group's count vector
    slots: Mapping[str, int]  # each value's place in that vector
    favourable: tuple[int, ...]  # positions of the favourable values
    oriented: tuple[int, ...] | None  # per position; Likert only

    @classmethod
    def of(cls, question: Question, offset: int) -> _Scoring:
        order = answer_options(question)
        oriented = None
        if question.kind is QuestionKind.LIKERT:
            oriented = (*(6 - int(v) if question.reverse else int(v) for v in order), 0)
        favourable = tuple(i for i, v in enumerate(order) if question.is_favourable(v))
        return cls(
            question, order, offset, {v: offset + i for i, v in enumerate(order)}, favourable, oriented
        )

    @property
    def width(self) -> int:
        return len(self.order) + 1

    def favourable_share(self, counts: Sequence[int]) -> float:
        return sum(counts[i] for i in self.favourable) / sum(counts)

    def figures(self, counts: Sequence[int], with_distribution: bool) -> QuestionFigures:
        total = sum(counts)
        mean = None
        if self.oriented is not None:
            mean = sum(score * n for score, n in zip(self.oriented, counts, strict=True)) / total
        distribution = tuple(zip(self.order, counts, strict=False)) if with_distribution else None
        return QuestionFigures(self.question.id, total, self.favourable_share(counts), mean, distribution)


@dataclass(frozen=True, slots=True)
class Cell:
    """One group in one round, as it may be published. Figures are worked out when asked for."""

    group: Group
    depth: int
    shown: bool
    _counts: tuple[int, ...] = field(default=(), repr=False)  # answers per value, every question side by side
    _scorings: tuple[_Scoring, ...] = field(default=(), repr=False)
    _with_distribution: bool = field(default=False, repr=False)

    @property
    def figures(self) -> tuple[QuestionFigures, ...]:
        if not self.shown:
            return ()
        return tuple(
            s.figures(v, self._with_distribution) for s, v in zip(self._scorings, self._values(), strict=True)
        )

    def _values(self) -> tuple[tuple[int, ...], ...]:
        """Per question, its answers per value."""
        return tuple(self._counts[s.offset : s.offset + s.width] for s in self._scorings)

    @property
    def respondents(self) -> int | None:
        """Participation at group level (answers to the most-answered question); None when hidden."""
        return max(sum(v) for v in self._values()) if self.shown and self._scorings else None

    @property
    def index(self) -> float | None:
        """The share of favourable answers, averaged over the questions; None when hidden."""
        if not self.shown or not self._scorings:
            return None
        shares = [s.favourable_share(v) for s, v in zip(self._scorings, self._values(), strict=True)]
        return sum(shares) / len(shares)

    @property
    def distribution_shown(self) -> bool:
        return self.shown and self._with_distribution


@dataclass(frozen=True, slots=True)
class RoundView:
    pulse_id: UUID
    opened_at: datetime
    closed_at: datetime
    cells: tuple[Cell, ...]  # the tree in depth-first order, the organisation first

    @property
    def hidden(self) -> int:
        return sum(1 for c in self.cells if not c.shown)

    def cell(self, group_id: UUID) -> Cell | None:
        return next((c for c in self.cells if c.group.id == group_id), None)


@dataclass(frozen=True, slots=True)
class Insights:
    """Everything that may be published about a pulse set's rounds: `rounds` in the order they opened (for
    display), `published` in the order they closed (the order they were decided in)."""

    pulse_set: PulseSet
    rounds: tuple[RoundView, ...]
    published: tuple[RoundView, ...]

    @property
    def latest(self) -> RoundView | None:
        """The round published last: the one a summary sent at its close is about."""
        return self.published[-1] if self.published else None

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

    def nests(self, a: int, b: int) -> bool:
        """Whether one of the two groups is the other or lies below it: their answer sets nest."""
        start = self.start
        if a not in start or b not in start:
            return False
        sa, sb = start[a], start[b]
        return sa <= sb < self.end[a] or sb <= sa < self.end[b]

    def related(self, gid: int) -> list[int]:
        """The group, its ancestors and its descendants: the groups whose answer sets nest with it."""
        if gid not in self.start:
            return []
        return [*self.ancestors[gid], *self.subtree(gid)]

    def size(self, gid: int) -> int:
        """How many groups the group's subtree has (0 if it is not in this tree)."""
        return self.end[gid] - self.start[gid] if gid in self.start else 0

    def within(self, gid: int, tops: frozenset[int]) -> bool:
        """Whether the group is one of `tops` or lies below one of them."""
        return gid in tops or (gid in self.ancestors and any(a in tops for a in self.ancestors[gid]))


class _Round:
    """Totals of one round, per group (its own answers plus everything below it): one flat count vector per group,
    every question's answers per value side by side (see `_Scoring.offset`), and the answers per question."""

    def __init__(
        self, data: RoundInput, scorings: Sequence[_Scoring], index: _TreeIndex, ids: Mapping[UUID, int]
    ) -> None:
        self.data = data
        self.index = index
        self.scorings = scorings
        width = sum(s.width for s in scorings)
        # per question id: the slot of each value, and the slot for any other value
        slots = {s.question.id: (s.slots, s.offset + len(s.order)) for s in scorings}
        vectors: dict[int, list[int]] = {}
        for group_id, questions in data.counts.items():
            gid = ids.get(group_id)
            if gid is None or gid not in index.start:
                continue  # a group that is not in this round's tree
            vector = vectors[gid] = [0] * width
            for question_id, values in questions.items():
                where = slots.get(question_id)
                if where is None:
                    continue  # a question the pulse set no longer has
                known, other = where
                for value, n in values.items():
                    vector[known.get(value, other)] += n
        zero = [0] * width
        self.totals: dict[int, list[int]] = {}
        for gid in reversed(index.ids):
            total = vectors.get(gid, zero)
            for kid in index.children[gid]:
                total = list(map(operator.add, total, self.totals[kid]))
            self.totals[gid] = total
        slices = [(s.offset, s.offset + s.width) for s in scorings]
        self.n: dict[int, Counts] = {
            gid: tuple(sum(total[a:b]) for a, b in slices) for gid, total in self.totals.items()
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


@dataclass(frozen=True, slots=True, eq=False)
class _Rest:
    """What a round makes computable without showing it: "P minus its largest shown parts" — the answers directly
    under P and under its hidden groups. It lies inside P (and P's ancestors) and outside the shown parts."""

    owner: int
    parts: frozenset[int]  # P's largest shown parts in that round
    n: Counts
    index: _TreeIndex  # the tree of that round
    keys: frozenset[int]  # `n` as in `_keys`

    def excludes(self, gid: int) -> bool:
        """Whether the group lies inside one of the shown parts (so its answers are not in the rest)."""
        return self.index.within(gid, self.parts)


class _Published:
    """What the rounds with one tree snapshot published: per group the count vectors it was shown with; and,
    per question and count, which groups and which rests were published with that count — so "is anything
    nested within 1..threshold-1 of these counts" is a few lookups, not a scan."""

    def __init__(self, index: _TreeIndex, questions: int) -> None:
        self.index = index
        self.cells: dict[int, set[Counts]] = {}
        # per group: every (question, count) it was shown with, as in `_keys`
        self.keys_of: dict[int, set[int]] = {}
        self.rest_keys: set[tuple[int, frozenset[int], Counts]] = set()
        self.rests: dict[int, list[_Rest]] = {}  # per owner
        self.cells_at: list[dict[int, set[int]]] = [{} for _ in range(questions)]
        self.rests_at: list[dict[int, list[_Rest]]] = [{} for _ in range(questions)]

    def add_cell(self, gid: int, n: Counts) -> None:
        versions = self.cells.setdefault(gid, set())
        if n in versions:
            return
        versions.add(n)
        self.keys_of.setdefault(gid, set()).update(_keys(n))
        for q, k in enumerate(n):
            self.cells_at[q].setdefault(k, set()).add(gid)

    def add_rest(self, rest: _Rest) -> None:
        key = (rest.owner, rest.parts, rest.n)
        if key in self.rest_keys:
            return
        self.rest_keys.add(key)
        self.rests.setdefault(rest.owner, []).append(rest)
        for q, k in enumerate(rest.n):
            self.rests_at[q].setdefault(k, []).append(rest)

    def cells_near(self, windows: Sequence[frozenset[int]]) -> Iterator[int]:
        """Groups published with a count in the window of some question (see `_windows`)."""
        for table, window in zip(self.cells_at, windows, strict=True):
            for k in window:
                yield from table.get(k, ())

    def rests_near(self, windows: Sequence[frozenset[int]]) -> Iterator[_Rest]:
        for table, window in zip(self.rests_at, windows, strict=True):
            for k in window:
                yield from table.get(k, ())

    def shown_near(self, gid: int, near: frozenset[int]) -> bool:
        """Whether the group was shown with a count 1..threshold-1 away for some question (`near`: see
        `_near_keys`)."""
        keys = self.keys_of.get(gid)
        return keys is not None and not keys.isdisjoint(near)


class _History:
    """What earlier rounds published, per tree snapshot."""

    def __init__(self, questions: int) -> None:
        self.questions = questions
        self.by_tree: dict[int, _Published] = {}

    def add(
        self,
        index: _TreeIndex,
        counts: Mapping[int, Counts],
        shown: Iterable[int],
        rests: Iterable[_Rest],
    ) -> None:
        published = self.by_tree.get(id(index))
        if published is None:
            published = self.by_tree[id(index)] = _Published(index, self.questions)
        for gid in shown:
            published.add_cell(gid, counts[gid])
        for rest in rests:
            published.add_rest(rest)

    def versions(self) -> dict[int, set[Counts]]:
        if len(self.by_tree) == 1:
            return next(iter(self.by_tree.values())).cells
        found: dict[int, set[Counts]] = {}
        for published in self.by_tree.values():
            for gid, versions in published.cells.items():
                found.setdefault(gid, set()).update(versions)
        return found


def _near(mine: Counts, other: Counts, threshold: int) -> bool:
    """Whether `other` differs from `mine` by 1..threshold-1 for some question."""
    return any(0 < abs(a - b) < threshold for a, b in zip(mine, other, strict=True))


def _nest(rnd: _Round, published: _Published, a: int, b: int) -> bool:
    """Whether two groups' answer sets nest, in this round's tree or in the earlier round's."""
    return rnd.index.nests(a, b) or (published.index is not rnd.index and published.index.nests(a, b))


# A group with a subtree this small (a team) has few groups it nests with: scanning their published counts is
# cheaper than looking up every count near its own, which many other small groups share.
_SCAN_SUBTREE = 4


def _keys(n: Counts) -> frozenset[int]:
    """A count vector as a set of (question, count) pairs, each as one int: count · questions + question."""
    width = len(n)
    return frozenset(k * width + q for q, k in enumerate(n))


@functools.lru_cache(maxsize=8192)
def _near_keys(n: Counts, threshold: int) -> frozenset[int]:
    """The (question, count) pairs, as in `_keys`, of every count 1..threshold-1 away from `n`."""
    width = len(n)
    return frozenset(
        (k + d) * width + q for q, k in enumerate(n) for d in range(1 - threshold, threshold) if d
    )


@functools.lru_cache(maxsize=8192)
def _window(count: int, threshold: int) -> frozenset[int]:
    return frozenset(count + d for d in range(1 - threshold, threshold) if d)


def _windows(n: Counts, threshold: int) -> list[frozenset[int]]:
    """Per question, the counts 1..threshold-1 away from this one: the ones that must not sit beside it."""
    return [_window(k, threshold) for k in n]


def _near_nested_earlier(rnd: _Round, published: _Published, gid: int, threshold: int) -> bool:
    """Whether an earlier cell or rest the group nests with differs from its counts by 1..threshold-1."""
    mine = rnd.n[gid]
    if rnd.index.size(gid) <= _SCAN_SUBTREE and published.index.size(gid) <= _SCAN_SUBTREE:
        near = _near_keys(mine, threshold)
        related = rnd.index.related(gid)
        if published.index is not rnd.index:
            related = list({*related, *published.index.related(gid)})
        return any(published.shown_near(h, near) for h in related) or any(
            not rest.keys.isdisjoint(near) and not rest.excludes(gid)
            for h in related
            for rest in published.rests.get(h, ())
        )
    windows = _windows(mine, threshold)
    return any(_nest(rnd, published, gid, h) for h in published.cells_near(windows)) or any(
        _nest(rnd, published, gid, rest.owner) and not rest.excludes(gid)
        for rest in published.rests_near(windows)
    )


def _guard_rounds(rnd: _Round, candidates: set[int], history: _History, threshold: int) -> None:
    """Differencing guard: drop candidates whose counts differ by 1..threshold-1 (for some question) from a
    nested earlier cell (nested in this round's tree or in the tree of the round that published it), or from an
    earlier rest they nest with (a rest lies inside its owner and outside the owner's shown parts)."""
    for gid in list(candidates):
        if any(_near_nested_earlier(rnd, p, gid, threshold) for p in history.by_tree.values()):
            candidates.discard(gid)


def _rests(rnd: _Round, shown: set[int]) -> list[_Rest]:
    """The rest of every shown group that has shown parts, children before parents."""
    index = rnd.index
    frontier: dict[int, list[int]] = {}  # per group: the highest shown groups in its subtree
    found: list[_Rest] = []
    for gid in reversed(index.ids):
        below = [top for kid in index.children[gid] for top in frontier[kid]]
        if gid not in shown:
            frontier[gid] = below
            continue
        frontier[gid] = [gid]
        if below:
            n = list(rnd.n[gid])
            for part in below:
                n = list(map(operator.sub, n, rnd.n[part]))
            if any(n):  # an empty rest tells nothing: every published count is 0 or at least the threshold
                found.append(_Rest(gid, frozenset(below), tuple(n), index, _keys(tuple(n))))
    return found


def _rest_conflicts(rnd: _Round, rest: _Rest, history: _History, threshold: int) -> bool:
    """Whether a rest of this round differs by 1..threshold-1 from an earlier cell or rest it nests with."""
    owner = rest.owner
    windows = _windows(rest.n, threshold)
    for published in history.by_tree.values():
        for h in published.cells_near(windows):
            if _nest(rnd, published, owner, h) and not rest.excludes(h):
                return True
        for other in published.rests_near(windows):
            if (
                _nest(rnd, published, owner, other.owner)
                and not rest.excludes(other.owner)
                and not other.excludes(owner)
            ):
                return True
    return False


def _guard_rests(rnd: _Round, shown: set[int], history: _History, threshold: int) -> bool:
    """The differencing guard for what a round makes computable: "this round's department minus its shown
    teams" next to last round's department is a difference too. Hides this round's smallest shown part under
    the first conflicting rest (which makes that rest larger). Returns whether it hid anything."""
    for rest in sorted(_rests(rnd, shown), key=lambda r: r.owner):
        if not _rest_conflicts(rnd, rest, history, threshold):
            continue
        smallest = min(rest.parts, key=lambda p: (min(rnd.n[p]), sum(rnd.n[p]), p))
        shown.difference_update(rnd.index.subtree(smallest))
        return True
    return False


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


def _complementary(rnd: _Round, shown: set[int], threshold: int, earlier: Mapping[int, set[Counts]]) -> None:
    """Hide cells until, under every published group P, "P minus its largest published parts" is 0 or at least
    `threshold` answers — for every mix of this round's counts and the counts published in earlier rounds.

    Earlier rounds count because their figures stay out there: with stable teams, "last round's department minus
    last round's team minus this round's other team" is as good as a subtraction within one round. Only this
    round's cells can still be hidden: the smallest part first, else P itself.
    """

    def versions(gid: int) -> set[Counts]:
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


def _decide(rnd: _Round, shown: set[int], history: _History, threshold: int) -> list[_Rest]:
    """Narrow `shown` (groups over the threshold) to what this round may publish next to everything published
    before it; returns the rests it makes computable."""
    _guard_rounds(rnd, shown, history, threshold)
    while True:
        _complementary(rnd, shown, threshold, history.versions())
        if not _guard_rests(rnd, shown, history, threshold):
            break
    return _rests(rnd, shown)


def publication_order(data: RoundInput) -> tuple[datetime, datetime, str]:
    """The order rounds are decided in: when they closed, then when they opened, then by id."""
    return (data.closed_at, data.opened_at, str(data.pulse_id))


def aggregate(pulse_set: PulseSet, rounds: Sequence[RoundInput]) -> Insights:
    """Decide, round by round in the order they were published, what may be published; compute only what may.

    Any set of rounds closed by some moment gives the same decisions for those rounds as all rounds do: what was
    published at that moment is what is published now."""
    scorings: list[_Scoring] = []
    for question in pulse_set.questions:
        scorings.append(_Scoring.of(question, sum(s.width for s in scorings)))
    frozen_scorings = tuple(scorings)
    ids: dict[UUID, int] = {}
    indexes: dict[str, _TreeIndex] = {}
    same_tree: dict[int, _TreeIndex] = {}  # by the tree object: rounds read together usually share one
    score_history = _History(len(scorings))
    dist_history = _History(len(scorings))
    views: list[RoundView] = []
    for data in sorted(rounds, key=publication_order):
        index = same_tree.get(id(data.tree))
        if index is None:
            key = repr(sorted((str(g.id), str(g.parent_id), g.name, g.slug) for g in data.tree.groups))
            index = indexes.get(key)
            if index is None:
                index = indexes[key] = _TreeIndex(data.tree, ids)
            same_tree[id(data.tree)] = index
        rnd = _Round(data, scorings, index, ids)
        shown = {gid for gid, counts in rnd.n.items() if counts and min(counts) >= MIN_SCORE_ANSWERS}
        score_rests = _decide(rnd, shown, score_history, MIN_SCORE_ANSWERS)
        with_dist = {gid for gid in shown if min(rnd.n[gid]) >= MIN_DISTRIBUTION_ANSWERS}
        dist_rests = _decide(rnd, with_dist, dist_history, MIN_DISTRIBUTION_ANSWERS)

        cells: list[Cell] = []
        for gid, (group, depth) in zip(index.ids, index.order, strict=True):
            if gid not in shown:
                cells.append(Cell(group, depth, shown=False))
                continue
            cells.append(Cell(group, depth, True, tuple(rnd.totals[gid]), frozen_scorings, gid in with_dist))
        views.append(RoundView(data.pulse_id, data.opened_at, data.closed_at, tuple(cells)))
        score_history.add(index, rnd.n, shown, score_rests)
        dist_history.add(index, rnd.n, with_dist, dist_rests)
    shown_order = sorted(views, key=lambda v: (v.opened_at, v.closed_at, str(v.pulse_id)))
    return Insights(pulse_set, tuple(shown_order), tuple(views))
