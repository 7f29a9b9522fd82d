"""Scheduled outreach: what a schedule posts, to whom, and the rules that decide it.

Plain values and decisions; storage keeps the rows, the scheduler computes fire times and runs the workers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from bot.domain.delivery import Post, Target, TargetKind
from bot.domain.recurrence import Recurrence, WhenBlocked
from bot.domain.tenancy import ChannelBinding, GroupTree, Platform


class What(StrEnum):
    COLUMN = "column"  # the next column from the rotation (or a fixed one)
    REMINDER = "reminder"  # the next code-of-conduct reminder from the rotation (or a fixed one)
    PULSE = "pulse"  # a pulse; its Post is built by the pulses feature (see PostFactory)
    SESSION = "session"  # the announcement of a team session
    SESSION_REMINDER = "session_reminder"  # "tomorrow: ..." for a team session
    DIGEST = "digest"  # the columns sent last month, in one post (bot/domain/digest.py)

    @property
    def rotates(self) -> bool:
        return self in {What.COLUMN, What.REMINDER}


class AudienceError(ValueError):
    """An audience that names nothing, or names something that does not exist."""


@dataclass(frozen=True, slots=True)
class Audience:
    """To whom: groups (their bound channels), explicit channels, and/or every member's DM."""

    groups: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # "platform:workspace:channel"
    members: bool = False
    platforms: tuple[Platform, ...] = (Platform.SLACK, Platform.TEAMS)

    def to_json(self) -> str:
        return json.dumps(
            {
                "groups": list(self.groups),
                "channels": list(self.channels),
                "members": self.members,
                "platforms": [p.value for p in self.platforms],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Audience:
        data = json.loads(text)
        return cls(
            groups=tuple(data.get("groups", ())),
            channels=tuple(data.get("channels", ())),
            members=bool(data.get("members", False)),
            platforms=tuple(Platform(p) for p in data.get("platforms", ("slack", "teams"))),
        )

    def describe(self) -> str:
        parts = [f"group {g}" for g in self.groups] + [f"channel {c}" for c in self.channels]
        if self.members:
            parts.append("every member's DM")
        return ", ".join(parts) or "nobody"


def parse_channel(text: str) -> Target:
    """'slack:T123:C456' or 'teams:<tenant>:<conversation id>' into a channel target."""
    platform, _, rest = text.partition(":")
    workspace, _, address = rest.partition(":")
    if platform not in {p.value for p in Platform} or not workspace or not address:
        raise AudienceError(
            f"'{text}' is not a channel: write platform:workspace:channel, e.g. slack:T0123:C0456"
        )
    return Target(Platform(platform), workspace, TargetKind.CHANNEL, address)


@dataclass(frozen=True, slots=True)
class Member:
    """Someone the bot can write to directly."""

    target: Target
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Addressee:
    target: Target
    locale: str | None = None


def resolve_audience(
    audience: Audience, tree: GroupTree, bindings: Sequence[ChannelBinding], members: Iterable[Member]
) -> list[Addressee]:
    """Every target of the audience, each once; raises AudienceError for a group that does not exist."""
    found: dict[tuple[str, str, str], Addressee] = {}

    def add(target: Target, locale: str | None = None) -> None:
        if target.platform in audience.platforms:
            found.setdefault(
                (target.platform.value, target.workspace_id, target.address), Addressee(target, locale)
            )

    for slug in audience.groups:
        group = tree.by_slug(slug)
        if group is None:
            raise AudienceError(f"there is no group '{slug}'")
        for binding in bindings:
            if binding.group_id == group.id and not binding.archived:
                add(Target(binding.platform, binding.workspace_id, TargetKind.CHANNEL, binding.channel_id))
    for text in audience.channels:
        add(parse_channel(text))
    if audience.members:
        for member in members:
            add(member.target, member.locale)
    return list(found.values())


def rotation_pick(schedule_id: UUID, library: Sequence[str], used: dict[str, int]) -> str | None:
    """The next item of a rotation: the least-used one, in an order fixed per schedule.

    Nothing repeats until every item in the library has been used once; items added later come first.
    Deterministic, so replicas that race to materialise the same occurrence pick the same item.
    """
    if not library:
        return None

    def order(item: str) -> tuple[int, str]:
        return used.get(item, 0), hashlib.sha256(f"{schedule_id}:{item}".encode()).hexdigest()

    return min(library, key=order)


@dataclass(frozen=True, slots=True)
class Schedule:
    id: UUID
    organisation_id: UUID
    name: str
    what: What
    item_id: str | None
    audience: Audience
    recurrence: Recurrence
    anchor: date
    timezone: str
    locale: str
    when_blocked: WhenBlocked
    grace_minutes: int
    enabled: bool
    cursor_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One firing: chosen once (the first replica to insert it wins) and shared by all its deliveries."""

    id: UUID
    organisation_id: UUID
    schedule_id: UUID | None
    occurs_at: datetime
    send_at: datetime
    what: What
    item_id: str | None
    locale: str


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: UUID
    organisation_id: UUID
    occurrence_id: UUID
    target: Target
    locale: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxStats:
    pending: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    failures: tuple[tuple[str, int], ...] = field(default=())


class PostFactory(Protocol):
    """Builds the Post of an occurrence; the outreach feature knows columns, reminders and sessions, the pulses
    feature registers its own for What.PULSE."""

    async def build(self, occurrence: Occurrence) -> Post | None:
        """The Post, or None when there is nothing to post any more (e.g. a cancelled session)."""
        ...
