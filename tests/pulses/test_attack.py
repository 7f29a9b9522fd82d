"""The attack test: an adversary takes everything the insights path ever publishes and subtracts across groups and
rounds, trying to isolate the answers of fewer than 5 people (or a distribution of fewer than 10).

The adversary is strong on purpose: it knows every team's members in every round, who answered which question, and
assumes each person answers a question the same in every round, so one person's answer to one question is one
unknown across rounds. A set of people is computable when its indicator vector lies in the span of the published
cells' indicator vectors (per question: answers to different questions are different unknowns). Every vector in
that span is constant on "atoms" (people who are in exactly the same published cells), so it is enough to test
every union of atoms smaller than the threshold.

"Published" means everything any output showed at any time: rounds become visible when they close, so the
adversary collects what the insights path gives after every close and attacks the union of all of it — a number
shown once cannot be taken back by hiding it later.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.catalog import ContentLibrary
from bot.domain.aggregation import (
    MIN_DISTRIBUTION_ANSWERS,
    MIN_SCORE_ANSWERS,
    Cell,
    Insights,
    RoundInput,
    RoundView,
    aggregate,
)
from bot.domain.content import PulseSet
from bot.domain.pulses import answer_options
from bot.domain.tenancy import Group, GroupKind, GroupTree

ORG = uuid.uuid4()
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def build_tree(departments: dict[str, list[str]]) -> tuple[GroupTree, dict[str, uuid.UUID]]:
    ids: dict[str, uuid.UUID] = {"org": uuid.uuid4()}
    groups = [Group(ids["org"], ORG, None, GroupKind.ORGANISATION, "org", "Organisation")]
    for dept, teams in departments.items():
        ids[dept] = uuid.uuid4()
        groups.append(Group(ids[dept], ORG, ids["org"], GroupKind.DEPARTMENT, dept, dept))
        for team in teams:
            ids[team] = uuid.uuid4()
            groups.append(Group(ids[team], ORG, ids[dept], GroupKind.TEAM, team, team))
    return GroupTree(tuple(groups)), ids


@dataclass(frozen=True)
class Planned:
    """One round as a test plans it."""

    # person -> the group their answers count for: a team, or a department / the organisation for a DM click
    membership: Mapping[str, str]
    opened_at: datetime
    closed_at: datetime
    skipped: frozenset[tuple[str, str]] = frozenset()  # (person, question id) left unanswered


# (group id, question id) -> the people whose answer to that question counts in the group (directly or below)
Answerers = dict[tuple[uuid.UUID, str], frozenset[str]]


@dataclass
class Played:
    rounds: list[RoundInput] = field(default_factory=list)
    answerers: dict[uuid.UUID, Answerers] = field(default_factory=dict)  # per round id
    closes: dict[uuid.UUID, datetime] = field(default_factory=dict)  # per round id: when it was published


def play(
    pulse_set: PulseSet,
    tree: GroupTree,
    ids: dict[str, uuid.UUID],
    plans: Sequence[Planned],
    rng: random.Random,
) -> Played:
    """Every planned round answered (random values), counted as storage tallies it."""
    played = Played()
    for plan in plans:
        counts: dict[uuid.UUID, dict[str, dict[str, int]]] = {}
        who: dict[tuple[uuid.UUID, str], set[str]] = {}
        for person, group in sorted(plan.membership.items()):
            gid = ids[group]
            for question in pulse_set.questions:
                if (person, question.id) in plan.skipped:
                    continue
                value = rng.choice(answer_options(question))
                cell = counts.setdefault(gid, {}).setdefault(question.id, {})
                cell[value] = cell.get(value, 0) + 1
                for g in (gid, *(a.id for a in tree.ancestors(gid))):
                    who.setdefault((g, question.id), set()).add(person)
        pulse_id = uuid.uuid4()
        played.rounds.append(RoundInput(pulse_id, plan.opened_at, plan.closed_at, tree, counts))
        played.answerers[pulse_id] = {k: frozenset(v) for k, v in who.items()}
        played.closes[pulse_id] = plan.closed_at
    return played


def publications(pulse_set: PulseSet, played: Played) -> list[Insights]:
    """What the insights path gives after each close: every round closed by then, through `aggregate`."""
    moments = sorted(set(played.closes.values()))
    return [
        aggregate(pulse_set, [r for r in played.rounds if played.closes[r.pulse_id] <= moment])
        for moment in moments
    ]


def smallest_computable(rows: list[frozenset[str]], people: list[str], below: int) -> set[str] | None:
    """A set of fewer than `below` people whose indicator is in the span of `rows`, or None."""
    if not rows:
        return None
    matrix = np.array([[1.0 if p in row else 0.0 for p in people] for row in rows])
    rank = np.linalg.matrix_rank(matrix)
    signatures: dict[tuple[int, ...], list[str]] = {}
    for j, person in enumerate(people):
        signature = tuple(int(v) for v in matrix[:, j])
        if any(signature):
            signatures.setdefault(signature, []).append(person)
    atoms = [a for a in signatures.values() if len(a) < below]
    for size in range(1, len(atoms) + 1):
        for combo in itertools.combinations(atoms, size):
            union = [p for atom in combo for p in atom]
            if len(union) >= below:
                continue
            vector = np.array([[1.0 if p in union else 0.0 for p in people]])
            if np.linalg.matrix_rank(np.vstack([matrix, vector])) == rank:
                return set(union)
    return None


def _attack(rows: dict[tuple[uuid.UUID, str], set[frozenset[str]]], below: int, what: str) -> None:
    people = sorted({p for sets in rows.values() for s in sets for p in s})
    per_question: dict[str, set[frozenset[str]]] = {}
    tried: set[frozenset[frozenset[str]]] = set()
    for (pulse_id, question_id), sets in sorted(rows.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        per_question.setdefault(question_id, set()).update(sets)
        if frozenset(sets) in tried:
            continue
        tried.add(frozenset(sets))
        # Within one round (the weaker adversary: answers differ from round to round).
        leak = smallest_computable(sorted(sets, key=sorted), people, below)
        assert leak is None, f"round {pulse_id}, {question_id}: {what} of {sorted(leak)} computable"
    for question_id, sets in sorted(per_question.items()):
        if frozenset(sets) in tried:
            continue
        tried.add(frozenset(sets))
        # Across rounds, as if everybody answered the same every round.
        leak = smallest_computable(sorted(sets, key=sorted), people, below)
        assert leak is None, f"across rounds, {question_id}: {what} of {sorted(leak)} computable"


def assert_no_leak(snapshots: Sequence[Insights], played: Played) -> None:
    """Attack the union of everything published in any snapshot."""
    score: dict[tuple[uuid.UUID, str], set[frozenset[str]]] = {}
    dist: dict[tuple[uuid.UUID, str], set[frozenset[str]]] = {}
    for insights in snapshots:
        for view in insights.rounds:
            answerers = played.answerers[view.pulse_id]
            for cell in view.cells:
                if not cell.shown:
                    assert cell.figures == ()
                    assert cell.respondents is None
                    assert cell.index is None
                    continue
                for figures in cell.figures:
                    who = answerers.get((cell.group.id, figures.question_id), frozenset())
                    assert figures.answers == len(who)
                    assert figures.answers >= MIN_SCORE_ANSWERS
                    score.setdefault((view.pulse_id, figures.question_id), set()).add(who)
                    if figures.distribution is not None:
                        assert cell.distribution_shown
                        assert figures.answers >= MIN_DISTRIBUTION_ANSWERS
                        assert sum(n for _, n in figures.distribution) == figures.answers
                        dist.setdefault((view.pulse_id, figures.question_id), set()).add(who)
    _attack(score, MIN_SCORE_ANSWERS, "answers")
    _attack(dist, MIN_DISTRIBUTION_ANSWERS, "distribution")


def assert_never_contradicted(snapshots: Sequence[Insights]) -> None:
    """Once a round is published, what it shows — and what it hides — stays as it was in every later output."""
    first: dict[tuple[uuid.UUID, uuid.UUID], tuple[object, ...]] = {}
    for number, insights in enumerate(snapshots):
        for view in insights.rounds:
            for cell in view.cells:
                seen = (cell.shown, cell.distribution_shown, cell.respondents, cell.figures)
                key = (view.pulse_id, cell.group.id)
                earlier = first.setdefault(key, seen)
                assert earlier == seen, (
                    f"publication {number}: {cell.group.slug} changed from {earlier} to {seen}"
                )


def weekly(memberships: Sequence[Mapping[str, str]], window: timedelta = timedelta(days=3)) -> list[Planned]:
    return [
        Planned(m, START + timedelta(weeks=i), START + timedelta(weeks=i) + window)
        for i, m in enumerate(memberships)
    ]


def out_of_order(played: Played) -> bool:
    """Whether some round opened later than another closed before it."""
    by_opening = sorted(played.rounds, key=lambda r: r.opened_at)
    return any(
        played.closes[later.pulse_id] < played.closes[earlier.pulse_id]
        for earlier, later in itertools.combinations(by_opening, 2)
        if later.opened_at > earlier.opened_at
    )


@pytest.fixture
def checkin(content: ContentLibrary) -> PulseSet:
    found = content.catalog.pulse_set("wekelijkse-check-in")
    assert found is not None
    return found


def cell_of(view: RoundView, group_id: uuid.UUID) -> Cell:
    found = view.cell(group_id)
    assert found is not None
    return found


def team_roster(sizes: dict[str, int]) -> dict[str, str]:
    return {f"{team}-{i}": team for team, size in sizes.items() for i in range(size)}


def test_the_issue_scenario_teams_of_3_4_6_9_with_a_mover(checkin: PulseSet) -> None:
    tree, ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    base = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    moved = dict(base, **{"t6-0": "t4"})  # one person moves from the team of 6 to the team of 4
    played = play(checkin, tree, ids, weekly([base, base, moved, moved, base, moved]), random.Random(7))
    snapshots = publications(checkin, played)
    assert_no_leak(snapshots, played)
    assert_never_contradicted(snapshots)

    insights = snapshots[-1]
    first, third = insights.rounds[0], insights.rounds[2]
    # Something useful is still published: the department, the team of 9 and the team of 6 in round one.
    assert cell_of(first, ids["dept"]).shown
    assert cell_of(first, ids["t9"]).shown
    assert cell_of(first, ids["t6"]).shown
    assert not cell_of(first, ids["t3"]).shown
    assert not cell_of(first, ids["t4"]).shown
    # After the move the team of 6 has 5 answers: shown alone it would be fine, next to last round's 6 it is not.
    assert not cell_of(third, ids["t6"]).shown
    assert cell_of(third, ids["dept"]).shown
    assert cell_of(third, ids["t9"]).shown
    # Nobody's distribution under 10; the department of 22 shows one.
    assert cell_of(first, ids["dept"]).distribution_shown
    assert not cell_of(first, ids["t9"]).distribution_shown


def test_a_round_that_opened_later_but_closed_first_is_decided_first(checkin: PulseSet) -> None:
    """The audit's scenario. Round A (a week) opens; round B (three days) opens a day later and closes first.
    B is published alone with the team of 6 at 6. When A closes, one of the six did not answer A: A's team of 6
    has 5. Showing that 5 next to B's 6, already out, gives the sixth person away — so A's must be hidden, and
    B's 6 must stay what it was."""
    tree, ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    everyone = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    without_one = {p: t for p, t in everyone.items() if p != "t6-0"}
    a = Planned(without_one, START, START + timedelta(days=7))
    b = Planned(everyone, START + timedelta(days=1), START + timedelta(days=4))
    played = play(checkin, tree, ids, [a, b], random.Random(3))
    a_id, b_id = (r.pulse_id for r in played.rounds)
    assert out_of_order(played)

    after_b, after_a = publications(checkin, played)
    assert_no_leak([after_b, after_a], played)
    assert_never_contradicted([after_b, after_a])
    # At B's close only B is out: the team of 6 is shown with 6 answers.
    assert [v.pulse_id for v in after_b.rounds] == [b_id]
    b_team = after_b.rounds[0].cell(ids["t6"])
    assert b_team is not None
    assert b_team.shown
    assert b_team.respondents == 6
    # At A's close B's figures are what they were, and A's 5 is not shown beside them.
    assert [v.pulse_id for v in after_a.rounds] == [a_id, b_id]  # shown in the order the rounds opened
    assert after_a.latest is not None
    assert after_a.latest.pulse_id == a_id  # the summary sent at A's close is about A
    views = {v.pulse_id: v for v in after_a.rounds}
    assert views[b_id].cell(ids["t6"]) == b_team
    a_team = views[a_id].cell(ids["t6"])
    assert a_team is not None
    assert not a_team.shown
    # The department (21 now, 22 then) is the same story one level up.
    a_dept = views[a_id].cell(ids["dept"])
    assert a_dept is not None
    assert not a_dept.shown
    # The team of 9 did not change: still worth showing.
    a_nine = views[a_id].cell(ids["t9"])
    assert a_nine is not None
    assert a_nine.shown


def test_the_order_rounds_are_handed_in_does_not_matter(checkin: PulseSet) -> None:
    """Decisions follow publication, never the order storage happens to return rounds in."""
    tree, ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    everyone = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    without_one = {p: t for p, t in everyone.items() if p != "t6-0"}
    same_close = START + timedelta(days=4)
    plans = [
        Planned(without_one, START, START + timedelta(days=7)),
        Planned(everyone, START + timedelta(days=1), same_close),
        # closed in the same minute as the one above
        Planned(without_one, START + timedelta(days=2), same_close),
    ]
    played = play(checkin, tree, ids, plans, random.Random(5))
    results = {
        tuple(
            (v.pulse_id, c.group.id, c.shown, c.distribution_shown)
            for v in aggregate(checkin, order).rounds
            for c in v.cells
        )
        for order in itertools.permutations(played.rounds)
    }
    assert len(results) == 1
    snapshots = publications(checkin, played)
    assert_no_leak(snapshots, played)
    assert_never_contradicted(snapshots)


def test_a_naive_publisher_would_leak_so_the_adversary_has_teeth(checkin: PulseSet) -> None:
    """Publishing every group with ≥5 answers, without the guards, is caught by the same adversary."""
    _tree, _ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    base = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    people = sorted(base)
    members = {
        "dept": frozenset(people),
        "t6": frozenset(p for p in people if base[p] == "t6"),
        "t9": frozenset(p for p in people if base[p] == "t9"),
    }
    members["t4+t6"] = members["t6"] | {p for p in people if base[p] == "t4"}
    # dept, t6, t9 alone leave t3+t4 (7 people): safe. Adding t4+t6 as a group would leave t3 (3 people).
    assert smallest_computable([members["dept"], members["t6"], members["t9"]], people, 5) is None
    leak = smallest_computable([members["dept"], members["t6"], members["t9"], members["t4+t6"]], people, 5)
    assert leak is not None
    assert len(leak) == 3
    # Across rounds: team of 6 then the same team minus one person.
    leak = smallest_computable([members["t6"], members["t6"] - {"t6-0"}], people, 5)
    assert leak == {"t6-0"}


def test_the_adversary_attacks_every_publication_not_only_the_last(checkin: PulseSet) -> None:
    """A publisher that decides each round on its own is caught, though each of its outputs alone looks fine;
    and a number that changes between two outputs is caught as a contradiction."""
    tree, ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    everyone = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    without_one = {p: t for p, t in everyone.items() if p != "t6-0"}
    a = Planned(without_one, START, START + timedelta(days=7))
    b = Planned(everyone, START + timedelta(days=1), START + timedelta(days=4))
    played = play(checkin, tree, ids, [a, b], random.Random(3))
    round_a, round_b = played.rounds
    forgetful = [aggregate(checkin, [round_b]), aggregate(checkin, [round_a])]
    assert_no_leak(forgetful[:1], played)
    assert_no_leak(forgetful[1:], played)
    with pytest.raises(AssertionError, match="t6-0"):
        assert_no_leak(forgetful, played)

    fewer = {k: v for k, v in round_b.counts.items() if k != ids["t3"]}
    changed = RoundInput(round_b.pulse_id, round_b.opened_at, round_b.closed_at, tree, fewer)
    with pytest.raises(AssertionError, match="changed"):
        assert_never_contradicted([aggregate(checkin, [round_b]), aggregate(checkin, [changed])])


def random_plans(rng: random.Random, layout: dict[str, list[str]], questions: Sequence[str]) -> list[Planned]:
    """Rounds of a random organisation: moves, joiners and leavers, DM answers that land on a department or the
    organisation, people skipping questions, and overlapping windows of 1–10 days closing in any order."""
    teams = [t for ts in layout.values() for t in ts]
    direct = ["org", *layout]  # where a click from a DM lands: the round's audience group
    roster = {
        f"p{i}": team
        for i, team in enumerate(t for t in teams for _ in range(rng.choice([2, 3, 4, 5, 6, 9, 11])))
    }
    dm_share = rng.choice([0.0, 0.1, 0.25])
    skip_share = rng.choice([0.0, 0.05, 0.15])
    for person in sorted(roster):
        if rng.random() < dm_share:
            roster[person] = rng.choice(direct)
    plans: list[Planned] = []
    opened = START
    for round_number in range(rng.randint(3, 7)):
        if round_number:
            roster = dict(roster)
            for _ in range(rng.randint(1, 2)):
                action = rng.choice(["move", "move", "join", "leave", "dm"])
                if action == "move":
                    roster[rng.choice(sorted(roster))] = rng.choice(teams)
                elif action == "dm":
                    roster[rng.choice(sorted(roster))] = rng.choice(direct)
                elif action == "join":
                    roster[f"new{round_number}-{len(roster)}"] = rng.choice(teams)
                elif len(roster) > 1:
                    del roster[rng.choice(sorted(roster))]
        skipped = frozenset((p, q) for p in sorted(roster) for q in questions if rng.random() < skip_share)
        window = timedelta(days=rng.randint(1, 10), minutes=rng.choice([0, 0, 30]))
        plans.append(Planned(roster, opened, opened + window, skipped))
        opened += timedelta(days=rng.randint(1, 4))
    if len(plans) > 1 and not any(
        later.closed_at < earlier.closed_at for earlier, later in itertools.combinations(plans, 2)
    ):
        # Make sure some round that opened later closes first: stretch the first one past the last close.
        first = plans[0]
        plans[0] = Planned(
            first.membership, first.opened_at, plans[-1].closed_at + timedelta(days=1), first.skipped
        )
    return plans


@pytest.mark.parametrize("seed", range(150))
def test_random_organisations_overlapping_rounds_never_leak(checkin: PulseSet, seed: int) -> None:
    rng = random.Random(seed)
    layout = {f"d{d}": [f"d{d}t{t}" for t in range(rng.randint(2, 4))] for d in range(rng.randint(1, 3))}
    tree, ids = build_tree(layout)
    plans = random_plans(rng, layout, [q.id for q in checkin.questions])
    played = play(checkin, tree, ids, plans, rng)
    assert out_of_order(played)
    snapshots = publications(checkin, played)
    assert_no_leak(snapshots, played)
    assert_never_contradicted(snapshots)
