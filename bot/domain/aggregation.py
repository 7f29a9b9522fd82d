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
    """One closed round: when it opened and closed (was published), its tree snapshot, and its answers counted
    per (group, question) and value.

    `counts` holds the answers stored directly under each group (usually a team); parents add up their children.
    """

    pulse_id: UUID
    opened_at: datetime
    closed_at: datetime
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


Counts = tuple[int, ...]  # one number per question


@dataclass(frozen=True, slots=True)
class _Rest:
    """What a round makes computable without showing it: "P minus its largest shown parts" — the answers directly
    under P and under its hidden groups. It lies inside P (and P's ancestors) and outside the shown parts."""

    owner: int
    outside: frozenset[int]  # every group inside one of P's shown parts (in that round's tree)
    n: Counts


class _Published:
    """What one tree snapshot's rounds published: per group the count vectors it was shown with, and the rests
    those rounds made computable, per owner."""

    def __init__(self, index: _TreeIndex) -> None:
        self.index = index
        self.cells: dict[int, set[Counts]] = {}
        self.rests: dict[int, set[_Rest]] = {}


class _History:
    """What earlier rounds published, per tree snapshot."""

    def __init__(self) -> None:
        self.by_tree: dict[int, _Published] = {}

    def add(
        self,
        index: _TreeIndex,
        counts: Mapping[int, Counts],
        shown: Iterable[int],
        rests: Iterable[_Rest],
    ) -> None:
        published = self.by_tree.setdefault(id(index), _Published(index))
        for gid in shown:
            published.cells.setdefault(gid, set()).add(counts[gid])
        for rest in rests:
            published.rests.setdefault(rest.owner, set()).add(rest)

    def versions(self, groups: Iterable[int]) -> dict[int, set[Counts]]:
        wanted = set(groups)
        found: dict[int, set[Counts]] = {}
        for published in self.by_tree.values():
            for gid, versions in published.cells.items():
                if gid in wanted:
                    found.setdefault(gid, set()).update(versions)
        return found


def _near(mine: Counts, other: Counts, threshold: int) -> bool:
    """Whether `other` differs from `mine` by 1..threshold-1 for some question."""
    return any(0 < abs(a - b) < threshold for a, b in zip(mine, other, strict=True))


def _near_any(mine: Counts, others: Iterable[Counts], threshold: int) -> bool:
    """Whether some vector differs from `mine` by 1..threshold-1 in some position."""
    return any(other != mine and _near(mine, other, threshold) for other in others)


def _related(rnd: _Round, published: _Published, gid: int) -> Iterable[int]:
    """The groups whose answer sets nest with `gid`'s, in this round's tree or in the earlier round's."""
    related_now = rnd.index.related(gid)
    if published.index is rnd.index:
        return related_now
    return {*related_now, *published.index.related(gid)}


def _guard_rounds(rnd: _Round, candidates: set[int], history: _History, threshold: int) -> None:
    """Differencing guard: drop candidates whose counts differ by 1..threshold-1 from a nested earlier cell
    (nested in this round's tree or in the tree of the round that published it), or from an earlier rest they
    nest with (a rest lies inside its owner and outside the owner's shown parts)."""
    for gid in list(candidates):
        mine = rnd.n[gid]
        for published in history.by_tree.values():
            related = _related(rnd, published, gid)
            if _near_any(mine, (v for h in related for v in published.cells.get(h, ())), threshold) or any(
                gid not in rest.outside and _near(mine, rest.n, threshold)
                for h in related
                for rest in published.rests.get(h, ())
            ):
                candidates.discard(gid)
                break


def _rests(rnd: _Round, shown: set[int]) -> dict[int, tuple[_Rest, list[int]]]:
    """Per shown group, its rest and its largest shown parts."""
    found: dict[int, tuple[_Rest, list[int]]] = {}
    for gid in shown:
        parts = rnd.maximal_shown_below(gid, shown)
        n = list(rnd.n[gid])
        outside: set[int] = set()
        for part in parts:
            for q, k in enumerate(rnd.n[part]):
                n[q] -= k
            outside.update(rnd.index.subtree(part))
        found[gid] = (_Rest(gid, frozenset(outside), tuple(n)), parts)
    return found


def _rest_conflicts(rnd: _Round, rest: _Rest, history: _History, threshold: int) -> bool:
    """Whether a rest of this round differs by 1..threshold-1 from an earlier cell or rest it nests with."""
    for published in history.by_tree.values():
        for h in _related(rnd, published, rest.owner):
            if h in rest.outside:
                continue
            if _near_any(rest.n, published.cells.get(h, ()), threshold):
                return True
            for other in published.rests.get(h, ()):
                if (
                    rest.owner not in other.outside
                    and other.n != rest.n
                    and _near(rest.n, other.n, threshold)
                ):
                    return True
    return False


def _guard_rests(rnd: _Round, shown: set[int], history: _History, threshold: int) -> bool:
    """The differencing guard for what a round makes computable: "this round's department minus its shown
    teams" next to last round's department is a difference too. Hides this round's smallest shown part under
    the first conflicting rest (which makes that rest larger), or the group itself. Returns whether it hid
    anything."""
    for _gid, (rest, parts) in sorted(_rests(rnd, shown).items()):
        if not parts or not _rest_conflicts(rnd, rest, history, threshold):
            continue
        smallest = min(parts, key=lambda p: (min(rnd.n[p]), sum(rnd.n[p]), p))
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


def _decide(rnd: _Round, shown: set[int], history: _History, threshold: int) -> list[_Rest]:
    """Narrow `shown` (groups over the threshold) to what this round may publish next to everything published
    before it; returns the rests it makes computable."""
    _guard_rounds(rnd, shown, history, threshold)
    while True:
        _complementary(rnd, shown, threshold, history.versions(rnd.index.ids))
        if not _guard_rests(rnd, shown, history, threshold):
            break
    return [rest for rest, parts in _rests(rnd, shown).values() if parts]


def publication_order(data: RoundInput) -> tuple[datetime, datetime, str]:
    """The order rounds are decided in: when they closed, then when they opened, then by id."""
    return (data.closed_at, data.opened_at, str(data.pulse_id))


def aggregate(pulse_set: PulseSet, rounds: Sequence[RoundInput]) -> Insights:
    """Decide, round by round in the order they were published, what may be published; compute only what may.

    Any set of rounds closed by some moment gives the same decisions for those rounds as all rounds do: what was
    published at that moment is what is published now."""
    questions = pulse_set.questions
    scorings = tuple(_Scoring.of(q) for q in questions)
    ids: dict[UUID, int] = {}
    indexes: dict[str, _TreeIndex] = {}
    score_history = _History()
    dist_history = _History()
    views: list[RoundView] = []
    for data in sorted(rounds, key=publication_order):
        key = repr(sorted((str(g.id), str(g.parent_id), g.name, g.slug) for g in data.tree.groups))
        index = indexes.get(key)
        if index is None:
            index = indexes[key] = _TreeIndex(data.tree, ids)
        rnd = _Round(data, questions, index)
        shown = {gid for gid, counts in rnd.n.items() if counts and min(counts) >= MIN_SCORE_ANSWERS}
        score_rests = _decide(rnd, shown, score_history, MIN_SCORE_ANSWERS)
        with_dist = {gid for gid in shown if min(rnd.n[gid]) >= MIN_DISTRIBUTION_ANSWERS}
        dist_rests = _decide(rnd, with_dist, dist_history, MIN_DISTRIBUTION_ANSWERS)

        cells: list[Cell] = []
        for gid, (group, depth) in zip(index.ids, index.order, strict=True):
            if gid not in shown:
                cells.append(Cell(group, depth, shown=False))
                continue
            cells.append(Cell(group, depth, True, tuple(rnd.dist[gid]), scorings, gid in with_dist))
        views.append(RoundView(data.pulse_id, data.opened_at, data.closed_at, tuple(cells)))
        score_history.add(index, rnd.n, shown, score_rests)
        dist_history.add(index, rnd.n, with_dist, dist_rests)
    shown_order = sorted(views, key=lambda v: (v.opened_at, v.closed_at, str(v.pulse_id)))
    return Insights(pulse_set, tuple(shown_order), tuple(views))
