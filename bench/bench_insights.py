"""Figures for pulses and insights. Run by hand: python bench/bench_insights.py [--answers N] [--clicks N]

1. Insights over 1,000,000 answers in 500 groups (1 organisation, 19 departments, 480 teams) and 26 weekly
   rounds (six months), on SQLite and on PostgreSQL (an embedded server). Answers go into the rounds'
   counters as clicks do; each round's tally is written when it closes. Then every month is released once
   (pooled per group, floors, OpenDP noise drawn and stored, charged to the accountant) and "insights" — what
   every output reads — is timed: the stored releases, worded into cells with margins. Target: under 0.5 s. The
   release itself (once per month, in the background) and closing a round are timed too. Before timing, every
   pooled count of every shown cell is checked against the counts the benchmark generated.
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

from sqlalchemy import Uuid, and_, bindparam, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalog import load_content
from bot.domain.aggregation import Insights, Release, Visibility, build_release
from bot.domain.clock import FixedClock
from bot.domain.content import PulseSet
from bot.domain.insights import build_rounds, load_insights, release_due
from bot.domain.privacy import EPSILON_PER_PERIOD, period_end, period_of
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
from bot.security.noise import OpenDpNoise
from bot.settings import BUNDLED_CONTENT
from bot.storage.db import create_engine, session_factory
from bot.storage.migrate import upgrade
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.storage.tables_pulses import COUNTER_BIAS, PulseCounterRow, PulseRow

KEY = "bench-secret-key-0123456789abcdefghijklmnop"
DEPARTMENTS = 19
TEAMS_PER_DEPARTMENT = 480 // DEPARTMENTS + 1
TEAMS = 480
ROUNDS = 26
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# (period, team id, question id, value) -> answers, as generated
Truth = dict[tuple[str, uuid.UUID, str, str], int]


class NoNoise:
    """Counts as they are: to check the pooling, never to publish."""

    def noisy_counts(self, counts: Sequence[int], sensitivity: int, epsilon: float) -> tuple[int, ...]:
        return tuple(counts)


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
) -> tuple[int, Truth]:
    """26 closed rounds with `total` answers spread over the teams (team sizes 3..40, everyone answering),
    added to the rounds' counters as clicks add to them."""
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
    truth: Truth = {}
    closing: list[float] = []
    counter = PulseCounterRow.__table__  # type: ignore[attr-defined]
    pulse_table = PulseRow.__table__  # type: ignore[attr-defined]
    add = (
        update(counter)
        .where(
            and_(
                counter.c.pulse_id == bindparam("p"),
                counter.c.group_id == bindparam("g"),
                counter.c.question_id == bindparam("q"),
                counter.c.value == bindparam("v"),
            )
        )
        .values(n=counter.c.n + bindparam("k"))
    )
    for r in range(ROUNDS):
        pulse = await service.open_round(org_id, pulse_set.id, tree)
        period = period_of(START + timedelta(weeks=r))
        # a little churn: a few teams change size by one person every round
        for _ in range(10):
            i = rng.randrange(len(sizes))
            sizes[i] = max(1, sizes[i] + rng.choice((-1, 1)))
        counted: dict[tuple[uuid.UUID, str, str], int] = {}
        for team, size in zip(teams, sizes, strict=True):
            for _ in range(size):
                for q in pulse_set.questions:
                    key = (team.id, q.id, rng.choice(options[q.id]))
                    counted[key] = counted.get(key, 0) + 1
        rows = [{"p": pulse.id, "g": g, "q": q, "v": v, "k": n} for (g, q, v), n in counted.items()]
        for start in range(0, len(rows), 5_000):
            async with engine.begin() as conn:
                await conn.execute(add, rows[start : start + 5_000])
        for (g, q, v), n in counted.items():
            truth[(period, g, q, v)] = truth.get((period, g, q, v), 0) + n
        written += sum(counted.values())
        started = time.perf_counter()
        await store.close_pulse(org_id, pulse.id, pulse.closes_at)
        closing.append(time.perf_counter() - started)
        async with engine.begin() as conn:  # spread the rounds a week apart
            await conn.execute(
                update(pulse_table)
                .where(pulse_table.c.id == pulse.id)
                .values(
                    opened_at=START + timedelta(weeks=r),
                    closes_at=START + timedelta(weeks=r, days=3),
                    closed_at=START + timedelta(weeks=r, days=3),
                )
            )
        clock.advance(timedelta(weeks=1))
    print(
        f"[{engine.url.get_backend_name()}] closing a round of ~{per_round:,} answers (key, participation and "
        f"counters destroyed, tally written): median {statistics.median(closing) * 1000:.0f} ms"
    )
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return written, truth


async def best_of(action: Callable[[], Awaitable[object]], runs: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await action()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def check_pooling(releases: Sequence[Release], pulse_set: PulseSet, truth: Truth) -> str:
    """Every count a shown cell's figures come from (pooled over the month, over the group's subtree) equals
    the counts the benchmark generated: releases made with no noise at all."""
    cells = full = 0
    for release in releases:
        below: dict[uuid.UUID, list[uuid.UUID]] = {}
        for g in release.tree.groups:
            if g.parent_id is not None:
                below.setdefault(g.parent_id, []).append(g.id)
        for cell in release.cells:
            if cell.visibility is Visibility.HIDDEN:
                continue
            cells += 1
            stack, groups = [cell.group_id], []
            while stack:
                g = stack.pop()
                groups.append(g)
                stack.extend(below.get(g, []))
            expected_fav = expected_all = 0
            for q in pulse_set.questions:
                values = [
                    sum(truth.get((release.period, g, q.id, v), 0) for g in groups) for v in answer_options(q)
                ]
                expected_all += sum(values)
                expected_fav += sum(
                    n for v, n in zip(answer_options(q), values, strict=True) if q.is_favourable(v)
                )
                if cell.table is not None and dict(cell.table)[q.id] != tuple(values):
                    raise SystemExit(f"MISMATCH: {cell.group_id}, {q.id}, {release.period}")
            if cell.index_counts != (expected_fav, expected_all - expected_fav):
                raise SystemExit(f"MISMATCH: index of {cell.group_id} in {release.period}")
            full += cell.visibility is Visibility.FULL
    return f"{cells:,} shown group-months ({full:,} in full) pooled exactly as generated"


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
    written, truth = await load_answers(engine, org_id, tree, pulse_set, total)
    print(f"[{label}] loaded {written:,} answers in {time.perf_counter() - started:.1f} s")
    store = SqlPulseStore(engine, master_key_from(KEY))
    pulses = [p for p in await store.rounds(org_id, pulse_set.id) if p.status is PulseStatus.CLOSED]
    rounds = build_rounds(pulses, await store.tallies(org_id, [p.id for p in pulses]))
    periods = sorted({period_of(r.opened_at) for r in rounds})

    def pool(noise: object) -> list[Release]:
        return [
            build_release(
                pulse_set,
                period,
                [r for r in rounds if period_of(r.opened_at) == period],
                EPSILON_PER_PERIOD,
                noise,  # type: ignore[arg-type]
                period_end(period),
            )
            for period in periods
        ]

    print(f"[{label}] check: {check_pooling(pool(NoNoise()), pulse_set, truth)}")
    noise = OpenDpNoise()
    started = time.perf_counter()
    released = await release_due(
        store, {pulse_set.id: pulse_set}, org_id, period_end(periods[-1]) + timedelta(hours=1), noise
    )
    release_time = time.perf_counter() - started
    if len(released) != len(periods):
        raise SystemExit(f"released {len(released)} of {len(periods)} months")

    async def insights() -> Insights:
        return await load_insights(store, pulse_set, org_id)

    async def pooling_only() -> list[Release]:
        return pool(noise)

    result = await insights()
    ins_min, ins_med = await best_of(insights)
    pool_min, pool_med = await best_of(pooling_only, runs=3)
    latest = result.latest
    if latest is None:
        raise SystemExit("nothing was published")
    full = sum(1 for c in latest.cells if c.visibility is Visibility.FULL)
    banded = sum(1 for c in latest.cells if c.visibility is Visibility.BANDED)
    print(
        f"[{label}] insights (every output reads this): best {ins_min * 1000:.0f} ms, median "
        f"{ins_med * 1000:.0f} ms | releasing {len(periods)} months once (tallies, pooling, noise, storing): "
        f"{release_time * 1000:.0f} ms, of which pooling and noise best {pool_min * 1000:.0f} ms, median "
        f"{pool_med * 1000:.0f} ms | latest month: {full} in full, {banded} as a band, "
        f"{len(latest.cells) - full - banded} hidden of {len(latest.cells)} groups"
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
                text("SELECT COALESCE(SUM(n - :bias), 0) FROM pulse_counter WHERE pulse_id = :p").bindparams(
                    bindparam("p", type_=Uuid())
                ),
                {"p": pulse.id, "bias": COUNTER_BIAS},
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
