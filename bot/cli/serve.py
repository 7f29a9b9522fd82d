"""`vipbot serve`: the whole service in one process."""

from __future__ import annotations

import argparse
import asyncio
import errno
import signal
import socket
from typing import TYPE_CHECKING

from bot.cli.context import CliContext
from bot.errors import ConfigError
from bot.logs import configure_logging, get_logger

if TYPE_CHECKING:
    from bot.app import Services

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
    from bot.settings import ensure_secret_key, prepare_data_dir

    settings = ctx.settings()
    configure_logging(settings.log_level, settings.log_format.value, ctx.err)
    # Every check before anything is written: a bad setting stops the start with one line and nothing changed.
    content = ctx.content()
    if settings.secret_key is None:
        prepare_data_dir(settings)
    listener = _listen(settings.host, settings.port, "VIPBOT_HOST", "VIPBOT_PORT")
    metrics_listener = None
    try:
        if settings.metrics:
            metrics_listener = _listen(
                settings.metrics_host, settings.metrics_port, "VIPBOT_METRICS_HOST", "VIPBOT_METRICS_PORT"
            )
    except ConfigError:
        listener.close()
        raise
    try:
        # The service itself is imported once the settings, content and ports are known to be good: a start
        # that is refused says so before loading it.
        from aiohttp import web

        from bot.app import build_app, build_services, settle_heap
        from bot.web.observability import AccessLogger, build_metrics_app

        engine = await ctx.current_engine()
        settings = ensure_secret_key(settings)
        services = build_services(settings, ctx.clock, engine, content)
        app = build_app(services)
        runner = web.AppRunner(app, access_log_class=AccessLogger, handle_signals=False)
        await runner.setup()  # runs the features' start hooks
        metrics_runner = None
        if metrics_listener is not None:
            metrics_runner = web.AppRunner(build_metrics_app(services.metrics), access_log=None)
            await metrics_runner.setup()
        settle_heap()
        try:
            await web.SockSite(runner, listener).start()
            if metrics_runner is not None and metrics_listener is not None:
                await web.SockSite(metrics_runner, metrics_listener).start()
            log.info(
                "serving",
                url=settings.public_base_url,
                listen=f"{settings.host}:{settings.port}",
                metrics=f"{settings.metrics_host}:{settings.metrics_port}" if settings.metrics else "off",
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
            if metrics_runner is not None:
                await metrics_runner.cleanup()
            await runner.cleanup()
    finally:
        listener.close()
        if metrics_listener is not None:
            metrics_listener.close()
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


def _listen(host: str, port: int, host_variable: str, port_variable: str) -> socket.socket:
    """A listening socket, bound before anything starts so that a taken port stops the start cleanly."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ConfigError(host_variable, f"{host} is not an address to listen on ({exc.strerror})") from None
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        variable = port_variable if exc.errno in {errno.EADDRINUSE, errno.EACCES} else host_variable
        raise ConfigError(variable, f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
