"""Load on every console page a counsellor visits daily, on loopback, against SQLite.

    .venv/bin/python bench/bench_console.py [--seconds 30] [--concurrency 50] [--pages home,inbox,…]
                                            [--database-url URL]

Seeds a scratch database (an organisation with departments and teams, closed pulse rounds, schedules, past
deliveries, team sessions; a counsellor with a key serving it and `CLIENTS` more client organisations, each with
`CONVERSATIONS` conversations in every state, labelled, and a whistleblowing report; an audit log), serves the
app in a separate process on 127.0.0.1, and then keeps `concurrency` signed-in clients busy on each page for
`seconds`. Prints requests, throughput and latency percentiles per page, then a summary of p50/p99.

Pages: home, the inbox list and a conversation (with the inbox unlocked once, before the run, as the counsellor's
browser holds it: no passphrase or key derivation per request), calendar, insights (as a management viewer),
the organisation's settings, the counsellor's profile, and the audit log (as an administrator).
Target: p99 < 200 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serving import served

SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105 - a scratch database only
TEAMS_PER_DEPARTMENT = 4
DEPARTMENTS = 3
ROUNDS = 8
CLIENTS = 5
CONVERSATIONS = 20
AUDIT_ENTRIES = 400
PAGES = ("home", "inbox", "conversation", "calendar", "insights", "settings", "profile", "audit")


@dataclass(frozen=True)
class Seeded:
    slug: str
    viewer: str  # session tokens
    counsellor: str
    admin: str
    inbox_cookie: str  # the unlocked inbox, as the counsellor's browser keeps it
    conversation: UUID


def environ_for(database_url: str) -> dict[str, str]:
    return {"VIPBOT_DATABASE_URL": database_url, "VIPBOT_SECRET_KEY": SECRET, "VIPBOT_LOG_LEVEL": "WARNING"}


def settings_for(database_url: str):  # type: ignore[no-untyped-def]
    from bot.settings import load_settings

    return load_settings(environ_for(database_url), dotenv_path=None)


async def seed(database_url: str) -> Seeded:
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
    admin = await accounts.create_account("admin@bench.test", "Admin", Role.ADMIN, encoded)
    inbox_cookie, conversation = await seed_conversations(services, org, counsellor.id)
    await seed_audit(services, (viewer.id, counsellor.id, admin.id), org.id)
    seeded = Seeded(
        slug=org.slug,
        viewer=await accounts.start_session(viewer.id, SessionStage.FULL, now),
        counsellor=await accounts.start_session(counsellor.id, SessionStage.FULL, now),
        admin=await accounts.start_session(admin.id, SessionStage.FULL, now),
        inbox_cookie=inbox_cookie,
        conversation=conversation,
    )
    await engine.dispose()
    return seeded


async def seed_audit(services, account_ids, organisation_id) -> None:  # type: ignore[no-untyped-def]
    from bot.domain.audit import CONVERSATION, CONVERSATION_ACTIONS
    from bot.usecases.audit import AuditAction

    actions = list(AuditAction)
    for n in range(AUDIT_ENTRIES):
        action = actions[n % len(actions)]
        subject = CONVERSATION if action in CONVERSATION_ACTIONS else "setting"  # those are kept by day
        await services.audit.record(account_ids[n % len(account_ids)], action, organisation_id, subject)


async def seed_conversations(services, first, account_id) -> tuple[str, UUID]:  # type: ignore[no-untyped-def]
    """The counsellor's key, `CLIENTS` more organisations, and conversations in every state in each, each with
    a label. Returns the unlocked inbox's cookie value and a conversation of the first organisation."""
    from bot.domain.conversations import Author, Classification, Mode
    from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
    from bot.storage.accounts import SqlAccountRepository
    from bot.web.portal.channel import ConfidentialChannel

    channel = ConfidentialChannel(
        services.engine, services.settings, services.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    counsellor_id = await channel.add_counsellor(first.id, "VP", "vp@bench.test", Secret("bench passphrase"))
    accounts = SqlAccountRepository(services.sessions)
    organisations = [first]
    for n in range(CLIENTS):
        client = await services.organisations.add_organisation(
            f"Klant {n + 1}", f"klant-{n + 1}", "Europe/Amsterdam", "nl", 90
        )
        await accounts.assign_counsellor(account_id, client.id)
        organisations.append(client)
    shown = None
    key = await channel.unlock(counsellor_id, Secret("bench passphrase"))
    for org in organisations:
        for c in range(CONVERSATIONS):
            conversation, _code = await channel.service.start(org.id, 90, Mode.ANONYMOUS, f"Bericht {c}")
            await channel.labels.set(key, org.id, conversation, f"Label {c}")  # as the console labels
            shown = shown or conversation
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
    ticket = await channel.open_inbox(key, timedelta(hours=4))
    cookie = base64.urlsafe_b64encode(ticket.unlock_id.bytes + ticket.key.reveal()).decode("ascii")
    if shown is None:
        raise SystemExit("no conversation was seeded")
    return cookie, shown


async def load(url: str, cookies: dict[str, str], seconds: float, concurrency: int) -> list[float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, cookies=cookies) as session:

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


def report(name: str, latencies: list[float], seconds: float) -> tuple[float, float]:
    """Prints one page's figures; returns its p50 and p99 in ms."""
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    print(
        f"{name:<13} requests={len(ordered):>6}  rps={len(ordered) / seconds:7.1f}  "
        f"p50={pct(0.50):6.1f} ms  p95={pct(0.95):6.1f} ms  p99={pct(0.99):6.1f} ms  "
        f"max={ordered[-1] * 1000:6.1f} ms  mean={statistics.fmean(ordered) * 1000:6.1f} ms",
        flush=True,
    )
    return pct(0.50), pct(0.99)


def pages(seeded: Seeded) -> dict[str, tuple[str, dict[str, str]]]:
    """Each page's path and the cookies of the browser that asks for it."""
    slug = seeded.slug
    counsellor = {"vipbot_session": seeded.counsellor}
    unlocked = {**counsellor, "vipbot_inbox": seeded.inbox_cookie}
    return {
        "home": ("/console/", counsellor),
        "inbox": (f"/console/o/{slug}/inbox", unlocked),
        "conversation": (f"/console/o/{slug}/inbox/{seeded.conversation}", unlocked),
        "calendar": (f"/console/o/{slug}/calendar", counsellor),
        "insights": (f"/console/o/{slug}/insights", {"vipbot_session": seeded.viewer}),
        "settings": (f"/console/o/{slug}/settings", counsellor),
        "profile": ("/console/me", counsellor),
        "audit": ("/console/audit", {"vipbot_session": seeded.admin}),
    }


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:  # not Linux
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated, of: " + ", ".join(PAGES))
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.pages.split(",") if p.strip()]
    unknown = set(chosen) - set(PAGES)
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as scratch:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        seeded = asyncio.run(seed(database_url))
        with served(environ_for(database_url)) as base:
            backend = database_url.split(":")[0]
            print(
                f"{args.concurrency} concurrent clients, {args.seconds:.0f} s per page, database {backend}, "
                f"load average {load_average()}",
                flush=True,
            )
            routes = pages(seeded)
            summary = []
            for name in chosen:
                path, cookies = routes[name]
                asyncio.run(load(base + path, cookies, 2, 5))  # warm up
                latencies = asyncio.run(load(base + path, cookies, args.seconds, args.concurrency))
                summary.append((name, *report(name, latencies, args.seconds)))
            print(f"summary (ms, {args.concurrency} concurrent, load average after {load_average()}):")
            for name, p50, p99 in summary:
                print(f"  {name:<13} p50 {p50:6.1f}  p99 {p99:6.1f}{'' if p99 < 200 else '  (over 200)'}")


if __name__ == "__main__":
    main()
