"""The attack test: an adversary takes everything the insights path publishes and subtracts across groups and
rounds, trying to isolate the answers of fewer than 5 people (or a distribution of fewer than 10).

The adversary is strong on purpose: it knows every team's members in every round and assumes each person answers
the same in every round, so one person's answers are one unknown across rounds. A set of people is computable when
its indicator vector lies in the span of the published cells' indicator vectors. Every vector in that span is
constant on "atoms" (people who are in exactly the same published cells), so it is enough to test every union of
atoms smaller than the threshold.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from bot.catalog import ContentLibrary
from bot.domain.aggregation import (
    MIN_DISTRIBUTION_ANSWERS,
    MIN_SCORE_ANSWERS,
    Insights,
    RoundInput,
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


def simulate(
    pulse_set: PulseSet,
    tree: GroupTree,
    ids: dict[str, uuid.UUID],
    memberships: Sequence[dict[str, str]],  # per round: person -> team name
    rng: random.Random,
) -> tuple[Insights, list[dict[uuid.UUID, set[str]]]]:
    """Everyone answers every question; returns what is published and who is in each group per round."""
    rounds: list[RoundInput] = []
    members_per_round: list[dict[uuid.UUID, set[str]]] = []
    for index, membership in enumerate(memberships):
        counts: dict[tuple[uuid.UUID, str], dict[str, int]] = {}
        for _person, team in membership.items():
            for question in pulse_set.questions:
                value = rng.choice(answer_options(question))
                cell = counts.setdefault((ids[team], question.id), {})
                cell[value] = cell.get(value, 0) + 1
        members: dict[uuid.UUID, set[str]] = {g.id: set() for g in tree.groups}
        for person, team in membership.items():
            members[ids[team]].add(person)
            for ancestor in tree.ancestors(ids[team]):
                members[ancestor.id].add(person)
        members_per_round.append(members)
        rounds.append(RoundInput(uuid.uuid4(), START + timedelta(weeks=index), tree, counts))
    return aggregate(pulse_set, rounds), members_per_round


def smallest_computable(rows: list[set[str]], people: list[str], below: int) -> set[str] | None:
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


def assert_no_leak(insights: Insights, members_per_round: list[dict[uuid.UUID, set[str]]]) -> None:
    people = sorted({p for members in members_per_round for s in members.values() for p in s})
    score_rows: list[set[str]] = []
    dist_rows: list[set[str]] = []
    for view, members in zip(insights.rounds, members_per_round, strict=True):
        round_score: list[set[str]] = []
        round_dist: list[set[str]] = []
        for cell in view.cells:
            if not cell.shown:
                assert cell.figures == ()
                assert cell.respondents is None
                assert cell.index is None
                continue
            who = members[cell.group.id]
            for figures in cell.figures:
                assert figures.answers == len(who)
                assert figures.answers >= MIN_SCORE_ANSWERS
                if figures.distribution is not None:
                    assert figures.answers >= MIN_DISTRIBUTION_ANSWERS
                    assert sum(n for _, n in figures.distribution) == figures.answers
            round_score.append(who)
            if cell.distribution_shown:
                round_dist.append(who)
        # Within one round (answers are different answers each round).
        leak = smallest_computable(round_score, people, MIN_SCORE_ANSWERS)
        assert leak is None, f"round {view.opened_at:%Y-%m-%d}: answers of {sorted(leak)} computable"
        leak = smallest_computable(round_dist, people, MIN_DISTRIBUTION_ANSWERS)
        assert leak is None, f"round {view.opened_at:%Y-%m-%d}: distribution of {sorted(leak)} computable"
        score_rows.extend(round_score)
        dist_rows.extend(round_dist)
    # Across rounds, as if everybody answered the same every round.
    leak = smallest_computable(score_rows, people, MIN_SCORE_ANSWERS)
    assert leak is None, f"across rounds: answers of {sorted(leak)} computable"
    leak = smallest_computable(dist_rows, people, MIN_DISTRIBUTION_ANSWERS)
    assert leak is None, f"across rounds: distribution of {sorted(leak)} computable"


@pytest.fixture
def checkin(content: ContentLibrary) -> PulseSet:
    found = content.catalog.pulse_set("wekelijkse-check-in")
    assert found is not None
    return found


def team_roster(sizes: dict[str, int]) -> dict[str, str]:
    return {f"{team}-{i}": team for team, size in sizes.items() for i in range(size)}


def test_the_issue_scenario_teams_of_3_4_6_9_with_a_mover(checkin: PulseSet) -> None:
    tree, ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    base = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    moved = dict(base, **{"t6-0": "t4"})  # one person moves from the team of 6 to the team of 4
    rounds = [base, base, moved, moved, base, moved]
    insights, members = simulate(checkin, tree, ids, rounds, random.Random(7))
    assert_no_leak(insights, members)

    first, third = insights.rounds[0], insights.rounds[2]
    # Something useful is still published: the department, the team of 9 and the team of 6 in round one.
    assert first.cell(ids["dept"]).shown
    assert first.cell(ids["t9"]).shown
    assert first.cell(ids["t6"]).shown
    assert not first.cell(ids["t3"]).shown
    assert not first.cell(ids["t4"]).shown
    # After the move the team of 6 has 5 answers: shown alone it would be fine, next to last round's 6 it is not.
    assert not third.cell(ids["t6"]).shown
    assert third.cell(ids["dept"]).shown
    assert third.cell(ids["t9"]).shown
    # Nobody's distribution under 10; the department of 22 shows one.
    assert first.cell(ids["dept"]).distribution_shown
    assert not first.cell(ids["t9"]).distribution_shown


def test_a_naive_publisher_would_leak_so_the_adversary_has_teeth(checkin: PulseSet) -> None:
    """Publishing every group with ≥5 answers, without the guards, is caught by the same adversary."""
    _tree, _ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    base = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    people = sorted(base)
    members = {
        "dept": set(people),
        "t6": {p for p in people if base[p] == "t6"},
        "t9": {p for p in people if base[p] == "t9"},
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


@pytest.mark.parametrize("seed", range(150))
def test_random_organisations_and_moves_never_leak(checkin: PulseSet, seed: int) -> None:
    rng = random.Random(seed)
    layout = {f"d{d}": [f"d{d}t{t}" for t in range(rng.randint(2, 4))] for d in range(rng.randint(1, 3))}
    tree, ids = build_tree(layout)
    teams = [t for ts in layout.values() for t in ts]
    roster = {
        f"p{i}": team
        for i, team in enumerate(t for t in teams for _ in range(rng.choice([2, 3, 4, 5, 6, 9, 11])))
    }
    memberships = [roster]
    for round_number in range(rng.randint(3, 7)):
        roster = dict(roster)
        for _ in range(rng.randint(1, 2)):
            action = rng.choice(["move", "move", "join", "leave"])
            if action == "move":
                roster[rng.choice(sorted(roster))] = rng.choice(teams)
            elif action == "join":
                roster[f"new{round_number}-{len(roster)}"] = rng.choice(teams)
            elif len(roster) > 1:
                del roster[rng.choice(sorted(roster))]
        memberships.append(roster)
    insights, members = simulate(checkin, tree, ids, memberships, rng)
    assert_no_leak(insights, members)
