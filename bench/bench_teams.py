"""Teams card-submit latency: vipbot's /api/messages next to a bare Microsoft 365 Agents SDK bot that does nothing.

Run by hand:  .venv/bin/python bench/bench_teams.py [--requests 2000] [--concurrency 100] [--workload ...]

vipbot runs as `vipbot serve` does (every feature mounted, scheduler on). Each server runs in its own process on
127.0.0.1 (a free port); the Bot Framework connector double runs in a third. The client posts card clicks from 500
different personal chats and measures the time to each HTTP answer: menu buttons as Teams sends an Action.Submit
(a message activity with a `value`), pulse answers as it sends an Action.Execute (an `adaptiveCard/action`
invoke). vipbot answers a menu click with a card, which the SDK posts to the connector double *before* the HTTP
request is answered, so each such request includes one loopback round trip to the connector and its database
reads; it answers a pulse click in the invoke's response after recording the answer. The bare bot (the SDK's
aiohttp CloudAdapter with its own client factory, and an ActivityHandler that does nothing; an Action.Execute gets
a fixed notice) includes neither. No authentication on either side (no app id), as in development.
Figures to compare with: vipbot on botbuilder answered about 385 menu clicks a second on these machines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TENANT = "bench-tenant-0001"
BOT_ID = "28:bench-bot"


def _submit(i: int, service_url: str, action: str, pulse: tuple[str, list[str]] | None) -> bytes:
    activity: dict[str, object] = {
        "type": "message",
        "id": f"submit-{i}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": "2026-03-02T08:00:00.000Z",
        "from": {"id": f"29:user-{i % 500:04d}", "aadObjectId": f"00000000-0000-0000-0000-{i % 500:012d}"},
        "recipient": {"id": BOT_ID, "name": "vipbot"},
        "conversation": {
            "id": f"a:personal-{i % 500:04d}",
            "conversationType": "personal",
            "tenantId": TENANT,
        },
        "channelData": {"tenant": {"id": TENANT}, "source": {"name": "message"}},
        "locale": "nl-NL" if i % 2 else "en-US",
        "value": {"vipbot": action},
    }
    if action == "vp-pulse" and pulse is not None:
        # A one-click answer (Action.Execute): each person answers each question once; later rounds hit
        # "already answered".
        round_id, questions = pulse
        question = questions[(i // 500) % len(questions)]
        data = {"vipbot": action, "answer": f"vp-pulse|{round_id}|{question}|{i % 3 + 1}", "lang": "nl"}
        activity.update(
            type="invoke",
            name="adaptiveCard/action",
            value={"action": {"type": "Action.Execute", "verb": action, "data": data}, "trigger": "manual"},
            replyToId=f"pulse-card-{i % 500:04d}",
        )
    return json.dumps(activity).encode()


BOTBUILDER_VIPBOT = 385.0  # req/s, menu clicks, vipbot before the move to the Agents SDK (docs/teams.md)
WORKLOADS = {"submit-help": "help", "submit-map": "social_map", "submit-pulse": "vp-pulse"}


# -- servers (each in its own process) ------------------------------------------------------------------------


async def _serve_connector(conn: Connection) -> None:
    from tests.doubles.bf_connector import BotConnectorDouble

    double = BotConnectorDouble()
    await double.start()
    conn.send(double.url)

    async def trim() -> None:  # the double records every body: keep its memory flat during long runs
        while True:
            await asyncio.sleep(1)
            del double.requests[:]

    task = asyncio.create_task(trim())
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    task.cancel()
    await double.stop()


async def _serve_bare(conn: Connection) -> None:
    from typing import Any

    from aiohttp import web
    from microsoft_agents.activity import AdaptiveCardInvokeResponse
    from microsoft_agents.hosting.aiohttp import CloudAdapter
    from microsoft_agents.hosting.core import ActivityHandler, RestChannelServiceClientFactory
    from microsoft_agents.hosting.core.authorization import AnonymousTokenProvider, Connections

    class Anonymous(Connections):
        """No app id, as in development: every connection is the SDK's anonymous token provider."""

        def get_connection(self, connection_name: str) -> Any:
            return AnonymousTokenProvider()

        def get_default_connection(self) -> Any:
            return AnonymousTokenProvider()

        def get_token_provider(self, claims_identity: Any, service_url: str) -> Any:
            return AnonymousTokenProvider()

        def get_token_provider_from_activity(self, *args: Any, **kwargs: Any) -> Any:
            return AnonymousTokenProvider()

        def get_default_connection_configuration(self) -> Any:
            return None

    class Bare(ActivityHandler):
        async def on_adaptive_card_invoke(self, turn_context: Any, invoke_value: Any) -> Any:
            return AdaptiveCardInvokeResponse(
                status_code=200, type="application/vnd.microsoft.activity.message", value="ok"
            )

    import logging

    logging.getLogger("microsoft_agents").setLevel(
        logging.ERROR
    )  # a warning per turn about the missing app id
    adapter = CloudAdapter(channel_service_client_factory=RestChannelServiceClientFactory(Anonymous()))
    bot = Bare()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=202)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await runner.cleanup()


async def _serve_vipbot(conn: Connection, data_dir: str) -> None:
    import logging

    from aiohttp import web

    from bench.pulse_round import open_pulse_round
    from bot.adapters.teams import reference_store
    from bot.app import Services, build_app, settle_heap
    from bot.catalog import load_content
    from bot.domain.clock import SystemClock
    from bot.logs import configure_logging
    from bot.settings import load_settings
    from bot.storage.db import create_engine
    from bot.storage.migrate import upgrade
    from bot.web.observability import AccessLogger

    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": data_dir,
            "VIPBOT_SECRET_KEY": "bench-secret-key-0123456789abcdefghijkl",
            "VIPBOT_LOG_LEVEL": "WARNING",
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
    organisation = await services.organisations.add_organisation(
        "Bench", "bench", "Europe/Amsterdam", "nl", 90
    )
    await reference_store(services).connect_tenant(organisation.id, TENANT)
    # The whole service, as `vipbot serve` runs it: every feature mounted, scheduler and workers running.
    app = build_app(services)
    round_id, questions = await open_pulse_round(services, organisation.id)
    runner = web.AppRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    settle_heap()  # as `vipbot serve` does once started
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    conn.send((site._server.sockets[0].getsockname()[1], round_id, questions))  # type: ignore[union-attr]
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    await runner.cleanup()


def _process(target: str, conn: Connection, *args: str) -> None:
    function = {"connector": _serve_connector, "bare": _serve_bare, "vipbot": _serve_vipbot}[target]
    asyncio.run(function(conn, *args))  # type: ignore[operator]


# -- the client -----------------------------------------------------------------------------------------------


async def _load(
    url: str,
    requests: int,
    concurrency: int,
    action: str,
    service_url: str,
    pulse: tuple[str, list[str]] | None,
) -> tuple[list[float], float, int]:
    bodies = [_submit(i, service_url, action, pulse) for i in range(requests)]
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status not in {200, 201, 202}:
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
        f"{name:<9} requests={len(latencies)} failures={failures} "
        f"p50={_percentile(latencies, 0.50) * 1000:6.1f} ms  p99={_percentile(latencies, 0.99) * 1000:6.1f} ms  "
        f"mean={statistics.mean(latencies) * 1000:6.1f} ms  throughput={throughput:7.0f} req/s"
    )
    return throughput


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two servers this many times")
    parser.add_argument(
        "--workload",
        nargs="+",
        choices=sorted(WORKLOADS),
        default=["submit-help", "submit-map"],
        help="submit-help: the welcome card's help button (tenant lookup, card, reply); "
        "submit-map: the sociale kaart button (also reads the counsellors and the session calendar); "
        "submit-pulse: a one-click pulse answer, an Action.Execute (records it or refuses a second one; a transient "
        "notice in the invoke's answer, the card is not changed)",
    )
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    processes = []

    def spawn(target: str, *extra: str) -> object:
        mine, theirs = context.Pipe()
        process = context.Process(target=_process, args=(target, theirs, *extra), daemon=True)
        process.start()
        processes.append((process, mine))
        return mine.recv()

    with tempfile.TemporaryDirectory() as data_dir:
        service_url = str(spawn("connector"))
        bare_port = spawn("bare")
        vip_port, round_id, questions = spawn("vipbot", data_dir)  # type: ignore[misc]
        pulse = (str(round_id), list(questions))
        urls = {
            "bare": f"http://127.0.0.1:{bare_port}/api/messages",
            "vipbot": f"http://127.0.0.1:{vip_port}/api/messages",
        }
        for workload in args.workload:
            action = WORKLOADS[workload]
            print(f"== {workload}: {args.requests} card submits, {args.concurrency} concurrent, loopback")
            results: dict[str, list[tuple[list[float], float, int]]] = {"bare": [], "vipbot": []}
            for (
                url
            ) in urls.values():  # warm-up: first contact of each chat stores its reference, pools, imports
                asyncio.run(_load(url, 500, args.concurrency, action, service_url, pulse))
            for round_ in range(args.rounds):
                for name, url in urls.items():
                    result = asyncio.run(
                        _load(url, args.requests, args.concurrency, action, service_url, pulse)
                    )
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
                f"vipbot/bare throughput {ours / bare:.2f}; vipbot p99 {p99:.1f} ms; "
                f"vipbot / the botbuilder-based vipbot's ~{BOTBUILDER_VIPBOT:.0f} req/s: {ours / BOTBUILDER_VIPBOT:.2f}"
            )
        for process, conn in processes:
            conn.send("stop")
            process.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
