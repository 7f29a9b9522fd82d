"""What the Slack adapter keeps between requests, as ports: installations, OAuth states, Enterprise Grid teams,
channel bindings and the member directory.

`bot/storage/` implements them (`slack_installations.py`, `slack_grid.py`, `slack_channels.py`, `members.py`);
the composition root builds the stores and hands them to the adapter as one `SlackStores`, so the adapter never
builds storage objects itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from bot.domain.secret import Secret
from bot.domain.tenancy import Platform


@dataclass(frozen=True, slots=True)
class SlackInstallation:
    """The bot side of one installation (we never ask for user tokens)."""

    organisation_id: UUID
    workspace_key: str  # team id, or enterprise id for an org-wide install
    team_id: str | None
    enterprise_id: str | None
    is_enterprise_install: bool
    app_id: str | None
    bot_id: str
    bot_user_id: str
    bot_scopes: str
    bot_token: Secret[str]
    installed_at: datetime
    bot_refresh_token: Secret[str] | None = None
    bot_token_expires_at: datetime | None = None


def workspace_key(team_id: str | None, enterprise_id: str | None, is_enterprise_install: bool) -> str:
    key = enterprise_id if is_enterprise_install else team_id
    if not key:
        raise ValueError("an installation needs a team id (or an enterprise id for an org-wide install)")
    return key


class SlackInstallations(Protocol):
    """Port: bot installations (tokens sealed at rest) and the workspace → organisation links."""

    async def organisation_for(self, workspace_id: str) -> UUID | None: ...
    async def link(self, organisation_id: UUID, workspace_id: str) -> bool: ...
    async def save(self, installation: SlackInstallation) -> None: ...
    async def find(self, workspace_key: str) -> SlackInstallation | None: ...
    async def delete(self, workspace_key: str) -> bool: ...


class SlackOAuthStates(Protocol):
    """Port: one-time OAuth `state` values, each bound to the organisation that asked for the install."""

    async def issue(self, organisation_id: UUID, now: datetime) -> str: ...
    async def consume(self, state: str, now: datetime) -> UUID | None: ...


class SlackGrid(Protocol):
    """Port: which workspaces of an Enterprise Grid an org-wide install covers."""

    async def map(self, organisation_id: UUID, enterprise_id: str, teams: Iterable[str]) -> int: ...
    async def enterprise_of(self, team_id: str) -> str | None: ...


class SlackChannels(Protocol):
    """Port: what Slack tells about channels bound to groups (renamed, archived, the bot left)."""

    async def renamed(self, organisation_id: UUID, workspace_id: str, channel_id: str, name: str) -> int: ...
    async def set_usable(
        self, organisation_id: UUID, workspace_id: str, channel_id: str, usable: bool
    ) -> int: ...


class MemberDirectory(Protocol):
    """Port: the people a platform's workspaces hold (address and language only), kept in step by a sync."""

    async def put(
        self, organisation_id: UUID, platform: Platform, workspace: str, people: Mapping[str, str | None]
    ) -> None: ...
    async def leave(
        self, organisation_id: UUID, platform: Platform, workspace: str, addresses: list[str]
    ) -> None: ...
    async def replace(
        self, organisation_id: UUID, platform: Platform, workspace: str, people: Mapping[str, str | None]
    ) -> int: ...
    async def linked(self, platform: Platform) -> list[tuple[UUID, str]]: ...
    async def claim_sync(
        self, organisation_id: UUID, platform: Platform, workspace: str, now: datetime, every: timedelta
    ) -> bool: ...
    async def synced(self, platform: Platform, workspace: str, now: datetime, members: int) -> None: ...


@dataclass(frozen=True)
class SlackStores:
    """Every store the Slack adapter is handed by the composition root."""

    installations: SlackInstallations
    oauth_states: SlackOAuthStates
    grid: SlackGrid
    channels: SlackChannels
    members: MemberDirectory
