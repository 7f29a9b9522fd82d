"""Load on the console's home, insights and calendar pages, on loopback, against SQLite.

    .venv/bin/python bench/bench_console.py [--seconds 30] [--concurrency 50] [--database-url URL]

Seeds a scratch database (an organisation with departments and teams, closed pulse rounds, schedules, past
deliveries, team sessions; a counsellor with a key serving it and `CLIENTS` more client organisations, each with
`CONVERSATIONS` conversations in every state and a whistleblowing report), serves the app in a separate process
on 127.0.0.1, and then keeps `concurrency` signed-in clients busy on each page for `seconds`. Prints requests,
throughput and latency percentiles.
Target: p99 < 200 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serving import served

SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - a scratch database only
TEAMS_PER_DEPARTMENT = 4
DEPARTMENTS = 3
ROUNDS = 8
CLIENTS = 5
CONVERSATIONS = 20


def environ_for(database_url: str) -> dict[str, str]:
    return {"VIPBOT_DATABASE_URL": database_url, "VIPBOT_SECRET_KEY": SECRET, "VIPBOT_LOG_LEVEL": "WARNING"}


def settings_for(database_url: str):  # type: ignore[no-untyped-def]
    from bot.settings import load_settings

    return load_settings(environ_for(database_url), dotenv_path=None)


async def seed(database_url: str) -> tuple[str, str, str]:
    """Returns (organisation slug, viewer session token, counsellor session token)."""
    from bot.app import Services
    from bot.catalog import load_content
    from bot.domain.accounts import Role, SessionStage
    from bot.domain.clock import SystemClock
    from bot.domain.outreach import Audience, What
    from bot.domain.recurrence import WhenBlocked
    from bot.domain.tenancy import GroupKind, Platform
    from bot.security import INSECURE_TEST_PASSWORD_POLICY, Secret, hash_password
    from bot.settings import BUNDLED_CONTENT
    from bot.storage.accounts import SqlAccountRepository
    from bot.storage.db import create_engine
    from bot.storage.migrate import upgrade
    from bot.storage.pulses import SqlPulseStore, master_key_from
    from scheduler.service import build_outreach

    settings = settings_for(database_url)
    engine = create_engine(database_url)
    await upgrade(engine)
    services = Services(
        settings=settings, clock=SystemClock(), engine=engine, content=load_content(BUNDLED_CONTENT)
    )
    repo = services.organisations
    org = await repo.add_organisation("Zorggroep Bench", "bench", "Europe/Amsterdam", "nl", 90)
    for d in range(DEPARTMENTS):
        department = await repo.add_group(org.id, f"Afdeling {d + 1}", GroupKind.DEPARTMENT, None)
        for team in range(TEAMS_PER_DEPARTMENT):
            group = await repo.add_group(org.id, f"Team {d + 1}.{team + 1}", GroupKind.TEAM, department.slug)
            await repo.bind_channel(org.id, group.slug, Platform.SLACK, "TBENCH", f"C{d}{team}", group.slug)
    tree = await repo.group_tree(org.id)
    store = SqlPulseStore(engine, master_key_from(SECRET))
    now = datetime.now(UTC)
    teams = [g for g in tree.groups if g.kind is GroupKind.TEAM]
    for r in range(ROUNDS):
        opened = now - timedelta(weeks=ROUNDS - r)
        pulse = await store.open_pulse(
            org.id, "wekelijkse-check-in", tree.root.id, opened, opened + timedelta(days=3), tree
        )
        person = 0
        for i, team in enumerate(teams):
            for _ in range(3 + (i * 2) % 9):  # some teams below the threshold
                person += 1
                who = f"r{r}p{person}".encode()
                for question, value in (
                    ("veilig-om-te-zeggen", str(2 + person % 4)),
                    ("respectvol-behandeld", str(3 + person % 3)),
                    ("werkdruk-haalbaar", str(1 + person % 5)),
                    ("sfeer-deze-week", ("goed", "wisselend", "gespannen")[person % 3]),
                ):
                    await store.record_answer(org.id, pulse.id, question, team.id, value, who)
        await store.close_pulse(org.id, pulse.id, opened + timedelta(days=3))
    outreach = build_outreach(services)
    everyone = Audience(groups=(tree.root.slug,))
    for name, what, recurrence in (
        ("maandag", What.COLUMN, "every monday at 09:30"),
        ("donderdag", What.REMINDER, "every thursday at 12:00"),
        ("om-de-week", What.COLUMN, "every other tuesday at 10:00"),
    ):
        await outreach.schedules.add(
            org,
            name=name,
            what=what,
            item_id=None,
            audience=everyone,
            recurrence=recurrence,
            anchor=now.date(),
            timezone=None,
            locale=None,
            when_blocked=WhenBlocked.DEFER,
            grace_minutes=120,
            now=now,
        )
    for week in range(3):
        moment = now - timedelta(days=7 * week + 1)
        occurrence, _ = await outreach.outbox.add_occurrence(
            organisation_id=org.id,
            schedule_id=None,
            occurs_at=moment,
            send_at=moment,
            what=What.COLUMN,
            item_id=services.content.catalog.columns[week].id,
            locale="nl",
        )
        addressees = await outreach.materialiser.addressees(org, everyone)
        await outreach.outbox.add_deliveries(occurrence, addressees)
    accounts = SqlAccountRepository(services.sessions)
    encoded = hash_password(Secret("bench password 123"), policy=INSECURE_TEST_PASSWORD_POLICY)
    viewer = await accounts.create_account(
        "mt@bench.test", "MT", Role.VIEWER, encoded, organisation_id=org.id
    )
    counsellor = await accounts.create_account(
        "vp@bench.test", "VP", Role.COUNSELLOR, encoded, organisation_id=org.id
    )
    await seed_conversations(services, org, counsellor.id)
    viewer_token = await accounts.start_session(viewer.id, SessionStage.FULL, now)
    counsellor_token = await accounts.start_session(counsellor.id, SessionStage.FULL, now)
    await engine.dispose()
    return org.slug, viewer_token, counsellor_token


async def seed_conversations(services, first, account_id) -> None:  # type: ignore[no-untyped-def]
    """The counsellor's key, `CLIENTS` more organisations, and conversations in every state in each."""
    from bot.domain.conversations import Author, Classification, Mode
    from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
    from bot.storage.accounts import SqlAccountRepository
    from bot.web.portal.channel import ConfidentialChannel

    channel = ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    await channel.add_counsellor(first.id, "VP", "vp@bench.test", Secret("bench passphrase"))
    accounts = SqlAccountRepository(services.sessions)
    organisations = [first]
    for n in range(CLIENTS):
        client = await services.organisations.add_organisation(
            f"Klant {n + 1}", f"klant-{n + 1}", "Europe/Amsterdam", "nl", 90
        )
        await accounts.assign_counsellor(account_id, client.id)
        organisations.append(client)
    for org in organisations:
        for c in range(CONVERSATIONS):
            conversation, _code = await channel.service.start(org.id, 90, Mode.ANONYMOUS, f"Bericht {c}")
            if c % 3:  # a third new, a third waiting for the employee, a third waiting for the counsellor
                await channel.service.write(org.id, 90, conversation, Author.COUNSELLOR, "Antwoord", 1)
            if c % 3 == 2:
                await channel.service.write(org.id, 90, conversation, Author.EMPLOYEE, "Nog iets", 2)
            if c == 0:
                await channel.store.classify(
                    org.id,
                    conversation,
                    Classification(follow_up="whistleblowing-report"),
                    services.clock.now().date(),
                )


async def load(url: str, token: str, seconds: float, concurrency: int) -> list[float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, cookies={"vipbot_session": token}) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.get(url, allow_redirects=False) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if errors:
        print(f"  {errors} responses were not 200")
    return latencies


def report(name: str, latencies: list[float], seconds: float) -> None:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    print(
        f"{name:<10} requests={len(ordered):>6}  rps={len(ordered) / seconds:7.1f}  "
        f"p50={pct(0.50):6.1f} ms  p95={pct(0.95):6.1f} ms  p99={pct(0.99):6.1f} ms  "
        f"max={ordered[-1] * 1000:6.1f} ms  mean={statistics.fmean(ordered) * 1000:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        slug, viewer, counsellor = asyncio.run(seed(database_url))
        with served(environ_for(database_url)) as base:
            backend = database_url.split(":")[0]
            print(f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per page, database {backend}")
            for name, path, token in (
                ("home", "/console/", counsellor),
                ("insights", f"/console/o/{slug}/insights", viewer),
                ("calendar", f"/console/o/{slug}/calendar", counsellor),
                ("settings", f"/console/o/{slug}/settings", counsellor),
                ("profile", "/console/me", counsellor),
            ):
                asyncio.run(load(base + path, token, 2, 5))  # warm up
                latencies = asyncio.run(load(base + path, token, args.seconds, args.concurrency))
                report(name, latencies, args.seconds)


if __name__ == "__main__":
    main()
