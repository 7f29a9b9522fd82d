"""The confidential channel's housekeeping while the service runs: retention (of conversations and of the console's
audit log) and the digest, every few minutes.

Both are safe on several replicas: expiry deletes by date (a second run finds nothing), the digest claims each
counsellor's send slot with a compare-and-set.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from bot.logs import get_logger, log_failure
from bot.mail.digest import send_due_digests
from bot.web.portal.channel import ConfidentialChannel
from bot.wiring import Services

log = get_logger(__name__)
INTERVAL_S = 600.0
MAINTENANCE = web.AppKey("portal_maintenance", asyncio.Task[None])


async def run_once(services: Services) -> tuple[int, int]:
    channel = ConfidentialChannel(services.engine, services.settings, services.clock)
    expired = await channel.expire()
    if expired:
        log.info("retention: conversations erased", count=expired)
    purged = await services.audit.purge()
    if purged:
        log.info("retention: audit entries purged", count=purged)
    sent = await send_due_digests(
        services.engine, services.settings, services.clock, services.content.translator
    )
    return expired, sent


async def _loop(services: Services, interval: float) -> None:
    while True:
        try:
            await run_once(services)
        except Exception:  # keep the loop alive whatever one round met; the next round tries again
            log_failure(log, "confidential channel housekeeping failed")
        await asyncio.sleep(interval)


def install_maintenance(app: web.Application, services: Services, interval: float = INTERVAL_S) -> None:
    async def start(app: web.Application) -> None:
        app[MAINTENANCE] = asyncio.create_task(_loop(services, interval))

    async def stop(app: web.Application) -> None:
        task = app.get(MAINTENANCE)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
