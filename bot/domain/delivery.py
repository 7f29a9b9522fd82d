"""Ports of the outreach pipeline: what is posted (a Post), where (a Target), and the platform side
(a Renderer turns a Post into a platform message; a Gateway sends it).

Each feature defines its own Post types (a column, a reminder, a pulse, a session announcement, a summary);
each platform adapter registers a renderer for every Post type it can show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from bot.domain.content import Column, Reminder
from bot.domain.failures import Failure
from bot.domain.tenancy import Platform


class TargetKind(StrEnum):
    CHANNEL = "channel"  # a Slack channel or a Teams channel/group chat
    PERSON = "person"  # a person's app DM (Slack) or personal chat (Teams)


@dataclass(frozen=True, slots=True)
class Target:
    """Where one delivery goes. `address` is a Slack channel/user id or a Teams conversation reference key."""

    platform: Platform
    workspace_id: str
    kind: TargetKind
    address: str


class Post:
    """Base of everything the outreach pipeline can deliver; subclasses are frozen dataclasses."""

    kind: str = "post"


P = TypeVar("P", bound=Post)


@dataclass(frozen=True, slots=True)
class ColumnPost(Post):
    column: Column
    portal_url: str
    kind: str = "column"


@dataclass(frozen=True, slots=True)
class ReminderPost(Post):
    reminder: Reminder
    portal_url: str
    kind: str = "reminder"
    conduct_url: str | None = None  # the organisation's own code of conduct, linked under the reminder


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message, e.g. a chart image."""

    filename: str
    media_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A platform message ready to send: the platform's own payload plus the plain-text fallback."""

    platform: Platform
    payload: dict[str, object]
    fallback_text: str
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Sent:
    """The platform's id of a sent message, kept to update it later."""

    message_id: str


class DeliveryFailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # try again after `retry_after`
    TRANSIENT = "transient"  # 5xx, timeouts, connection errors: retry with backoff
    PERMANENT = "permanent"  # channel archived, bot removed, user gone: never retried


class DeliveryError(Exception):
    """A send failed. The message is an operator-facing reason and never holds message content."""

    def __init__(
        self,
        kind: DeliveryFailureKind,
        reason: str,
        retry_after: float | None = None,
        failure: Failure | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        # The code the outbox stores when this failure is final; None: it is classified from `reason`.
        self.failure = failure
        self.retry_after = retry_after


class Renderer(Protocol):
    platform: Platform

    def render(self, post: Post, locale: str) -> Rendered:
        """The platform message for `post` in `locale`; raises TypeError for a Post type it does not know."""
        ...


class Gateway(Protocol):
    platform: Platform

    async def send(self, target: Target, message: Rendered) -> Sent:
        """Send once. Raises DeliveryError; retrying is the caller's decision (the outbox worker's)."""
        ...

    async def update(self, target: Target, sent: Sent, message: Rendered) -> None: ...


RenderFunction = Callable[[Any, str], Rendered]
PartsFunction = Callable[[Any, str], Sequence[Rendered]]


class RendererRegistry:
    """One platform's `Renderer`: a render function per Post type, each registered by the feature that owns the type.

    `register(ColumnPost, render_column)`; `render(post, locale)` calls the function of the post's type (or of the
    nearest base class registered). Delivery, the CLI's preview and the console's preview all render through it.

    A post that may not fit in one message on the platform (a management summary of a large organisation) is
    registered with `register_parts`: its function gives every message, in the order they are sent, and
    `render_parts` is the way to render it (`render` refuses it rather than leave messages out).
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._renders: dict[type[Post], RenderFunction] = {}
        self._parts: dict[type[Post], PartsFunction] = {}

    def register(self, post_type: type[P], render: Callable[[P, str], Rendered]) -> None:
        self._claim(post_type)
        self._renders[post_type] = render

    def register_parts(self, post_type: type[P], render: Callable[[P, str], Sequence[Rendered]]) -> None:
        """A post sent as one or more messages: `render` gives all of them, in order."""
        self._claim(post_type)
        self._parts[post_type] = render

    def _claim(self, post_type: type[Post]) -> None:
        if post_type in self._renders or post_type in self._parts:
            raise ValueError(f"{post_type.__name__} already has a {self.platform.value} renderer")

    def knows(self, post_type: type[Post]) -> bool:
        return any(cls in self._renders or cls in self._parts for cls in post_type.__mro__)

    def render(self, post: Post, locale: str) -> Rendered:
        for cls in type(post).__mro__:
            render = self._renders.get(cls)
            if render is not None:
                return render(post, locale)
            if cls in self._parts:
                raise TypeError(f"{type(post).__name__} is sent as several messages: use render_parts")
        raise TypeError(f"no {self.platform.value} renderer for {type(post).__name__}")

    def render_parts(self, post: Post, locale: str) -> tuple[Rendered, ...]:
        """Every message of `post`, in the order they are sent: one for most posts."""
        for cls in type(post).__mro__:
            parts = self._parts.get(cls)
            if parts is not None:
                return tuple(parts(post, locale))
            if cls in self._renders:
                return (self._renders[cls](post, locale),)
        raise TypeError(f"no {self.platform.value} renderer for {type(post).__name__}")


def portal_link(portal_base_url: str, organisation_slug: str) -> str:
    """The organisation's portal address: the same for everybody in it, so it identifies nobody."""
    return f"{portal_base_url.rstrip('/')}/{organisation_slug}"
