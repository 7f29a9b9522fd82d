"""Slack ack latency: vipbot's /slack/events next to a bare slack-bolt AsyncApp that only acks.

Run by hand:  .venv/bin/python bench/bench_slack.py [--requests 2000] [--concurrency 100]

vipbot runs as `vipbot serve` does (every feature mounted, scheduler and workers on); each server runs in its own
process on 127.0.0.1 (a free port), both against the Slack Web API simulator on loopback (it only answers the one
auth.test a single-workspace app makes). The client sends signed block_actions requests (the "start a confidential
conversation" door button) or `/vp` commands and measures the time to each acknowledgement.
Target: vipbot's p99 < 100 ms and at least half the bare app's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105  (loopback only)
TOKEN = "xoxb-test"  # noqa: S105  (the simulator's token)
TEAM = "T0001"


def _payload(i: int, pulse: tuple[str, list[str]] | None = None) -> bytes:
    payload: dict[str, object] = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "bench"},
        "user": {"id": f"U{i % 500:05d}", "team_id": TEAM},
        "api_app_id": "A0SIM",
        "token": "legacy",
        "container": {"type": "view", "view_id": "V1"},
        "trigger_id": f"{i}.1.2",
        "actions": [
            {
                "action_id": "vp_door_open",
                "block_id": "door",
                "type": "button",
                "text": {"type": "plain_text", "text": "Start"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _command(i: int, pulse: tuple[str, list[str]] | None = None) -> bytes:
    form = {
        "token": "legacy",
        "team_id": TEAM,
        "team_domain": "bench",
        "channel_id": "C0GENERAL",
        "channel_name": "general",
        "user_id": f"U{i % 500:05d}",
        "user_name": "someone",
        "command": "/vp",
        "text": "",
        "api_app_id": "A0SIM",
        "response_url": "https://hooks.slack.test/commands/1/2/3",
        "trigger_id": f"{i}.1.2",
    }
    return urlencode(form).encode()


def _answer(i: int, pulse: tuple[str, list[str]] | None = None) -> bytes:
    """A one-click pulse answer from a channel post: each person answers each question once, later rounds are
    refused as second answers (both paths write or read the database before the ack)."""
    if pulse is None:
        raise ValueError("the pulse-answer workload needs the open round")
    round_id, questions = pulse
    question = questions[(i // 500) % len(questions)]
    value = str(i % 5 + 1)
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "bench"},
        "user": {"id": f"U{i % 500:05d}", "team_id": TEAM},
        "api_app_id": "A0SIM",
        "token": "legacy",
        "container": {"type": "message", "channel_id": "C0GENERAL", "message_ts": "1700000000.000100"},
        "channel": {"id": "C0GENERAL"},
        "trigger_id": f"{i}.1.2",
        "actions": [
            {
                "action_id": f"vp-pulse:{question}:{value}",
                "block_id": f"q-{question}",
                "type": "button",
                "value": f"vp-pulse|{round_id}|{question}|{value}",
                "text": {"type": "plain_text", "text": value},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


WORKLOADS = {"door-click": _payload, "slash-vp": _command, "pulse-answer": _answer}


def _signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


# -- servers (each in its own process) ------------------------------------------------------------------------


async def _serve_simulator(conn: multiprocessing.connection.Connection) -> None:
    from tests.doubles.slack_api import SlackApiSimulator

    sim = SlackApiSimulator()
    for i in range(500):
        sim.add_user(f"U{i:05d}", locale="nl-NL" if i % 2 else "en-US")
    sim.add_channel("C0GENERAL", "general")
    await sim.start()
    conn.send(sim.api_url)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await sim.stop()


async def _serve_bare(conn: multiprocessing.connection.Connection, api_url: str) -> None:
    from aiohttp import web
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(signing_secret=SIGNING_SECRET, client=AsyncWebClient(token=TOKEN, base_url=api_url))

    @app.action("vp_door_open")
    async def _ack(ack) -> None:  # type: ignore[no-untyped-def]
        await ack()

    @app.action(re.compile(r"^vp-pulse:"))
    async def _answer(ack) -> None:  # type: ignore[no-untyped-def]
        await ack()

    @app.command("/vp")
    async def _command(ack) -> None:  # type: ignore[no-untyped-def]
        await ack(text="help")

    runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn.send(port)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await runner.cleanup()


async def _serve_vipbot(conn: multiprocessing.connection.Connection, api_url: str, data_dir: str) -> None:
    import logging

    from aiohttp import web

    from bench.pulse_round import open_pulse_round
    from bot.app import Services, build_app, settle_heap
    from bot.catalog import load_content
    from bot.domain.clock import SystemClock
    from bot.logs import configure_logging
    from bot.security.secret import Secret
    from bot.settings import load_settings
    from bot.storage.db import create_engine
    from bot.storage.migrate import upgrade
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.storage.slack_installations import SqlSlackInstallations
    from bot.web.observability import AccessLogger

    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": data_dir,
            "VIPBOT_SECRET_KEY": "bench-secret-key-0123456789abcdefghijkl",
            "VIPBOT_LOG_LEVEL": "WARNING",
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": api_url,
        },
        dotenv_path=None,
    )
    configure_logging("WARNING", "json")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    engine = create_engine(settings.effective_database_url)
    await upgrade(engine)
    services = Services(
        settings=settings, clock=SystemClock(), engine=engine, content=load_content(settings.content_dir)
    )
    organisation = await SqlOrganisationRepository(services.sessions).add_organisation(
        "Bench", "bench", "Europe/Amsterdam", "nl", 90
    )
    key = Secret(b"bench-secret-key-0123456789abcdefghijkl")
    await SqlSlackInstallations(services.sessions, key).link(organisation.id, TEAM)
    # The whole service, as `vipbot serve` runs it: every feature mounted, scheduler and workers running.
    app = build_app(services)
    round_id, questions = await open_pulse_round(services, organisation.id)
    runner = web.AppRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    settle_heap()  # as `vipbot serve` does once started
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    conn.send((port, round_id, questions))
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await runner.cleanup()


def _process(target: str, conn: multiprocessing.connection.Connection, *args: str) -> None:
    function = {"simulator": _serve_simulator, "bare": _serve_bare, "vipbot": _serve_vipbot}[target]
    asyncio.run(function(conn, *args))  # type: ignore[operator]


# -- the client -----------------------------------------------------------------------------------------------


async def _load(
    url: str, requests: int, concurrency: int, workload: str, pulse: tuple[str, list[str]]
) -> tuple[list[float], float, int]:
    make = WORKLOADS[workload]
    bodies = [make(i, pulse) for i in range(requests)]
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                headers = _signed(body)
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        failures += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return latencies, wall, failures


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _report(name: str, latencies: list[float], wall: float, failures: int) -> float:
    throughput = len(latencies) / wall
    print(
        f"{name:<8} requests={len(latencies)} failures={failures} "
        f"p50={_percentile(latencies, 0.50) * 1000:6.1f} ms  p99={_percentile(latencies, 0.99) * 1000:6.1f} ms  "
        f"mean={statistics.mean(latencies) * 1000:6.1f} ms  throughput={throughput:7.0f} req/s"
    )
    return throughput


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two servers this many times")
    parser.add_argument(
        "--workload",
        nargs="+",
        choices=sorted(WORKLOADS),
        default=["door-click", "slash-vp"],
        help="door-click: block_actions on the door link button (the interaction the target is set for); "
        "slash-vp: the /vp command, through bolt's listeners, the database and the locale lookup; "
        "pulse-answer: a one-click pulse answer, written (or refused as a second answer) before the ack",
    )
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    processes = []

    def spawn(target: str, *extra: str) -> tuple[object, multiprocessing.connection.Connection]:
        mine, theirs = context.Pipe()
        process = context.Process(target=_process, args=(target, theirs, *extra), daemon=True)
        process.start()
        processes.append((process, mine))
        return mine.recv(), mine

    with tempfile.TemporaryDirectory() as data_dir:
        api_url, _ = spawn("simulator")
        bare_port, _ = spawn("bare", str(api_url))
        (vip_port, round_id, questions), _ = spawn("vipbot", str(api_url), data_dir)  # type: ignore[misc]
        pulse = (str(round_id), list(questions))
        urls = {
            "bare": f"http://127.0.0.1:{bare_port}/slack/events",
            "vipbot": f"http://127.0.0.1:{vip_port}/slack/events",
        }
        for workload in args.workload:
            print(f"== {workload}: {args.requests} signed requests, {args.concurrency} concurrent, loopback")
            results: dict[str, list[tuple[list[float], float, int]]] = {"bare": [], "vipbot": []}
            for url in urls.values():  # warm-up: first auth.test, connection pools, imports, locale cache
                asyncio.run(_load(url, 500, args.concurrency, workload, pulse))
            for round_ in range(args.rounds):
                for name, url in urls.items():
                    result = asyncio.run(_load(url, args.requests, args.concurrency, workload, pulse))
                    results[name].append(result)
                    _report(f"{name}#{round_ + 1}", *result)
            merged = {
                name: ([x for r in runs for x in r[0]], sum(r[1] for r in runs), sum(r[2] for r in runs))
                for name, runs in results.items()
            }
            print("-- all rounds together")
            bare = _report("bare", *merged["bare"])
            ours = _report("vipbot", *merged["vipbot"])
            p99 = _percentile(merged["vipbot"][0], 0.99) * 1000
            print(
                f"vipbot/bare throughput {ours / bare:.2f} (target >= 0.50); vipbot p99 {p99:.1f} ms (target < 100)"
            )
        for process, conn in processes:
            conn.send("stop")
            process.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
