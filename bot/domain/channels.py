"""Channel pickers: the channels a platform itself lists for an organisation's workspaces (Slack) or teams
(Microsoft Teams), with their names — so nobody has to type T…/C… ids.

Each platform adapter implements `ChannelDirectory`; the console asks it through `PlatformRegistry.channels`.
What went wrong is a `ChannelListProblem` code, shown as one line; the page works on without the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from bot.domain.tenancy import Platform
from bot.errors import VipbotError


class ChannelListProblem(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429: the platform asks us to slow down
    UNAVAILABLE = "unavailable"  # 5xx: the platform has a problem
    UNREACHABLE = "unreachable"  # no answer, refused connection, timeout
    REFUSED = "refused"  # the platform answered no (token revoked, missing scope)
    NOT_CONNECTED = "not_connected"  # no installation or token for this workspace


class ChannelListError(VipbotError):
    def __init__(self, code: ChannelListProblem) -> None:
        super().__init__(f"channel list: {code.value}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Space:
    """A Slack workspace or a Teams team, by name.

    `workspace_id` is what a channel binding stores (Slack team id; Teams tenant id); `space_id` is what the
    platform lists channels of (the same Slack team id; the Teams team id).
    """

    platform: Platform
    workspace_id: str
    space_id: str
    name: str
    service_url: str | None = None  # Teams: where the team's Bot Connector is


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    channel_id: str
    name: str
    private: bool = False


class ChannelDirectory(Protocol):
    """Port: what a platform lists for an organisation."""

    async def spaces(self, organisation_id: UUID, workspace_ids: Sequence[str]) -> list[Space]:
        """The organisation's workspaces (Slack: those ids, named) or teams (Teams: those it knows)."""
        ...

    async def channels(self, space: Space) -> list[ChannelChoice]: ...
