"""Teams' side of the channel picker: the teams the bot is in (from the stored conversation references, with the
names Teams sent), and each team's channels from Bot Connector REST `GET /v3/teams/{teamId}/conversations`, on the
SDK connector client's authenticated session (the SDK's Teams helpers for it need Python 3.12).

Teams names a team's General channel with no name at all: it comes back as a choice with an empty name, which the
console words in the reader's language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from uuid import UUID

import aiohttp

from bot.adapters.teams.clients import ConnectorClients
from bot.domain.channels import ChannelChoice, ChannelListError, ChannelListProblem, Space
from bot.domain.teams_references import TeamsReferences, TeamsScope
from bot.domain.tenancy import Platform


class TeamsChannelDirectory:
    """`ChannelDirectory` for Teams."""

    def __init__(self, store: TeamsReferences, clients: ConnectorClients) -> None:
        self._store = store
        self._clients = clients

    async def spaces(self, organisation_id: UUID, workspace_ids: Sequence[str]) -> list[Space]:
        teams: dict[str, Space] = {}
        for stored in await self._store.list_references(organisation_id, TeamsScope.CHANNEL):
            reference = stored.reference
            if reference.team_id and reference.team_id not in teams:
                teams[reference.team_id] = Space(
                    Platform.TEAMS,
                    reference.tenant_id,
                    reference.team_id,
                    reference.team_name or "",
                    reference.service_url,
                )
        return sorted(teams.values(), key=lambda s: s.name.lower())

    async def channels(self, space: Space) -> list[ChannelChoice]:
        if not space.service_url:
            raise ChannelListError(ChannelListProblem.NOT_CONNECTED)
        try:
            client = await self._clients.client(space.service_url)
            path = f"v3/teams/{quote(space.space_id, safe='')}/conversations"
            async with client.client.get(path) as response:
                if response.status == 429:
                    raise ChannelListError(ChannelListProblem.RATE_LIMITED)
                if response.status >= 500:
                    raise ChannelListError(ChannelListProblem.UNAVAILABLE)
                if response.status >= 400:
                    raise ChannelListError(ChannelListProblem.REFUSED)
                data: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise ChannelListError(ChannelListProblem.UNREACHABLE) from None
        listed = data.get("conversations") if isinstance(data, dict) else None
        choices = [
            ChannelChoice(str(c["id"]), str(c.get("name") or ""))
            for c in listed or []
            if isinstance(c, dict) and c.get("id")
        ]
        return sorted(choices, key=lambda c: (c.name != "", c.name.lower()))
