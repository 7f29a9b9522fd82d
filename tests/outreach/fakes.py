"""Fakes for the outreach pipeline: an in-memory renderer and gateway, and the delivery errors tests program.

Tests that talk HTTP use the adapters' own gateways against the loopback doubles (tests/doubles) instead."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field

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
from bot.domain.team_sessions import SessionAnnouncementPost, SessionReminderPost
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
