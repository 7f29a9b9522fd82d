"""Fakes for the outreach pipeline: an in-memory renderer and gateway, and small HTTP gateways that speak to the
loopback doubles of Slack (Web API simulator) and Teams (Bot Framework connector) until the adapters' own
gateways are wired in."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.domain.delivery import (
    ColumnPost,
    DeliveryError,
    DeliveryFailureKind,
    Post,
    ReminderPost,
    Rendered,
    Sent,
    Target,
)
from bot.domain.sessions import SessionAnnouncementPost, SessionReminderPost
from bot.domain.tenancy import Platform


class FakeRenderer:
    """Renders every outreach Post into a small dict, so tests can see what would be posted."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.calls = 0

    def render(self, post: Post, locale: str) -> Rendered:
        self.calls += 1
        if isinstance(post, ColumnPost):
            text = post.column.title.in_locale(locale)
            ref = post.column.id
        elif isinstance(post, ReminderPost):
            text = post.reminder.title.in_locale(locale)
            ref = post.reminder.id
        elif isinstance(post, SessionAnnouncementPost | SessionReminderPost):
            text = f"{post.session.title} ({post.signups})"
            ref = str(post.session.id)
        else:
            raise TypeError(f"cannot render {type(post).__name__}")
        return Rendered(
            platform=self.platform,
            payload={"kind": post.kind, "ref": ref, "locale": locale, "text": text},
            fallback_text=text,
        )


@dataclass
class SentRecord:
    target: Target
    message: Rendered
    at: float


@dataclass
class FakeGateway:
    """Records every send; `fail(address, error, times)` programs failures for one address, `fail_any` for all."""

    platform: Platform
    sent: list[SentRecord] = field(default_factory=list)
    attempts: list[tuple[str, float]] = field(default_factory=list)
    _plans: dict[str, list[DeliveryError]] = field(default_factory=lambda: defaultdict(list))
    _any: list[DeliveryError] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    delay: float = 0.0

    def fail(self, address: str, error: DeliveryError, times: int = 1) -> None:
        self._plans[address].extend([error] * times)

    def fail_any(self, error: DeliveryError, times: int = 1) -> None:
        self._any.extend([error] * times)

    async def send(self, target: Target, message: Rendered) -> Sent:
        self.attempts.append((target.address, time.monotonic()))
        if self.delay:
            await asyncio.sleep(self.delay)
        plan = self._plans.get(target.address)
        if plan:
            raise plan.pop(0)
        if self._any:
            raise self._any.pop(0)
        self.sent.append(SentRecord(target, message, time.monotonic()))
        return Sent(message_id=f"{self.platform.value}-{next(self._ids)}")

    async def update(self, target: Target, sent: Sent, message: Rendered) -> None:
        return None

    def addresses(self) -> list[str]:
        return [r.target.address for r in self.sent]


def rate_limited(after: float = 1.0) -> DeliveryError:
    return DeliveryError(DeliveryFailureKind.RATE_LIMITED, "rate limited", retry_after=after)


def transient(reason: str = "server error") -> DeliveryError:
    return DeliveryError(DeliveryFailureKind.TRANSIENT, reason)


def permanent(reason: str = "user_not_found") -> DeliveryError:
    return DeliveryError(DeliveryFailureKind.PERMANENT, reason)


_SLACK_PERMANENT = {
    "channel_not_found",
    "is_archived",
    "not_in_channel",
    "user_not_found",
    "account_inactive",
    "invalid_auth",
    "token_revoked",
    "missing_scope",
}


def _retry_after(headers: Any) -> float:
    try:
        return float(headers.get("Retry-After", "1"))
    except ValueError:
        return 1.0


class LoopbackSlackGateway:
    """chat.postMessage against the Slack Web API simulator (a stand-in until the Slack adapter's gateway)."""

    platform = Platform.SLACK

    def __init__(self, api_url: str, token: str, session: aiohttp.ClientSession) -> None:
        self._url = api_url.rstrip("/") + "/"
        self._token = token
        self._session = session

    async def send(self, target: Target, message: Rendered) -> Sent:
        body = {"channel": target.address, "text": message.fallback_text, "metadata": message.payload}
        try:
            async with self._session.post(
                self._url + "chat.postMessage", json=body, headers={"Authorization": f"Bearer {self._token}"}
            ) as response:
                data = await response.json(content_type=None)
                if response.status == 429:
                    raise DeliveryError(
                        DeliveryFailureKind.RATE_LIMITED, "ratelimited", _retry_after(response.headers)
                    )
                if response.status >= 500:
                    raise DeliveryError(DeliveryFailureKind.TRANSIENT, f"http {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(DeliveryFailureKind.TRANSIENT, type(exc).__name__) from None
        if not data.get("ok"):
            error = str(data.get("error"))
            kind = (
                DeliveryFailureKind.PERMANENT if error in _SLACK_PERMANENT else DeliveryFailureKind.TRANSIENT
            )
            raise DeliveryError(kind, error)
        return Sent(message_id=f"{data['channel']}:{data['ts']}")

    async def update(self, target: Target, sent: Sent, message: Rendered) -> None:
        return None


class LoopbackTeamsGateway:
    """Send activity against the Bot Framework connector double (a stand-in until the Teams adapter's gateway)."""

    platform = Platform.TEAMS

    def __init__(self, service_url: str, session: aiohttp.ClientSession) -> None:
        self._url = service_url.rstrip("/")
        self._session = session

    async def send(self, target: Target, message: Rendered) -> Sent:
        activity = {"type": "message", "text": message.fallback_text, "channelData": message.payload}
        url = f"{self._url}/v3/conversations/{target.address}/activities"
        try:
            async with self._session.post(url, json=activity) as response:
                data = await response.json(content_type=None)
                if response.status == 429:
                    raise DeliveryError(
                        DeliveryFailureKind.RATE_LIMITED, "throttled", _retry_after(response.headers)
                    )
                if response.status in {403, 404}:
                    raise DeliveryError(DeliveryFailureKind.PERMANENT, str(data.get("error", {}).get("code")))
                if response.status >= 400:
                    raise DeliveryError(DeliveryFailureKind.TRANSIENT, f"http {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(DeliveryFailureKind.TRANSIENT, type(exc).__name__) from None
        return Sent(message_id=str(data["id"]))

    async def update(self, target: Target, sent: Sent, message: Rendered) -> None:
        return None
