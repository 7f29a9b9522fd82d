"""The adversary: everything management is shown, across periods and restructures, turned against individuals.

See `tests/pulses/simulation.py` for who the adversary is and what it knows. Every test runs the same attack
against a publisher without the privacy noise (ε so large the noise is nothing) to show the attack has teeth, and
against the real release path, where it may gain at most 10 percentage points over the baseline that uses only
the group results. Figures from larger runs: `python bench/bench_privacy.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest

from bot.domain.aggregation import build_release
from bot.domain.content import PulseSet
from bot.domain.privacy import EPSILON_PER_PERIOD, period_end, period_of
from bot.domain.tenancy import Group
from tests.pulses.simulation import (
    START,
    AttackResult,
    Person,
    SeededLaplace,
    World,
    _answers,
    _group,
    attack,
    make_world,
    play_round,
    simulate,
    total,
)

NO_NOISE = 1e6  # an ε under which the noise is nothing: what a publisher without differential privacy shows
MAX_GAIN = 0.10


def gain(result: AttackResult) -> float:
    return (result.attack_correct - result.baseline_correct) / result.targets


def involved_gain(result: AttackResult) -> float:
    return (result.involved_attack - result.involved_baseline) / result.involved_targets


def random_organisations(checkin: PulseSet, epsilon: float, count: int, weeks: int) -> AttackResult:
    results = []
    for seed in range(count):
        rng = random.Random(seed)
        layout = [[rng.randint(3, 12) for _ in range(rng.randint(1, 3))] for _ in range(rng.randint(1, 3))]
        world = make_world(checkin, layout, seed)
        releases = simulate(world, weeks, SeededLaplace(seed), epsilon=epsilon)
        results.append(attack(world, releases))
    return total(results)


def test_random_organisations_with_people_and_team_changes(checkin: PulseSet) -> None:
    """Teams of 3–12 in 1–3 departments over half a year: leavers and joiners, people moving, teams re-created
    (remove + add), merged and moved, about 15 % not answering each week (so who answers swaps)."""
    naive = random_organisations(checkin, NO_NOISE, 12, 26)
    assert gain(naive) > MAX_GAIN, "the adversary must be able to exploit a publisher without noise"
    private = random_organisations(checkin, EPSILON_PER_PERIOD, 12, 26)
    assert private.involved_targets > 100
    assert gain(private) <= MAX_GAIN, gain(private)
    assert involved_gain(private) <= MAX_GAIN, involved_gain(private)


def _scenario(
    checkin: PulseSet,
    epsilon: float,
    seed: int,
    change: Callable[[World, random.Random], None],
    rate: float,
    layout: Sequence[Sequence[int]] = ((6, 9),),
) -> AttackResult:
    """A department with Team Noord (6) and Team Zuid (9) answering four weeks, `change`, four weeks more."""
    rng = random.Random(seed)
    world = make_world(checkin, layout, seed)
    world.rng = rng
    for week in range(8):
        if week == 4:
            change(world, rng)
        play_round(world, START + timedelta(weeks=week), rate)
    noise = SeededLaplace(seed)
    periods = sorted({period_of(r.opened_at) for r in world.rounds})
    releases = [
        build_release(
            checkin,
            p,
            [r for r in world.rounds if period_of(r.opened_at) == p],
            epsilon,
            noise,
            period_end(p),
            world.successors,
        )
        for p in periods
    ]
    return attack(world, releases)


def _noord(world: World) -> tuple[Group, list[Person]]:
    team = next(g for g in world.teams() if g.name.endswith("1.1"))
    return team, world.members(team.id)


def recreate_without_one(world: World, rng: random.Random) -> None:
    """The issue's case: Team Noord removed and added again (a new id), one person gone."""
    team, members = _noord(world)
    leaver = rng.choice(members)
    world.people.remove(leaver)
    new = _group(team.kind, team.name, team.parent_id)
    del world.groups[team.id]
    world.groups[new.id] = new
    for person in world.members(team.id):
        person.team = new.id
    world.involved.add(leaver.name)


def leaver_and_joiner(world: World, rng: random.Random) -> None:
    """Equal-count churn: one leaves Team Noord, one joins it."""
    team, members = _noord(world)
    leaver = rng.choice(members)
    world.people.remove(leaver)
    joiner = Person(f"j{seed_of(rng)}", team.id, _answers(world.pulse_set, rng, 3.5))
    world.people.append(joiner)
    world.ever.append(joiner)
    world.involved.update({leaver.name, joiner.name})


def merge_noord_into_zuid(world: World, rng: random.Random) -> None:
    team, members = _noord(world)
    zuid = next(g for g in world.teams() if g.id != team.id)
    for person in members:
        person.team = zuid.id
        world.involved.add(person.name)
    del world.groups[team.id]
    world.successors[team.id] = zuid.id


def move_noord(world: World, rng: random.Random) -> None:
    """Team Noord moves to the other department (the same team: lineage keeps its id)."""
    team, members = _noord(world)
    other = next(d for d in world.departments() if d.id != team.parent_id)
    world.groups[team.id] = Group(team.id, team.organisation_id, other.id, team.kind, team.slug, team.name)
    world.involved.update(p.name for p in members)


def seed_of(rng: random.Random) -> int:
    return rng.getrandbits(32)


def everyone_answers_or_not(world: World, rng: random.Random) -> None:
    """Nothing changes in the tree; about 15 % skip each week, so who answered swaps from week to week."""
    world.involved.update(p.name for p in world.people)


@pytest.mark.parametrize(
    ("change", "rate", "layout", "naive_leaks"),
    [
        (recreate_without_one, 1.0, ((6, 9),), True),
        (leaver_and_joiner, 1.0, ((6, 9),), True),
        (merge_noord_into_zuid, 1.0, ((6, 9),), False),
        (move_noord, 1.0, ((6, 9), (8, 4)), False),
        (everyone_answers_or_not, 0.85, ((6, 9),), False),
        (recreate_without_one, 0.85, ((7,),), False),  # small n: 5–9 respondents, only bands anywhere
    ],
    ids=["re-created-team", "leaver-and-joiner", "merged-team", "moved-team", "non-response-swap", "small-n"],
)
def test_the_issue_s_cases(
    checkin: PulseSet,
    change: Callable[[World, random.Random], None],
    rate: float,
    layout: Sequence[Sequence[int]],
    naive_leaks: bool,
) -> None:
    """Team Noord (6) and Team Zuid (9) in one department (or as given), everyone answering alike every week; the
    change happens between the two months. Without noise the department's two months give the changed people
    away."""
    naive = total([_scenario(checkin, NO_NOISE, seed, change, rate, layout) for seed in range(25)])
    private = total(
        [_scenario(checkin, EPSILON_PER_PERIOD, seed, change, rate, layout) for seed in range(25)]
    )
    if naive_leaks:
        assert involved_gain(naive) > 2 * MAX_GAIN
    assert private.involved_targets >= 25
    assert involved_gain(private) <= MAX_GAIN, (involved_gain(naive), involved_gain(private))
    assert gain(private) <= MAX_GAIN
