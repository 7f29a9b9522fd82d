"""The confidential channel's housekeeping while the service runs: retention (of conversations and of the console's
audit log) and the digest every few minutes, reply notices every minute.

All are safe on several replicas: expiry deletes by date (a second run finds nothing), the digest claims each
counsellor's send slot and each reply notice its due time with a compare-and-set.
"""

from __future__ import annotations

import random

import aiohttp
from aiohttp import web

from bot.logs import get_logger
from bot.mail.digest import send_due_digests
from bot.mail.reply_notice import send_due_notices
from bot.periodic import Periodic
from bot.web.portal.channel import ConfidentialChannel, master_key
from bot.wiring import Services

log = get_logger(__name__)
INTERVAL_S = 600.0
NOTICE_INTERVAL_S = 60.0
MAINTENANCE = web.AppKey("portal_maintenance", list[Periodic])
NOTICE_HTTP = web.AppKey("portal_notice_http", aiohttp.ClientSession)


async def run_once(services: Services) -> tuple[int, int]:
    channel = ConfidentialChannel(services.engine, services.settings, services.clock)
    expired = await channel.expire()
    if expired:
        log.info("retention: conversations erased", count=expired)
    # Actions on conversations leave the audit log with the organisation's conversation retention.
    retention = {o.id: o.retention_days for o in await services.organisations.list_organisations()}
    purged = await services.audit.purge(retention)
    if purged:
        log.info("retention: audit entries purged", count=purged)
    sent = await send_due_digests(
        services.engine, services.settings, services.clock, services.content.translator
    )
    return expired, sent


async def run_notices(services: Services, http: aiohttp.ClientSession, rng: random.Random) -> int:
    return await send_due_notices(
        services.engine,
        services.settings,
        services.clock,
        rng,
        services.content.translator,
        http,
        master_key(services.settings),
    )


def install_maintenance(
    app: web.Application,
    services: Services,
    interval: float = INTERVAL_S,
    notice_interval: float = NOTICE_INTERVAL_S,
    rng: random.Random | None = None,
) -> None:
    draw = rng or random.SystemRandom()

    async def start(app: web.Application) -> None:
        http = aiohttp.ClientSession()
        app[NOTICE_HTTP] = http
        app[MAINTENANCE] = loops = [
            Periodic(
                lambda: run_once(services),
                "confidential channel housekeeping failed",
                interval,
                "portal-housekeeping",
                log,
            ),
            Periodic(
                lambda: run_notices(services, http, draw),
                "reply notices failed",
                notice_interval,
                "reply-notices",
                log,
            ),
        ]
        for loop in loops:
            loop.start()

    async def stop(app: web.Application) -> None:
        for loop in app.get(MAINTENANCE, []):
            await loop.stop()
        http = app.get(NOTICE_HTTP)
        if http is not None:
            await http.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
