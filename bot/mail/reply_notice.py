"""The employee's opt-in reply notice: "there is a reply", by e-mail and/or Web Push, after a random delay.

Content-free by design (DESIGN §4.5): no message text, no organisation, no counsellor, no receipt code, no link
(the portal's address names the organisation). The e-mail says only that a reply waits where the employee
started; the push message's encrypted body is a fixed marker and the browser shows a fixed sentence. The delay
is drawn at random for each reply, so the notice's time does not mark the moment the counsellor wrote.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from ipaddress import ip_address
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.clock import Clock
from bot.domain.i18n import Translator
from bot.logs import get_logger
from bot.mail.smtp import MailError, mail_configured, send_mail
from bot.security.secret import Secret
from bot.security.webpush import PushSubscription, push_request
from bot.settings import Settings
from bot.storage.db import session_factory
from bot.storage.notices import DueNotice, SqlNotices

log = get_logger(__name__)
PUSH_PAYLOAD = b'{"v":1}'  # the same few bytes for every notice: the browser shows a fixed sentence
PUSH_TIMEOUT_S = 15
RETRY_AFTER = timedelta(minutes=30)


def push_hosts(settings: Settings) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in settings.push_hosts.split(",") if h.strip())


def push_endpoint_allowed(endpoint: str, hosts: tuple[str, ...]) -> bool:
    """Only the push services the operator allows (a subscription names the URL the service will post to):
    HTTPS, or plain HTTP on a loopback address that the operator listed (a local push service)."""
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    listed = any(host == h or host.endswith("." + h) for h in hosts)
    if not listed or len(endpoint) > 1000:
        return False
    if parts.scheme == "https":
        return True
    try:
        return parts.scheme == "http" and ip_address(host).is_loopback
    except ValueError:
        return False


def push_contact(settings: Settings) -> str:
    if settings.push_contact:
        return settings.push_contact
    if settings.smtp_from:
        return f"mailto:{settings.smtp_from}"
    return "https://" + (urlsplit(settings.public_base_url).hostname or "localhost")


def notice_delay(settings: Settings, rng: random.Random) -> Callable[[], timedelta]:
    low, high = settings.notice_delay_min_minutes * 60, settings.notice_delay_max_minutes * 60
    return lambda: timedelta(seconds=rng.randint(low, high))


def compose_mail(translator: Translator) -> tuple[str, str]:
    """Subject and body, in Dutch and English: the same words for every employee and every reply."""
    nl = translator.t("nl", "portal.notice.mail_body")
    en = translator.t("en", "portal.notice.mail_body")
    return translator.t("nl", "portal.notice.mail_subject"), f"{nl}\n\n-- \n\n{en}\n"


async def send_push(
    http: aiohttp.ClientSession,
    master: Secret[bytes],
    settings: Settings,
    clock: Clock,
    push: PushSubscription,
) -> bool:
    if not push_endpoint_allowed(push.endpoint, push_hosts(settings)):
        return False
    body, headers = push_request(master, push, PUSH_PAYLOAD, push_contact(settings), clock.now())
    try:
        async with http.post(
            push.endpoint,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=PUSH_TIMEOUT_S),
            allow_redirects=False,
        ) as response:
            return response.status < 300 or response.status in {404, 410}  # 404/410: the browser unsubscribed
    except (aiohttp.ClientError, TimeoutError):
        return False


async def send_due_notices(
    engine: AsyncEngine,
    settings: Settings,
    clock: Clock,
    rng: random.Random,
    translator: Translator,
    http: aiohttp.ClientSession,
    master: Secret[bytes],
) -> int:
    """Send every notice that is due; returns how many went. Safe with several replicas (compare-and-set)."""
    notices = SqlNotices(session_factory(engine), master)
    sent = 0
    for notice in await notices.due(clock.now(), notice_delay(settings, rng)):
        if await _deliver(notice, settings, clock, translator, http, master):
            sent += 1
        else:
            await notices.retry(notice, clock.now() + RETRY_AFTER)
    return sent


async def _deliver(
    notice: DueNotice,
    settings: Settings,
    clock: Clock,
    translator: Translator,
    http: aiohttp.ClientSession,
    master: Secret[bytes],
) -> bool:
    delivered = True
    if notice.choice.email is not None and mail_configured(settings):
        subject, body = compose_mail(translator)
        try:
            await send_mail(settings, notice.choice.email, subject, body)
        except MailError:
            log.warning("reply notice: the SMTP server did not take a notice; it is tried again later")
            delivered = False
    if notice.choice.push is not None and not await send_push(
        http, master, settings, clock, notice.choice.push
    ):
        log.warning("reply notice: the push service did not take a notice; it is tried again later")
        delivered = False
    return delivered
