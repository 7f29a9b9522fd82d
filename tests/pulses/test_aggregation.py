"""The figures `aggregate` computes, and the order it decides rounds in (see test_attack.py for the adversary)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.catalog import ContentLibrary
from bot.domain.aggregation import RoundInput, aggregate
from bot.domain.content import PulseSet
from bot.domain.insights import RoundCounts, load_insights, summary_lines
from bot.domain.pulses import Pulse, PulseStatus
from bot.domain.tenancy import GroupTree
from tests.pulses.test_attack import ORG, Planned, build_tree, play, team_roster

START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def safety(content: ContentLibrary) -> PulseSet:
    found = content.catalog.pulse_set("psychologische-veiligheid")
    assert found is not None
    return found


@pytest.fixture
def checkin(content: ContentLibrary) -> PulseSet:
    found = content.catalog.pulse_set("wekelijkse-check-in")
    assert found is not None
    return found


def one_round(tree: GroupTree, counts: dict[uuid.UUID, dict[str, dict[str, int]]]) -> RoundInput:
    return RoundInput(uuid.uuid4(), START, START + timedelta(days=7), tree, counts)


def test_reverse_scored_items_count_a_low_answer_as_favourable(
    safety: PulseSet, content: ContentLibrary
) -> None:
    reverse = [q for q in safety.questions if q.reverse]
    straight = [q for q in safety.questions if not q.reverse]
    assert reverse
    assert straight
    tree, ids = build_tree({"dept": ["team"]})
    spread = {"1": 2, "2": 3, "3": 1, "4": 2, "5": 2}  # ten answers, the same raw answers to every question
    counts = {ids["team"]: {q.id: dict(spread) for q in safety.questions}}
    insights = aggregate(safety, [one_round(tree, counts)])
    assert insights.latest is not None
    team = insights.latest.cell(ids["team"])
    assert team is not None
    assert team.shown
    figures = {f.question_id: f for f in team.figures}
    for question in reverse:
        f = figures[question.id]
        # 1 counts as 5, 2 as 4, …: (5·2 + 4·3 + 3·1 + 2·2 + 1·2) / 10
        assert f.mean == pytest.approx(3.1)
        assert f.favourable_share == pytest.approx(0.5)  # the 1s and 2s
        # The distribution is of the answers as given (the labels are the scale's words for those answers).
        assert f.distribution == (("1", 2), ("2", 3), ("3", 1), ("4", 2), ("5", 2))
    for question in straight:
        f = figures[question.id]
        assert f.mean == pytest.approx((1 * 2 + 2 * 3 + 3 * 1 + 4 * 2 + 5 * 2) / 10)  # 2.9
        assert f.favourable_share == pytest.approx(0.4)  # the 4s and 5s
        assert f.distribution == (("1", 2), ("2", 3), ("3", 1), ("4", 2), ("5", 2))
    shares = [0.5 if q.reverse else 0.4 for q in safety.questions]
    assert team.index == pytest.approx(sum(shares) / len(shares))

    # Everybody answering 1 (strongly disagree): favourable on a reverse item, unfavourable on the others.
    ones = {ids["team"]: {q.id: {"1": 10} for q in safety.questions}}
    cell = aggregate(safety, [one_round(tree, ones)]).rounds[0].cell(ids["team"])
    assert cell is not None
    for f in cell.figures:
        reversed_item = next(q for q in safety.questions if q.id == f.question_id).reverse
        assert f.mean == (5.0 if reversed_item else 1.0)
        assert f.favourable_share == (1.0 if reversed_item else 0.0)
    lines = "\n".join(summary_lines(aggregate(safety, [one_round(tree, ones)]), content.translator, "nl"))
    assert "gemiddeld 5.0 van 5, 100% gunstig" in lines
    assert "gemiddeld 1.0 van 5, 0% gunstig" in lines


def test_answers_directly_on_a_department_count_for_it_and_above(checkin: PulseSet) -> None:
    """DM clicks land on the round's audience group: they count there and above, never for a team."""
    tree, ids = build_tree({"dept": ["team"]})

    def answers(n: int) -> dict[str, dict[str, int]]:
        return {q.id: {"4" if q.kind.value == "likert" else "goed": n} for q in checkin.questions}

    counts = {ids["team"]: answers(6), ids["dept"]: answers(5)}
    view = aggregate(checkin, [one_round(tree, counts)]).rounds[0]
    team, dept, org = view.cell(ids["team"]), view.cell(ids["dept"]), view.cell(ids["org"])
    assert team is not None
    assert dept is not None
    assert org is not None
    assert (team.respondents, dept.respondents, org.respondents) == (6, 11, 11)
    # With 4 on the department itself, "department minus team" would be 4 people: the team is hidden.
    fewer = {ids["team"]: answers(6), ids["dept"]: answers(4)}
    view = aggregate(checkin, [one_round(tree, fewer)]).rounds[0]
    assert [c.group.slug for c in view.cells if c.shown] == ["org", "dept"]


def test_a_question_fewer_people_answered_hides_the_group(checkin: PulseSet) -> None:
    tree, ids = build_tree({"dept": ["team"]})
    team = {q.id: {"4" if q.kind.value == "likert" else "goed": 7} for q in checkin.questions}
    team[checkin.questions[-1].id] = {"goed": 4}  # three people skipped the last question
    counts = {ids["team"]: team}
    view = aggregate(checkin, [one_round(tree, counts)]).rounds[0]
    assert not any(c.shown for c in view.cells)


def test_rounds_are_decided_in_the_order_they_closed(checkin: PulseSet) -> None:
    """The same two rounds, closing in either order: the one that closed first keeps its number."""
    tree, ids = build_tree({"dept": ["t3", "t4", "t6", "t9"]})
    everyone = team_roster({"t3": 3, "t4": 4, "t6": 6, "t9": 9})
    without_one = {p: t for p, t in everyone.items() if p != "t6-0"}
    for long_one in ("six", "five"):
        six_closes = START + timedelta(days=7 if long_one == "six" else 3)
        five_closes = START + timedelta(days=3 if long_one == "six" else 7)
        plans = [
            Planned(everyone, START, six_closes),
            Planned(without_one, START + timedelta(hours=1), five_closes),
        ]
        played = play(checkin, tree, ids, plans, random.Random(1))
        six, five = played.rounds
        insights = aggregate(checkin, played.rounds)
        assert [v.pulse_id for v in insights.rounds] == [six.pulse_id, five.pulse_id]  # display: as opened
        first_closed = five if long_one == "six" else six
        later = six if first_closed is five else five
        assert [v.pulse_id for v in insights.published] == [first_closed.pulse_id, later.pulse_id]
        assert insights.latest is not None
        assert insights.latest.pulse_id == later.pulse_id
        views = {v.pulse_id: v for v in insights.rounds}
        first_team = views[first_closed.pulse_id].cell(ids["t6"])
        later_team = views[later.pulse_id].cell(ids["t6"])
        assert first_team is not None
        assert later_team is not None
        assert first_team.shown
        assert not later_team.shown
        assert first_team == aggregate(checkin, [first_closed]).rounds[0].cell(ids["t6"])


@dataclass
class MemorySource:
    """The read side of insights, in memory: rounds as storage returns them, and their tallies."""

    pulses: list[Pulse]
    counts: RoundCounts

    async def rounds(self, organisation_id: uuid.UUID, pulse_set_id: str) -> list[Pulse]:
        return [
            p for p in self.pulses if p.organisation_id == organisation_id and p.pulse_set_id == pulse_set_id
        ]

    async def tallies(self, organisation_id: uuid.UUID, pulse_ids: Sequence[uuid.UUID]) -> RoundCounts:
        return {p: self.counts[p] for p in pulse_ids if p in self.counts}


async def test_until_gives_what_was_published_by_then(checkin: PulseSet) -> None:
    tree, ids = build_tree({"d0": ["a", "b"], "d1": ["c", "d"]})
    rng = random.Random(11)
    plans = []
    for i in range(6):
        roster = team_roster({t: rng.choice([4, 5, 6, 7, 9]) for t in ("a", "b", "c", "d")})
        opened = START + timedelta(days=2 * i)
        plans.append(Planned(roster, opened, opened + timedelta(days=rng.randint(1, 9))))
    played = play(checkin, tree, ids, plans, rng)
    pulses = [
        Pulse(
            r.pulse_id,
            ORG,
            checkin.id,
            ids["org"],
            PulseStatus.CLOSED,
            r.opened_at,
            r.closed_at,
            r.closed_at,
            tree,
        )
        for r in played.rounds
    ]
    still_open = replace(pulses[0], id=uuid.uuid4(), status=PulseStatus.OPEN, closed_at=None)
    source = MemorySource([*reversed(pulses), still_open], {r.pulse_id: r.counts for r in played.rounds})
    everything = await load_insights(source, checkin, ORG)
    assert {v.pulse_id for v in everything.rounds} == {p.id for p in pulses}  # the open round is not read
    full = {v.pulse_id: v for v in everything.rounds}
    for moment in sorted({p.closes_at for p in pulses}):
        then = await load_insights(source, checkin, ORG, until=moment)
        expected = {p.id for p in pulses if p.closes_at <= moment}
        assert {v.pulse_id for v in then.rounds} == expected
        # Exactly what was out at that moment: the same decisions and numbers as today.
        assert all(full[v.pulse_id] == v for v in then.rounds)
    # A round that opened before `until` but closed after it was not out yet.
    late = max(pulses, key=lambda p: p.closes_at - p.opened_at)
    then = await load_insights(source, checkin, ORG, until=late.closes_at - timedelta(minutes=1))
    assert late.id not in {v.pulse_id for v in then.rounds}
