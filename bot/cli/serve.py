"""`vipbot serve`: the whole service in one process."""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import socket

from aiohttp import web

from bot.app import Services, build_app, settle_heap
from bot.cli.context import CliContext
from bot.domain.clock import SystemClock
from bot.errors import ConfigError
from bot.logs import configure_logging, get_logger
from bot.settings import Settings, ensure_secret_key, prepare_data_dir
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
    # Every check before anything is written: a bad setting stops the start with one line and nothing changed.
    content = ctx.content()
    if settings.secret_key is None:
        prepare_data_dir(settings)
    listener = _listen(settings)
    try:
        engine = await ctx.current_engine()
        settings = ensure_secret_key(settings)
        services = Services(settings=settings, clock=SystemClock(), engine=engine, content=content)
        app = build_app(services)
        runner = web.AppRunner(app, access_log_class=AccessLogger, handle_signals=False)
        await runner.setup()  # runs the features' start hooks
        settle_heap()
        try:
            await web.SockSite(runner, listener).start()
            log.info(
                "serving",
                url=settings.public_base_url,
                listen=f"{settings.host}:{settings.port}",
                env=settings.env.value,
                database="sqlite" if settings.uses_embedded_database else "postgresql",
            )
            await _say_where_to_go(services)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await stop.wait()
            log.info("stopping")
        finally:
            await runner.cleanup()
    finally:
        listener.close()
    return 0


async def _say_where_to_go(services: Services) -> None:
    """The last start-up line: where a person goes next (and, on a fresh install, how to get in at all)."""
    from bot.storage.accounts import SqlAccountRepository

    settings = services.settings
    console = f"{settings.public_base_url}/console/"
    if await SqlAccountRepository(services.sessions).count_accounts() == 0:
        log.warning(
            "no console account yet: create the first administrator with "
            "`vipbot admin create --email ADDRESS --name NAME`, then sign in",
            console=console,
        )
    log.info("ready: open the console in a browser", console=console, portal=f"{settings.public_portal_url}/")


def _listen(settings: Settings) -> socket.socket:
    """The listening socket, bound before anything starts so that a taken port stops the start cleanly."""
    try:
        family = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        problem = f"{settings.host} is not an address to listen on ({exc.strerror})"
        raise ConfigError("VIPBOT_HOST", problem) from None
    try:
        return socket.create_server((settings.host, settings.port), family=family, backlog=128)
    except OSError as exc:
        variable = "VIPBOT_PORT" if exc.errno in {errno.EADDRINUSE, errno.EACCES} else "VIPBOT_HOST"
        raise ConfigError(
            variable, f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc})"
        ) from None
