"""The whole service for a benchmark: built as `vipbot serve` builds it, in its own process on 127.0.0.1.

    with served(environ) as base_url:   # environ: the VIPBOT_* settings (the port is chosen here)
        ... load base_url ...

Not a benchmark itself (`make bench` runs only `bench_*.py`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(environ: dict[str, str]) -> None:
    from aiohttp import web

    from bot.app import Services, build_app, settle_heap
    from bot.catalog import load_content
    from bot.domain.clock import SystemClock
    from bot.logs import configure_logging
    from bot.settings import BUNDLED_CONTENT, load_settings
    from bot.storage.db import create_engine

    settings = load_settings(environ, dotenv_path=None)
    configure_logging("WARNING")
    services = Services(
        settings=settings,
        clock=SystemClock(),
        engine=create_engine(settings.effective_database_url),
        content=load_content(BUNDLED_CONTENT),
    )
    app = build_app(services)  # the whole service, as `vipbot serve` runs it

    async def settle(_app: web.Application) -> None:
        settle_heap()  # as `vipbot serve` does once started

    app.on_startup.append(settle)
    web.run_app(app, host="127.0.0.1", port=settings.port, print=None, access_log=None)


async def _wait_until_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the server did not start")


@contextmanager
def served(environ: dict[str, str]) -> Iterator[str]:
    """The service on a free loopback port until the block ends; yields its base URL once /healthz answers."""
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=({**environ, "VIPBOT_PORT": str(port)},), daemon=True
    )
    server.start()
    try:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_wait_until_up(base + "/healthz"))
        yield base
    finally:
        server.terminate()
        server.join(10)
