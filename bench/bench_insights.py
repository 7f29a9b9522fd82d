"""Figures for pulses and insights. Run by hand: python bench/bench_insights.py [--answers N] [--clicks N]

1. Insights over 1,000,000 answers in 500 groups (1 organisation, 19 departments, 480 teams) and 26 rounds,
   on SQLite and on PostgreSQL (an embedded server), each next to one hand-written GROUP BY over the same rows.
   "insights" is the whole path management output goes through: rounds and tree snapshots, the per-value
   counts (each round's tally, written once when the round closed), thresholds, complementary suppression and the
   cross-round differencing guard. The hand-written GROUP BY counts the raw answer rows. Target: under 1 s and
   within 2x the hand-written query. The cost of writing a tally is printed as the time to close a round.
2. 5,000 concurrent answer clicks through PulseService.answer (4,000 people, 1,000 of them clicking twice):
   expected 4,000 answers stored, 1,000 refused — 0 lost, 0 counted twice.

Everything runs against local databases only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Uuid, bindparam, insert, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalog import load_content
from bot.domain.aggregation import Insights, QuestionFigures, aggregate
from bot.domain.clock import FixedClock
from bot.domain.content import PulseSet, Question, QuestionKind
from bot.domain.insights import build_rounds, load_insights
from bot.domain.pulses import (
    AnswerAction,
    AnswerOutcome,
    ClickOrigin,
    Participant,
    PulseService,
    PulseStatus,
    answer_options,
)
from bot.domain.tenancy import GroupKind, GroupTree, Platform
from bot.settings import BUNDLED_CONTENT
from bot.storage.db import create_engine, session_factory
from bot.storage.migrate import upgrade
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.storage.tables_pulses import PulseAnswerRow, PulseRow

KEY = "bench-secret-key-0123456789abcdefghijklmnop"
DEPARTMENTS = 19
TEAMS_PER_DEPARTMENT = 480 // DEPARTMENTS + 1
TEAMS = 480
ROUNDS = 26
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

HAND_WRITTEN = (
    "SELECT pulse_id, group_id, question_id, value, COUNT(*) FROM pulse_answer "
    "WHERE organisation_id = :org GROUP BY pulse_id, group_id, question_id, value"
)


async def build_organisation(engine: AsyncEngine) -> tuple[uuid.UUID, GroupTree]:
    repo = SqlOrganisationRepository(session_factory(engine))
    org = await repo.add_organisation("Bench BV", "bench", "Europe/Amsterdam", "nl", 90)
    made = 0
    for d in range(DEPARTMENTS):
        dept = await repo.add_group(org.id, f"Afdeling {d:02d}", GroupKind.DEPARTMENT, None)
        for t in range(TEAMS_PER_DEPARTMENT):
            if made == TEAMS:
                break
            team = await repo.add_group(org.id, f"Team {d:02d}-{t:02d}", GroupKind.TEAM, dept.slug)
            await repo.bind_channel(org.id, team.slug, Platform.SLACK, "TBENCH", f"C{d:02d}{t:02d}", None)
            made += 1
    tree = await repo.group_tree(org.id)
    if len(tree.groups) != 1 + DEPARTMENTS + TEAMS:
        raise SystemExit(f"expected 500 groups, made {len(tree.groups)}")
    return org.id, tree


async def load_answers(
    engine: AsyncEngine, org_id: uuid.UUID, tree: GroupTree, pulse_set: PulseSet, total: int
) -> int:
    """26 closed rounds with `total` answers spread over the teams (team sizes 3..40, everyone answering)."""
    store = SqlPulseStore(engine, master_key_from(KEY))
    clock = FixedClock(START)
    service = PulseService(store, (pulse_set,), clock)
    rng = random.Random(42)
    teams = [g for g in tree.groups if g.kind is GroupKind.TEAM]
    per_round = total // ROUNDS
    people_per_round = per_round // len(pulse_set.questions)
    weights = [rng.randint(3, 40) for _ in teams]
    scale = people_per_round / sum(weights)
    sizes = [max(1, round(w * scale)) for w in weights]
    options = {q.id: answer_options(q) for q in pulse_set.questions}
    written = 0
    closing: list[float] = []
    answer_table = PulseAnswerRow.__table__  # type: ignore[attr-defined]
    pulse_table = PulseRow.__table__  # type: ignore[attr-defined]
    for r in range(ROUNDS):
        pulse = await service.open_round(org_id, pulse_set.id, tree)
        # a little churn: a few teams change size by one person every round
        for _ in range(10):
            i = rng.randrange(len(sizes))
            sizes[i] = max(1, sizes[i] + rng.choice((-1, 1)))
        rows = [
            {
                "id": uuid.uuid4(),
                "organisation_id": org_id,
                "pulse_id": pulse.id,
                "question_id": q.id,
                "group_id": team.id,
                "value": rng.choice(options[q.id]),
            }
            for team, size in zip(teams, sizes, strict=True)
            for _ in range(size)
            for q in pulse_set.questions
        ]
        for start in range(0, len(rows), 20_000):
            async with engine.begin() as conn:
                await conn.execute(insert(answer_table), rows[start : start + 20_000])
        written += len(rows)
        started = time.perf_counter()
        await store.close_pulse(org_id, pulse.id, pulse.closes_at)
        closing.append(time.perf_counter() - started)
        async with engine.begin() as conn:  # spread the rounds a week apart
            await conn.execute(
                update(pulse_table)
                .where(pulse_table.c.id == pulse.id)
                .values(opened_at=START + timedelta(weeks=r), closes_at=START + timedelta(weeks=r, days=3))
            )
        clock.advance(timedelta(weeks=1))
    print(
        f"[{engine.url.get_backend_name()}] closing a round of ~{per_round:,} answers (key and participation "
        f"destroyed, tally written): median {statistics.median(closing) * 1000:.0f} ms"
    )
    if engine.url.get_backend_name() == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE pulse_answer"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return written


async def best_of(action: Callable[[], Awaitable[object]], runs: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def _subtree(below: dict[str, list[str]], gid: str) -> list[str]:
    found, stack = [], [gid]
    while stack:
        g = stack.pop()
        found.append(g)
        stack.extend(below.get(g, []))
    return found


def _matches(figures: QuestionFigures, question: Question, values: dict[str, int]) -> bool:
    """Whether one published question's figures are what the raw counts give."""
    answers = sum(values.values())
    if answers == 0:
        return False
    favourable = sum(n for v, n in values.items() if question.is_favourable(v)) / answers
    expected_mean: float | None = None
    if question.kind is QuestionKind.LIKERT:
        oriented = sum((6 - int(v) if question.reverse else int(v)) * n for v, n in values.items())
        expected_mean = oriented / answers
    same = (
        figures.answers == answers
        and abs(figures.favourable_share - favourable) < 1e-12
        and (figures.mean is None) == (expected_mean is None)
        and (expected_mean is None or abs((figures.mean or 0.0) - expected_mean) < 1e-12)
    )
    if figures.distribution is not None:
        same = same and all(values.get(v, 0) == n for v, n in figures.distribution)
        same = same and sum(n for _, n in figures.distribution) == answers
    return same


def check_against_group_by(insights: Insights, pulse_set: PulseSet, rows: Sequence[Sequence[object]]) -> str:
    """Every published number recomputed from the hand-written GROUP BY over the raw answer rows: answers, mean,
    favourable share and (where shown) the distribution of every shown group, question and round."""
    direct: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    for pulse_id, group_id, question_id, value, count in rows:
        # SQLite gives the ids as hex, PostgreSQL as UUIDs
        key = (str(uuid.UUID(str(pulse_id))), str(uuid.UUID(str(group_id))))
        counted = direct.setdefault(key, {}).setdefault(str(question_id), {})
        counted[str(value)] = counted.get(str(value), 0) + int(str(count))
    questions = {q.id: q for q in pulse_set.questions}
    cells = with_distribution = 0
    for view in insights.rounds:
        below: dict[str, list[str]] = {}
        for cell in view.cells:
            if cell.group.parent_id is not None:
                below.setdefault(str(cell.group.parent_id), []).append(str(cell.group.id))
        for cell in (c for c in view.cells if c.shown):
            cells += 1
            with_distribution += cell.distribution_shown
            groups = _subtree(below, str(cell.group.id))
            for figures in cell.figures:
                values: dict[str, int] = {}
                for g in groups:
                    for value, n in (
                        direct.get((str(view.pulse_id), g), {}).get(figures.question_id, {}).items()
                    ):
                        values[value] = values.get(value, 0) + n
                if not _matches(figures, questions[figures.question_id], values):
                    raise SystemExit(
                        f"MISMATCH: {cell.group.slug}, {figures.question_id}, round {view.opened_at:%Y-%m-%d}"
                    )
    return f"{cells:,} published group cells ({with_distribution:,} with distribution) equal the GROUP BY"


async def profile_insights(store: SqlPulseStore, pulse_set: PulseSet, org_id: uuid.UUID) -> None:
    """cProfile of one insights call (loading and aggregating; SQLite's own work runs in aiosqlite's thread and
    shows as waiting), the most expensive functions by their own time."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    await load_insights(store, pulse_set, org_id)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue())


async def bench_insights(url: str, label: str, total: int, pulse_set: PulseSet, profile: bool) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    org_id, tree = await build_organisation(engine)
    started = time.perf_counter()
    written = await load_answers(engine, org_id, tree, pulse_set, total)
    print(f"[{label}] loaded {written:,} answers in {time.perf_counter() - started:.1f} s")
    store = SqlPulseStore(engine, master_key_from(KEY))

    async def hand_written() -> Sequence[Sequence[object]]:
        async with engine.connect() as conn:
            query = text(HAND_WRITTEN).bindparams(bindparam("org", type_=Uuid()))
            return (await conn.execute(query, {"org": org_id})).all()

    async def insights() -> Insights:
        return await load_insights(store, pulse_set, org_id)

    rows = await hand_written()
    result = await insights()
    print(f"[{label}] check: {check_against_group_by(result, pulse_set, rows)}")
    base_min, base_med = await best_of(hand_written)
    ins_min, ins_med = await best_of(insights)
    pulses = [p for p in await store.rounds(org_id, pulse_set.id) if p.status is PulseStatus.CLOSED]
    rounds = build_rounds(pulses, await store.tallies(org_id, [p.id for p in pulses]))

    async def aggregation_only() -> Insights:
        return aggregate(pulse_set, rounds)

    agg_min, agg_med = await best_of(aggregation_only)
    latest = result.latest
    if latest is None:
        raise SystemExit("no round was published")
    shown = sum(1 for c in latest.cells if c.shown)
    print(
        f"[{label}] hand-written GROUP BY: best {base_min * 1000:.0f} ms, median {base_med * 1000:.0f} ms | "
        f"insights: best {ins_min * 1000:.0f} ms, median {ins_med * 1000:.0f} ms "
        f"(of which aggregation: best {agg_min * 1000:.0f} ms, median {agg_med * 1000:.0f} ms) | "
        f"ratio {ins_med / base_med:.2f}x | latest round: {shown} of {len(latest.cells)} groups shown"
    )
    if profile:
        await profile_insights(store, pulse_set, org_id)
    await engine.dispose()


async def bench_clicks(url: str, label: str, clicks: int, pulse_set: PulseSet) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    repo = SqlOrganisationRepository(session_factory(engine))
    org = await repo.add_organisation("Klik BV", "klik", "Europe/Amsterdam", "nl", 90)
    dept = await repo.add_group(org.id, "Afdeling", GroupKind.DEPARTMENT, None)
    team = await repo.add_group(org.id, "Team", GroupKind.TEAM, dept.slug)
    await repo.bind_channel(org.id, team.slug, Platform.SLACK, "TKLIK", "CKLIK", None)
    tree = await repo.group_tree(org.id)
    store = SqlPulseStore(engine, master_key_from(KEY))
    service = PulseService(store, (pulse_set,), FixedClock(datetime.now(UTC)))
    pulse = await service.open_round(org.id, pulse_set.id, tree)
    people = clicks * 4 // 5
    action = AnswerAction(pulse.id, pulse_set.questions[0].id, "4")
    where = ClickOrigin(Platform.SLACK, "TKLIK", "CKLIK")
    who = [Participant(Platform.SLACK, "TKLIK", f"U{i % people:06d}") for i in range(clicks)]
    random.Random(1).shuffle(who)
    start = time.perf_counter()
    outcomes = await asyncio.gather(*(service.answer(org.id, action, p, where) for p in who))
    elapsed = time.perf_counter() - start
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT COUNT(*) FROM pulse_answer WHERE pulse_id = :p").bindparams(
                    bindparam("p", type_=Uuid())
                ),
                {"p": pulse.id},
            )
        ).scalar_one()
        participation = (
            await conn.execute(
                text("SELECT COUNT(*) FROM pulse_participation WHERE pulse_id = :p").bindparams(
                    bindparam("p", type_=Uuid())
                ),
                {"p": pulse.id},
            )
        ).scalar_one()
    recorded = outcomes.count(AnswerOutcome.RECORDED)
    refused = outcomes.count(AnswerOutcome.ALREADY_ANSWERED)
    other = len(outcomes) - recorded - refused
    lost = people - stored
    twice = stored - people if stored > people else 0
    print(
        f"[{label}] {clicks:,} concurrent clicks by {people:,} people in {elapsed:.1f} s "
        f"({clicks / elapsed:,.0f}/s): stored {stored:,}, participation rows {participation:,}, "
        f"refused as second answer {refused:,}, other outcomes {other} -> lost {max(lost, 0)}, counted twice {twice}"
    )
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--clicks", type=int, default=5_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--skip-insights", action="store_true")
    parser.add_argument("--skip-clicks", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one insights call")
    args = parser.parse_args()
    pulse_set = load_content(BUNDLED_CONTENT).catalog.pulse_set("wekelijkse-check-in")
    if pulse_set is None:
        raise SystemExit("the bundled pulse set 'wekelijkse-check-in' is missing")
    with tempfile.TemporaryDirectory() as scratch:
        backends: list[tuple[str, Callable[[str], Awaitable[str]]]] = []

        async def sqlite_url(name: str) -> str:
            return f"sqlite+aiosqlite:///{Path(scratch) / name}.db"

        async def postgres_url(name: str) -> str:
            from tests.support.databases import create_database, start_postgres

            if "server" not in postgres_url.__dict__:
                postgres_url.__dict__["server"] = start_postgres(Path(scratch) / "pg")
            url, _ = await create_database(postgres_url.__dict__["server"])
            return url

        if args.only != "postgresql":
            backends.append(("sqlite", sqlite_url))
        if args.only != "sqlite":
            backends.append(("postgresql", postgres_url))
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for label, make in backends if not args.skip_insights else []:
            await bench_insights(await make("insights"), label, args.answers, pulse_set, args.profile)
        for label, make in backends if not args.skip_clicks else []:
            await bench_clicks(await make("clicks"), label, args.clicks, pulse_set)


if __name__ == "__main__":
    asyncio.run(main())
