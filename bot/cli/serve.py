"""`vipbot serve`: the whole service in one process."""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiohttp import web

from bot.app import Services, build_app
from bot.catalog import load_content
from bot.cli.context import CliContext
from bot.domain.clock import SystemClock
from bot.logs import configure_logging, get_logger
from bot.settings import ensure_secret_key
from bot.storage.db import create_engine
from bot.storage.migrate import ensure_current, upgrade
from bot.web.observability import AccessLogger

log = get_logger(__name__)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the service: web routes, Slack and Teams endpoints, scheduler and delivery workers",
        description="Run the service. On the embedded default (SQLite) the database is created and upgraded "
        "in place; on PostgreSQL run `vipbot db upgrade` first.",
    )
    parser.set_defaults(handler=run)


async def run(_args: argparse.Namespace, ctx: CliContext) -> int:
    settings = ctx.settings()
    configure_logging(settings.log_level, settings.log_format.value, ctx.err)
    settings = ensure_secret_key(settings)
    content = load_content(settings.content_dir)
    if settings.uses_embedded_database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url)
    if settings.uses_embedded_database:
        await upgrade(engine)
    else:
        await ensure_current(engine)
    services = Services(settings=settings, clock=SystemClock(), engine=engine, content=content)
    app = build_app(services)
    runner = web.AppRunner(app, access_log_class=AccessLogger, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
    await site.start()
    log.info(
        "serving",
        url=settings.public_base_url,
        listen=f"{settings.host}:{settings.port}",
        env=settings.env.value,
        database="sqlite" if settings.uses_embedded_database else "postgresql",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    return 0
