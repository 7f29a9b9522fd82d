"""Simulated organisations for the privacy tests and benchmarks: people in teams answering weekly, with the
changes of ordinary organisational life between rounds, published through the real release path
(`bot.domain.aggregation.build_release`), and an adversary who reads every published number.

The adversary (see `attack`) knows, per round, the tree, who was in which group and who answered; assumes every
person answers the same every week (here they do: the worst case for differencing); and reads every cell of
every release across periods and restructures. It estimates each person's favourable status per question by
weighted least squares over all published numbers (each as "the sum of its people's answers, plus noise of the
published scale"), pulled towards what the group results alone say. The baseline uses only the group results:
the published share of the smallest group the person was shown in.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from bot.domain.aggregation import (
    Release,
    RoundInput,
    Visibility,
    _Resolver,
    build_release,
    values_of,
    view_of,
)
from bot.domain.content import PulseSet
from bot.domain.privacy import EPSILON_PER_PERIOD, MARGIN_Z, index_margin, period_end, period_of, share_margin
from bot.domain.tenancy import Group, GroupKind, GroupTree

ORG = uuid.UUID(int=1)
START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # a Monday


class SeededLaplace:
    """Discrete Laplace noise from a seeded generator — for reproducible simulations only (the service uses
    OpenDP's sampler). The difference of two geometric variables with p = 1 − e^(−1/scale)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self.calls = 0

    def _geometric(self, scale: float) -> int:
        return math.floor(-scale * math.log(1.0 - self._rng.random()))

    def noisy_counts(self, counts: Sequence[int], sensitivity: int, epsilon: float) -> tuple[int, ...]:
        self.calls += 1
        scale = sensitivity / epsilon
        return tuple(int(c) + self._geometric(scale) - self._geometric(scale) for c in counts)


@dataclass
class Person:
    name: str
    team: uuid.UUID
    answers: dict[str, str]  # question id → the answer they always give


@dataclass
class World:
    pulse_set: PulseSet
    groups: dict[uuid.UUID, Group]
    people: list[Person]
    rng: random.Random
    successors: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    rounds: list[RoundInput] = field(default_factory=list)
    # per round id: person → the group their answers went to (only people who answered)
    answered: dict[uuid.UUID, dict[str, uuid.UUID]] = field(default_factory=dict)
    involved: set[str] = field(default_factory=set)  # people touched by a change (left, joined, moved, …)
    ever: list[Person] = field(default_factory=list)  # everybody who was ever in the organisation
    events: list[str] = field(default_factory=list)

    def tree(self) -> GroupTree:
        return GroupTree(tuple(self.groups.values()))

    def teams(self) -> list[Group]:
        return [g for g in self.groups.values() if g.kind is GroupKind.TEAM]

    def departments(self) -> list[Group]:
        return [g for g in self.groups.values() if g.kind is GroupKind.DEPARTMENT]

    def members(self, team: uuid.UUID) -> list[Person]:
        return [p for p in self.people if p.team == team]


def _group(kind: GroupKind, name: str, parent: uuid.UUID | None) -> Group:
    gid = uuid.uuid4()
    return Group(gid, ORG, parent, kind, f"{name.lower().replace(' ', '-')}-{gid.hex[:6]}", name)


def _answers(pulse_set: PulseSet, rng: random.Random, mood: float) -> dict[str, str]:
    """A person's fixed answers: Likert around the team's mood, a choice at random."""
    found = {}
    for question in pulse_set.questions:
        options = values_of(question)
        if question.kind.value == "likert":
            value = min(5, max(1, round(rng.gauss(mood, 1.1))))
            found[question.id] = str(6 - value if question.reverse else value)
        else:
            found[question.id] = rng.choice(options)
    return found


def make_world(pulse_set: PulseSet, team_sizes: Sequence[Sequence[int]], seed: int) -> World:
    """Departments of teams of the given sizes (one inner sequence per department)."""
    rng = random.Random(seed)
    root = _group(GroupKind.ORGANISATION, "Organisatie", None)
    groups = {root.id: root}
    people: list[Person] = []
    for d, sizes in enumerate(team_sizes):
        department = _group(GroupKind.DEPARTMENT, f"Afdeling {d + 1}", root.id)
        groups[department.id] = department
        for t, size in enumerate(sizes):
            team = _group(GroupKind.TEAM, f"Team {d + 1}.{t + 1}", department.id)
            groups[team.id] = team
            mood = rng.uniform(2.6, 4.4)
            for _ in range(size):
                people.append(Person(f"p{len(people)}", team.id, _answers(pulse_set, rng, mood)))
    return World(pulse_set, groups, people, rng, ever=list(people))


def play_round(world: World, opened_at: datetime, answer_rate: float) -> None:
    counts: dict[uuid.UUID, dict[str, dict[str, int]]] = {}
    answered: dict[str, uuid.UUID] = {}
    for person in world.people:
        if world.rng.random() >= answer_rate:
            continue
        answered[person.name] = person.team
        for question_id, value in person.answers.items():
            cell = counts.setdefault(person.team, {}).setdefault(question_id, {})
            cell[value] = cell.get(value, 0) + 1
    pulse_id = uuid.uuid4()
    world.rounds.append(RoundInput(pulse_id, opened_at, opened_at + timedelta(days=3), world.tree(), counts))
    world.answered[pulse_id] = answered


def restructure(world: World) -> None:
    """One change of ordinary organisational life, at random."""
    rng = world.rng
    teams = world.teams()
    choice = rng.choice(("leaver_joiner", "move_person", "recreate_team", "merge_teams", "move_team", "none"))
    if choice == "leaver_joiner":
        team = rng.choice(teams)
        members = world.members(team.id)
        if members:
            leaver = rng.choice(members)
            world.people.remove(leaver)
            joiner = Person(f"p{rng.getrandbits(40)}", team.id, _answers(world.pulse_set, rng, 3.5))
            world.people.append(joiner)
            world.ever.append(joiner)
            world.involved.update({leaver.name, joiner.name})
    elif choice == "move_person" and len(teams) > 1:
        person = rng.choice(world.people)
        person.team = rng.choice([t for t in teams if t.id != person.team]).id
        world.involved.add(person.name)
    elif choice == "recreate_team":
        # remove + add: a new id for the same people (lineage cannot see it; the budget is per person anyway)
        old = rng.choice(teams)
        new = _group(GroupKind.TEAM, old.name, old.parent_id)
        del world.groups[old.id]
        world.groups[new.id] = new
        for person in world.members(old.id):
            person.team = new.id
            world.involved.add(person.name)
    elif choice == "merge_teams" and len(teams) > 2:
        gone, into = rng.sample(teams, 2)
        for person in world.members(gone.id):
            person.team = into.id
            world.involved.add(person.name)
        del world.groups[gone.id]
        world.successors[gone.id] = into.id
    elif choice == "move_team" and len(world.departments()) > 1:
        team = rng.choice(teams)
        other = rng.choice([d for d in world.departments() if d.id != team.parent_id])
        world.groups[team.id] = Group(team.id, ORG, other.id, team.kind, team.slug, team.name)
        world.involved.update(p.name for p in world.members(team.id))
    else:
        choice = "none"
    world.events.append(choice)


def simulate(
    world: World,
    weeks: int,
    noise: SeededLaplace,
    answer_rate: float = 0.85,
    change_rate: float = 0.5,
    epsilon: float = EPSILON_PER_PERIOD,
) -> list[Release]:
    """Weekly rounds with changes between them; every period released once it has ended."""
    for week in range(weeks):
        if week and world.rng.random() < change_rate:
            restructure(world)
        play_round(world, START + timedelta(weeks=week), answer_rate)
    periods = sorted({period_of(r.opened_at) for r in world.rounds})
    return [
        build_release(
            world.pulse_set,
            period,
            [r for r in world.rounds if period_of(r.opened_at) == period],
            epsilon,
            noise,
            period_end(period),
            world.successors,
        )
        for period in periods
    ]


# --- the adversary -----------------------------------------------------------------------------------------


@dataclass
class Equation:
    coefficients: dict[tuple[str, str], float]  # (person, question) → weight
    value: float
    variance: float


def _members_of_cells(world: World, release: Release) -> dict[uuid.UUID, dict[str, int]]:
    """Per group of the release's tree: per person, in how many of the period's rounds their answers counted
    there — what the adversary knows from memberships, lineage and who answered."""
    resolver = _Resolver(release.tree, world.successors)
    parent = {g.id: g.parent_id for g in release.tree.groups}
    found: dict[uuid.UUID, dict[str, int]] = {g.id: {} for g in release.tree.groups}
    for rnd in world.rounds:
        if period_of(rnd.opened_at) != release.period:
            continue
        for person, gid in world.answered[rnd.pulse_id].items():
            node: uuid.UUID | None = resolver.resolve(gid, rnd.tree)
            while node is not None:
                found[node][person] = found[node].get(person, 0) + 1
                node = parent[node]
    return found


def published_equations(world: World, releases: Sequence[Release]) -> list[Equation]:
    """Every published number as a linear equation in the people's favourable indicators."""
    questions = world.pulse_set.questions
    equations: list[Equation] = []
    for release in releases:
        members = _members_of_cells(world, release)
        for cell in release.cells:
            who = members.get(cell.group_id, {})
            if cell.visibility is Visibility.HIDDEN or cell.index_counts is None or not who:
                continue
            total = sum(who.values()) * len(questions)
            pooled = {(p, q.id): float(k) for p, k in who.items() for q in questions}
            fav = max(0, cell.index_counts[0])
            if cell.visibility is Visibility.BANDED:
                other = max(0, cell.index_counts[1])
                share = fav / (fav + other) if fav + other else 0.5
                low = math.floor(share * 5) / 5
                # only the band is published: its middle, with the spread of a 20-point band
                equations.append(Equation(pooled, (low + 0.1) * total, (0.2 * total) ** 2 / 12))
                continue
            equations.append(Equation(pooled, float(fav), 2 * cell.index_scale**2))
            for question_id, noisy in cell.table or ():
                question = next(q for q in questions if q.id == question_id)
                favourable = [
                    n for v, n in zip(values_of(question), noisy, strict=True) if question.is_favourable(v)
                ]
                equations.append(
                    Equation(
                        {(p, question_id): float(k) for p, k in who.items()},
                        float(sum(favourable)),
                        2 * len(favourable) * cell.table_scale**2,
                    )
                )
    return equations


def baseline_shares(world: World, releases: Sequence[Release]) -> dict[tuple[str, str], float]:
    """What the group results alone say about a person: per question, the published shares of every group the
    person's answers were shown in (per-question share, index or band), each weighted by its precision — the
    best an analyst can do who takes the groups at their word and does not difference them."""
    questions = world.pulse_set.questions
    sums: dict[tuple[str, str], list[float]] = {}
    for release in releases:
        members = _members_of_cells(world, release)
        for cell in release.cells:
            if cell.visibility is Visibility.HIDDEN or cell.index_counts is None:
                continue
            fav, other = (max(0, n) for n in cell.index_counts)
            index = fav / (fav + other) if fav + other else 0.5
            if cell.visibility is Visibility.BANDED:
                guesses = dict.fromkeys(
                    (q.id for q in questions), (math.floor(index * 5) / 5 + 0.1, 0.2**2 / 12)
                )
            else:
                margin = (index_margin(fav, other, cell.index_scale) or 100) / 100 / MARGIN_Z
                guesses = dict.fromkeys((q.id for q in questions), (index, margin**2 + 0.01))
                for question_id, noisy in cell.table or ():
                    question = next(q for q in questions if q.id == question_id)
                    counts = [max(0, n) for n in noisy]
                    order = values_of(question)
                    fav_q = [n for v, n in zip(order, counts, strict=True) if question.is_favourable(v)]
                    other_q = [n for v, n in zip(order, counts, strict=True) if not question.is_favourable(v)]
                    if sum(counts):
                        spread = (share_margin(fav_q, other_q, cell.table_scale) or 100) / 100 / MARGIN_Z
                        guesses[question_id] = (sum(fav_q) / sum(counts), spread**2 + 1e-4)
            for person in members.get(cell.group_id, {}):
                for question_id, (share, variance) in guesses.items():
                    acc = sums.setdefault((person, question_id), [0.0, 0.0])
                    acc[0] += share / variance
                    acc[1] += 1 / variance
    return {k: v[0] / v[1] for k, v in sums.items()}


def _conjugate_gradient(lhs: np.ndarray, rhs: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Solve lhs · x = rhs for a symmetric positive definite lhs (matrix-vector products only: a dense solver
    spends most of its time starting BLAS threads on a busy machine)."""
    x = start.copy()
    residual = rhs - lhs @ x
    direction = residual.copy()
    norm = float(residual @ residual)
    for _ in range(4 * len(rhs)):
        if norm < 1e-12:
            break
        step = lhs @ direction
        alpha = norm / float(direction @ step)
        x += alpha * direction
        residual -= alpha * step
        new_norm = float(residual @ residual)
        direction = residual + (new_norm / norm) * direction
        norm = new_norm
    return x


@dataclass
class AttackResult:
    targets: int
    baseline_correct: int
    attack_correct: int
    involved_targets: int
    involved_baseline: int
    involved_attack: int


def total(results: Sequence[AttackResult]) -> AttackResult:
    """The results of several attacks as one."""
    summed = AttackResult(0, 0, 0, 0, 0, 0)
    for r in results:
        summed.targets += r.targets
        summed.baseline_correct += r.baseline_correct
        summed.attack_correct += r.attack_correct
        summed.involved_targets += r.involved_targets
        summed.involved_baseline += r.involved_baseline
        summed.involved_attack += r.involved_attack
    return summed


def attack(world: World, releases: Sequence[Release]) -> AttackResult:
    """Guess every person's favourable status per question, with all published numbers and with the group
    results only; count how often each guess is right."""
    prior = baseline_shares(world, releases)
    keys = sorted(prior)
    at = {k: i for i, k in enumerate(keys)}
    rows, targets, weights = [], [], []
    for eq in published_equations(world, releases):
        row = np.zeros(len(keys))
        for key, c in eq.coefficients.items():
            if key in at:
                row[at[key]] = c
        rows.append(row)
        targets.append(eq.value)
        weights.append(1 / math.sqrt(max(eq.variance, 1e-9)))
    # ridge towards the baseline: a person is, a priori, like the smallest group they were shown in
    strength = 1.0 / 0.25  # a Bernoulli's standard deviation at most 0.5
    x0 = np.array([prior[k] for k in keys])
    if rows:
        # weighted ridge regression, solved through its normal equations
        a = np.array(rows) * np.array(weights)[:, None]
        b = np.array(targets) * np.array(weights)
        lhs = a.T @ a + strength**2 * np.eye(len(keys))
        estimate = _conjugate_gradient(lhs, a.T @ b + strength**2 * x0, x0)
    else:
        estimate = x0
    truth = {
        (p.name, q.id): q.is_favourable(p.answers[q.id])
        for p in world.ever
        for q in world.pulse_set.questions
    }
    result = AttackResult(0, 0, 0, 0, 0, 0)
    for key, i in at.items():
        if key not in truth:
            continue
        actual = truth[key]
        base_ok = (prior[key] >= 0.5) == actual
        attack_ok = (estimate[i] >= 0.5) == actual
        result.targets += 1
        result.baseline_correct += base_ok
        result.attack_correct += attack_ok
        if key[0] in world.involved:
            result.involved_targets += 1
            result.involved_baseline += base_ok
            result.involved_attack += attack_ok
    return result


# --- the 35-person organisation of the pulses issue ---------------------------------------------------------

ORGANISATION_OF_35 = [[12, 5], [8, 3], [4, 3]]  # teams in three departments (17, 11 and 7 people)


@dataclass
class Visibility35:
    """What management of the 35-person organisation was shown, month by month, over many organisations."""

    months: int = 0
    organisation_shown: int = 0
    organisation_unindexed: int = 0  # months in which the organisation had no favourable share
    organisation_errors: list[float] = field(default_factory=list)  # |published - true| share, in points
    department_months: int = 0  # months of departments of 10 or more people
    department_shown: int = 0
    department_full: int = 0  # … with the distribution, not only a band


def visibility_of_35(pulse_set: PulseSet, organisations: int, weeks: int = 8) -> Visibility35:
    """About 85 % answering each week, `weeks` weekly rounds, organisations seeded 0, 1, …"""
    figures = Visibility35()
    for seed in range(organisations):
        world = make_world(pulse_set, ORGANISATION_OF_35, seed)
        for release in simulate(world, weeks, SeededLaplace(seed), change_rate=0.0):
            view = view_of(release, pulse_set)
            figures.months += 1
            organisation = view.cells[0]
            figures.organisation_shown += organisation.shown
            favourable = answered = 0
            for rnd in world.rounds:
                if period_of(rnd.opened_at) != release.period:
                    continue
                for values in rnd.counts.values():
                    for question in pulse_set.questions:
                        for value, n in values.get(question.id, {}).items():
                            answered += n
                            favourable += n * question.is_favourable(value)
            if organisation.index is None:
                figures.organisation_unindexed += 1
            else:
                figures.organisation_errors.append(abs(organisation.index - favourable / answered) * 100)
            for cell in view.cells:
                if cell.group.kind is GroupKind.DEPARTMENT:
                    size = sum(
                        len(world.members(t.id)) for t in world.teams() if t.parent_id == cell.group.id
                    )
                    if size >= 10:
                        figures.department_months += 1
                        figures.department_shown += cell.shown
                        figures.department_full += cell.distribution_shown
    return figures
