"""Slack's side of the channel picker: workspace names from `auth.test`, channels from `conversations.list`.

`conversations.list` is paged with a cursor; with a bot token it lists every public channel and the private
channels the bot is a member of, which is what the picker offers. Archived channels are left out. The console
waits for this, so there are no retries and a short timeout: a 429, a 5xx or no answer is one line on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.gateway import TokenSource
from bot.domain.channels import ChannelChoice, ChannelListError, ChannelListProblem, Space
from bot.domain.tenancy import Platform

PAGE_SIZE = 200  # Slack's advice for conversations.list
MAX_PAGES = 50  # 10,000 channels: more is not a picker any more
TIMEOUT_SECONDS = 10


class SlackChannelDirectory:
    """`ChannelDirectory` for Slack, on the Web API at `api_url` (SLACK_API_URL)."""

    def __init__(self, api_url: str, tokens: TokenSource) -> None:
        self._api_url = api_url
        self._tokens = tokens

    async def _client(self, workspace_id: str) -> AsyncWebClient:
        token = await self._tokens.token_for(workspace_id)
        if token is None:
            raise ChannelListError(ChannelListProblem.NOT_CONNECTED)
        return AsyncWebClient(
            token=token.reveal(), base_url=self._api_url, timeout=TIMEOUT_SECONDS, retry_handlers=[]
        )

    async def spaces(self, organisation_id: UUID, workspace_ids: Sequence[str]) -> list[Space]:
        found = []
        for workspace_id in workspace_ids:
            client = await self._client(workspace_id)
            answer = await _call(client.auth_test())
            name = str(answer.get("team") or workspace_id)
            found.append(Space(Platform.SLACK, workspace_id, workspace_id, name))
        return found

    async def channels(self, space: Space) -> list[ChannelChoice]:
        client = await self._client(space.workspace_id)
        choices: list[ChannelChoice] = []
        cursor = ""
        for _page in range(MAX_PAGES):
            answer = await _call(
                client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=PAGE_SIZE,
                    cursor=cursor or None,
                )
            )
            for channel in answer.get("channels") or []:
                choice = _choice(channel)
                if choice is not None:
                    choices.append(choice)
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return sorted(choices, key=lambda c: c.name.lower())


def _choice(channel: Any) -> ChannelChoice | None:
    if not isinstance(channel, dict) or not channel.get("id") or channel.get("is_archived"):
        return None
    private = bool(channel.get("is_private"))
    if private and not channel.get("is_member"):
        return None  # Slack lists only those anyway; a private channel the bot is not in cannot be posted to
    return ChannelChoice(str(channel["id"]), str(channel.get("name") or channel["id"]), private)


async def _call(call: Any) -> Any:
    try:
        return await call
    except SlackApiError as exc:
        status = exc.response.status_code
        error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            raise ChannelListError(ChannelListProblem.RATE_LIMITED) from None
        if status >= 500:
            raise ChannelListError(ChannelListProblem.UNAVAILABLE) from None
        raise ChannelListError(ChannelListProblem.REFUSED) from None
    except (aiohttp.ClientError, TimeoutError, OSError):
        raise ChannelListError(ChannelListProblem.UNREACHABLE) from None
