"""Differential privacy of pulse figures: floors on respondents, noise drawn once and stored, the accountant,
lineage across restructures, and the 35-person organisation that must stay visible."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.catalog import ContentLibrary
from bot.domain.aggregation import Release, RoundInput, Visibility, build_release, insights_from, view_of
from bot.domain.clock import FixedClock
from bot.domain.content import PulseSet
from bot.domain.insights import (
    export_rows,
    hidden_explanation,
    load_insights,
    monthly_trend,
    release_due,
    release_period,
    summary_lines,
    trend_line,
)
from bot.domain.privacy import (
    EPSILON_PER_PERIOD,
    BudgetExceededError,
    Spend,
    charge,
    release_epsilon,
)
from bot.domain.pulses import AnswerAction, AnswerOutcome, ClickOrigin, Participant
from bot.domain.tenancy import Group, GroupKind, GroupTree, Platform
from bot.reporting.charts import render_chart
from bot.security.noise import OpenDpNoise
from tests.pulses.conftest import PulseWorld
from tests.pulses.simulation import SeededLaplace, visibility_of_35

ORG = uuid.UUID(int=7)
MARCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def tree_of(teams: Sequence[str]) -> tuple[GroupTree, dict[str, uuid.UUID]]:
    root = Group(uuid.uuid4(), ORG, None, GroupKind.ORGANISATION, "org", "Organisatie")
    dept = Group(uuid.uuid4(), ORG, root.id, GroupKind.DEPARTMENT, "dept", "Afdeling")
    groups = [root, dept] + [Group(uuid.uuid4(), ORG, dept.id, GroupKind.TEAM, t, t) for t in teams]
    return GroupTree(tuple(groups)), {g.slug: g.id for g in groups}


def answers(checkin: PulseSet, people: int, value: str = "4") -> dict[str, dict[str, int]]:
    return {q.id: {value if q.kind.value == "likert" else "goed": people} for q in checkin.questions}


def test_floors_count_respondents_not_answers(checkin: PulseSet) -> None:
    """Four weekly rounds of 3 people are 12 answers per question but 3 respondents: hidden. 7 respondents: only
    a band. 12: figures and the distribution."""
    tree, ids = tree_of(["small", "middle", "large"])
    rounds = [
        RoundInput(
            uuid.uuid4(),
            MARCH + timedelta(weeks=w),
            MARCH + timedelta(weeks=w, days=3),
            tree,
            {
                ids["small"]: answers(checkin, 3),
                ids["middle"]: answers(checkin, 7),
                ids["large"]: answers(checkin, 12),
            },
        )
        for w in range(4)
    ]
    release = build_release(checkin, "2026-03", rounds, EPSILON_PER_PERIOD, SeededLaplace(1), MARCH)
    visibility = {c.group_id: c.visibility for c in release.cells}
    assert visibility[ids["small"]] is Visibility.HIDDEN
    assert visibility[ids["middle"]] is Visibility.BANDED
    assert visibility[ids["large"]] is Visibility.FULL
    stored = {c.group_id: c for c in release.cells}
    assert stored[ids["small"]].index_counts is None  # nothing at all is drawn or kept for a hidden group
    assert stored[ids["middle"]].table is None  # 5–9: nothing that could determine a distribution
    view = view_of(release, checkin)
    middle = view.cell(ids["middle"])
    assert middle is not None
    assert middle.band is not None
    assert middle.index is None
    assert middle.figures == ()
    assert middle.respondents is None


def test_a_refused_release_publishes_nothing(checkin: PulseSet) -> None:
    tree, ids = tree_of(["large"])
    rounds = [RoundInput(uuid.uuid4(), MARCH, MARCH, tree, {ids["large"]: answers(checkin, 30)})]
    noise = SeededLaplace(2)
    release = build_release(checkin, "2026-03", rounds, 0.0, noise, MARCH)
    assert {c.visibility for c in release.cells} == {Visibility.HIDDEN}
    assert noise.calls == 0
    assert view_of(release, checkin).refused


def test_the_accountant_refuses_past_the_budget() -> None:
    ledger = [Spend("2026-03", "wekelijkse-check-in", 3.0)]
    assert release_epsilon(ledger, "2026-03", 1) == pytest.approx(EPSILON_PER_PERIOD - 3.0)
    assert release_epsilon(ledger, "2026-04", 2) == pytest.approx(EPSILON_PER_PERIOD / 2)
    charge(ledger, Spend("2026-03", "psychologische-veiligheid", EPSILON_PER_PERIOD - 3.0))
    with pytest.raises(BudgetExceededError):
        charge(ledger, Spend("2026-03", "psychologische-veiligheid", EPSILON_PER_PERIOD - 2.9))
    with pytest.raises(BudgetExceededError):
        charge([*ledger, Spend("2026-03", "x", EPSILON_PER_PERIOD - 3.0)], Spend("2026-03", "y", 0.01))


class CountingNoise(OpenDpNoise):
    """The service's noise, counting how often it is drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def noisy_counts(self, counts: Sequence[int], sensitivity: int, epsilon: float) -> tuple[int, ...]:
        self.calls += 1
        return super().noisy_counts(counts, sensitivity, epsilon)


async def answer_rounds(world: PulseWorld, clock: FixedClock, weeks: int, sizes: dict[str, int]) -> None:
    for week in range(weeks):
        pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
        for slug, size in sizes.items():
            for i in range(size):
                who = Participant(Platform.SLACK, "T0WORKSPACE", f"{slug}-{i}")
                where = ClickOrigin(Platform.SLACK, "T0WORKSPACE", f"C-{slug}")
                for question in world.pulse_set.questions:
                    value = str(2 + (i + week) % 4) if question.kind.value == "likert" else "goed"
                    action = AnswerAction(pulse.id, question.id, value)
                    assert (
                        await world.service.answer(world.org.id, action, who, where) is AnswerOutcome.RECORDED
                    )
        clock.advance(timedelta(days=3))
        assert len(await world.service.close_due()) == 1
        clock.advance(timedelta(days=4))


async def test_noise_is_drawn_once_and_every_output_reads_the_stored_value(
    world: PulseWorld, clock: FixedClock, content: ContentLibrary
) -> None:
    await answer_rounds(world, clock, 2, {"team-noord": 6, "team-zuid": 9})
    sets = {p.id: p for p in content.catalog.pulse_sets}
    noise = CountingNoise()
    # March has not ended: nothing is released, nothing drawn.
    assert await release_due(world.store, sets, world.org.id, clock.now(), noise) == []
    assert noise.calls == 0
    april = datetime(2026, 4, 1, 0, 5, tzinfo=UTC)
    released = await release_due(world.store, sets, world.org.id, april, noise)
    assert [r.period for r in released] == ["2026-03"]
    drawn = noise.calls
    assert drawn > 0
    ledger = await world.store.ledger(world.org.id, "2026-03")
    assert ledger == [Spend("2026-03", world.pulse_set.id, EPSILON_PER_PERIOD)]

    t = content.translator
    first = await load_insights(world.store, world.pulse_set, world.org.id)
    again = await load_insights(world.store, world.pulse_set, world.org.id)
    assert export_rows(first) == export_rows(again)
    assert summary_lines(first, t, "nl") == summary_lines(again, t, "nl")
    stored = await world.store.releases(world.org.id, world.pulse_set.id)
    assert stored == released  # what was drawn is what is stored, integers and scales
    # Releasing again (another replica, the next tick) draws nothing and spends nothing.
    assert await release_due(world.store, sets, world.org.id, april + timedelta(hours=1), noise) == []
    assert noise.calls == drawn
    assert await world.store.ledger(world.org.id, "2026-03") == ledger
    department = first.rounds[0].cell(world.tree.by_slug("zorg-linde").id)  # type: ignore[union-attr]
    assert department is not None
    assert department.index is not None
    assert department.margin is not None
    assert department.margin > 0


async def test_a_release_over_the_budget_is_refused_and_shows_a_gap(
    world: PulseWorld, clock: FixedClock, content: ContentLibrary
) -> None:
    await answer_rounds(world, clock, 1, {"team-noord": 6, "team-zuid": 9})
    pulses = await world.store.rounds(world.org.id, world.pulse_set.id)
    noise = CountingNoise()
    other = content.catalog.pulse_set("psychologische-veiligheid")
    assert other is not None
    april = datetime(2026, 4, 1, tzinfo=UTC)
    # Another pulse set took 3.5 of the month's 4.0 already.
    first = await release_period(world.store, other, world.org.id, "2026-03", pulses, 1, april, noise, 3.5)
    assert first is not None
    # Asking for more than what is left is refused: stored with nothing shown, nothing drawn.
    drawn = noise.calls
    refused = await release_period(
        world.store, world.pulse_set, world.org.id, "2026-03", pulses, 1, april, noise, 1.0
    )
    assert refused is not None
    assert refused.epsilon == 0
    assert noise.calls == drawn
    insights = await load_insights(world.store, world.pulse_set, world.org.id)
    assert insights.latest is not None
    assert insights.latest.refused
    assert insights.trend(world.tree.root.id) == (None,)  # a gap
    assert "het privacybudget van de maand was op" in hidden_explanation(insights, content.translator, "nl")
    # The storage itself refuses a release that would go past the budget, whatever the caller asks.
    with pytest.raises(BudgetExceededError):
        await world.store.save_release(world.org.id, replace(refused, pulse_set_id="x", epsilon=1.0))
    assert sum(s.epsilon for s in await world.store.ledger(world.org.id, "2026-03")) <= EPSILON_PER_PERIOD


async def test_restructuring_keeps_lineage_and_recreating_resets_nothing(
    world: PulseWorld, clock: FixedClock, content: ContentLibrary
) -> None:
    repo = world.repo
    org = world.org.id
    await answer_rounds(world, clock, 1, {"team-noord": 6, "team-zuid": 9})
    renamed = await repo.rename_group(org, "team-noord", "Team Noordoost")
    assert renamed.id == world.tree.by_slug("team-noord").id  # type: ignore[union-attr]
    await repo.add_group(org, "Zorg twee", GroupKind.DEPARTMENT, None)
    moved = await repo.move_group(org, "team-zuid", "zorg-twee")
    assert moved.parent_id == (await repo.group_tree(org)).by_slug("zorg-twee").id  # type: ignore[union-attr]
    split = await repo.split_group(org, "team-zuid", "Team West", clock.now(), ["C-team-zuid"])
    bindings = {b.channel_id: b.group_id for b in await repo.bindings(org)}
    assert bindings["C-team-zuid"] == split.id
    merged_into = await repo.merge_groups(org, "team-west", "team-zuid", clock.now())
    tree = await repo.group_tree(org)
    assert tree.by_slug("team-west") is None
    assert (await repo.bindings(org))[0].group_id in {g.id for g in tree.groups}
    assert await world.store.successors(org) == {split.id: merged_into.id}
    # Remove + add (what lineage replaces) gives a new id: the budget is per person and month, so the month's
    # ledger is untouched by it and a second release of March is still refused.
    await repo.remove_group(org, "team-noordoost")
    await repo.add_group(org, "Team Noordoost", GroupKind.TEAM, "zorg-linde")
    sets = {p.id: p for p in content.catalog.pulse_sets}
    april = datetime(2026, 4, 1, tzinfo=UTC)
    assert len(await release_due(world.store, sets, org, april, SeededLaplace(3))) == 1
    pulses = await world.store.rounds(org, world.pulse_set.id)
    again = await release_period(
        world.store, world.pulse_set, org, "2026-03", pulses, 1, april, SeededLaplace(4)
    )
    assert again is None  # out already
    with pytest.raises(BudgetExceededError):
        charge(await world.store.ledger(org, "2026-03"), Spend("2026-03", "x", 0.5))


def test_merged_and_vanished_groups_pool_into_their_lineage(checkin: PulseSet) -> None:
    tree, ids = tree_of(["a", "b"])
    # in the second round, "b" was merged into "a" and a re-created "c" replaced a removed team
    groups = [g for g in tree.groups if g.slug != "b"]
    removed = Group(uuid.uuid4(), ORG, ids["dept"], GroupKind.TEAM, "old", "old")
    first_tree = GroupTree((*tree.groups, removed))
    later = GroupTree(tuple(groups))
    rounds = [
        RoundInput(
            uuid.uuid4(),
            MARCH,
            MARCH,
            first_tree,
            {ids["a"]: answers(checkin, 6), ids["b"]: answers(checkin, 6), removed.id: answers(checkin, 4)},
        ),
        RoundInput(uuid.uuid4(), MARCH + timedelta(weeks=1), MARCH, later, {ids["a"]: answers(checkin, 11)}),
    ]
    release = build_release(
        checkin, "2026-03", rounds, EPSILON_PER_PERIOD, SeededLaplace(5), MARCH, {ids["b"]: ids["a"]}
    )
    assert {c.group_id for c in release.cells} == {g.id for g in later.groups}
    cells = {c.group_id: c for c in release.cells}
    # a + b pooled in the first round: 12 respondents in one round → a full cell
    assert cells[ids["a"]].visibility is Visibility.FULL
    # the removed team's answers still count for its department
    assert cells[ids["dept"]].visibility is Visibility.FULL


def test_the_35_person_organisation_stays_visible(checkin: PulseSet) -> None:
    """Teams of 3–12 in three departments (17, 11 and 7 people), about 85 % answering each week, eight weekly
    rounds (two months): the organisation every month, departments of at least 10 people in at least 90 % of
    months, the organisation's favourable share within 5 points of the truth at p90. Over 60 such
    organisations; `bench/bench_privacy.py` prints the figures of larger runs."""
    figures = visibility_of_35(checkin, 60)
    assert figures.months == 120
    assert figures.organisation_shown == figures.months
    assert figures.organisation_unindexed == 0
    assert figures.department_shown >= 0.9 * figures.department_months
    assert statistics.quantiles(figures.organisation_errors, n=10)[-1] <= 5.0


def test_unpublished_months_are_gaps(checkin: PulseSet, content: ContentLibrary) -> None:
    """January published, no round in February, March refused by the accountant, April published: the trend
    has a gap for February and March, never a line across them."""
    tree, ids = tree_of(["large"])

    def month(period: str, epsilon: float) -> Release:
        start = datetime.fromisoformat(f"{period}-05T09:00:00+00:00")
        rounds = [RoundInput(uuid.uuid4(), start, start, tree, {ids["large"]: answers(checkin, 30)})]
        return build_release(checkin, period, rounds, epsilon, SeededLaplace(6), start + timedelta(days=30))

    insights = insights_from(
        checkin,
        [month("2026-01", EPSILON_PER_PERIOD), month("2026-03", 0.0), month("2026-04", EPSILON_PER_PERIOD)],
    )
    trend = monthly_trend(insights, ids["org"])
    assert [p for p, _ in trend] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert [v is None for _, v in trend] == [False, True, True, False]
    line = trend_line(insights, content.translator, "nl")
    assert line is not None
    assert "2026-02: –" in line
    assert "2026-03: –" in line
    assert render_chart(insights, content.translator, "nl").startswith(b"\x89PNG")


def test_a_share_the_noise_left_nothing_to_divide_by_has_the_whole_scale_as_margin() -> None:
    # Noise can take every count of a small question to zero: the share then says nothing, and the export must still
    # carry a margin (CI once saw None there, which printed as "± ?" and broke the JSON's contract).
    from bot.domain.privacy import index_margin, share_margin

    assert index_margin(0, 0, 2.0) == 100.0
    assert share_margin([0, 0], [0, 0, 0], 2.0) == 100.0
    assert share_margin([5], [5], 0.5) < 100.0
