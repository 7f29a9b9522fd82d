"""The Slack member source: who in a linked workspace the bot may DM, and in which language.

- A sync pages through `users.list` (200 a page, following `response_metadata.next_cursor`, with the locale)
  and makes the workspace's part of the member directory exactly the people listed: deactivated accounts, bots,
  Slackbot and — unless VIPBOT_SLACK_MEMBERS_GUESTS — guests (single- and multi-channel) are left out, and
  whoever is no longer listed leaves the directory. The client's rate-limit handler waits out 429s.
- Events keep it current between syncs: `team_join` adds a person (their locale from one `users.info`),
  `user_change` updates them or, when the account was deactivated or became a guest or bot, takes them out.
- A background job, started with the Slack feature, syncs every linked workspace that was never synced or not
  for VIPBOT_SLACK_MEMBER_SYNC_HOURS; a replica claims a workspace's sync in the database first, so one replica
  does it. A newly linked workspace is synced within a minute.

Nothing about a person is stored but their user id, whether they count as a member, and their locale.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

import aiohttp
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.gateway import SlackClients
from bot.domain.clock import Clock
from bot.domain.delivery import DeliveryError
from bot.domain.slack_workspaces import MemberDirectory, SlackGrid, SlackInstallations, SlackStores
from bot.domain.tenancy import Platform
from bot.logs import get_logger
from bot.periodic import Periodic
from bot.wiring import Services

log = get_logger(__name__)

PAGE_SIZE = 200
JOB_INTERVAL = 60.0  # seconds between looks for workspaces due a sync
SLACKBOT = "USLACKBOT"


@dataclass(frozen=True, slots=True)
class MemberPolicy:
    """Who counts as a member. Bots and deactivated accounts never do."""

    guests: bool = False  # single- and multi-channel guests (is_ultra_restricted / is_restricted)


def counts_as_member(user: dict[str, Any], policy: MemberPolicy) -> bool:
    if user.get("deleted") or user.get("is_bot") or user.get("is_app_user") or user.get("id") == SLACKBOT:
        return False
    guest = bool(user.get("is_restricted") or user.get("is_ultra_restricted"))
    return policy.guests or not guest


def _locale(user: dict[str, Any]) -> str | None:
    locale = user.get("locale")
    return str(locale) if locale else None


class SlackMemberSync:
    def __init__(
        self,
        clients: SlackClients,
        directory: MemberDirectory,
        installations: SlackInstallations,
        clock: Clock,
        policy: MemberPolicy,
        every: timedelta,
        grid: SlackGrid | None = None,
    ) -> None:
        self._grid = grid
        self._clients = clients
        self._directory = directory
        self._installations = installations
        self._clock = clock
        self._policy = policy
        self._every = every

    async def sync_workspace(self, organisation_id: UUID, workspace: str) -> tuple[int, int]:
        """Read every page of the workspace's members into the directory; returns (members, who left)."""
        client = await self._clients.for_workspace(workspace)
        people: dict[str, str | None] = {}
        cursor: str | None = None
        while True:
            page = await client.users_list(
                limit=PAGE_SIZE, cursor=cursor, include_locale=True, team_id=workspace
            )
            for user in page.get("members") or []:
                if counts_as_member(user, self._policy):
                    people[str(user["id"])] = _locale(user)
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "") or None
            if cursor is None:
                break
        left = await self._directory.replace(organisation_id, Platform.SLACK, workspace, people)
        await self._directory.synced(Platform.SLACK, workspace, self._clock.now(), len(people))
        log.info("slack members synced", workspace=workspace, members=len(people), left=left)
        return len(people), left

    async def sync_due(self) -> int:
        """Sync every linked workspace that is due and not taken by another replica; returns how many."""
        done = 0
        for organisation_id, workspace in await self._directory.linked(Platform.SLACK):
            if not await self._directory.claim_sync(
                organisation_id, Platform.SLACK, workspace, self._clock.now(), self._every
            ):
                continue
            try:
                installation = await self._installations.find(workspace)
                if installation is not None and installation.is_enterprise_install:
                    # An org-wide install has no members of its own: read which workspaces it serves; they
                    # are linked to the organisation and synced like any other from the next look on.
                    await self.map_grid(organisation_id, workspace)
                    await self._directory.synced(Platform.SLACK, workspace, self._clock.now(), 0)
                else:
                    await self.sync_workspace(organisation_id, workspace)
            except (SlackApiError, DeliveryError, aiohttp.ClientError, TimeoutError) as exc:
                # One line, no payload: the claim runs out and the next look tries again.
                log.warning("slack member sync failed", workspace=workspace, error=type(exc).__name__)
                continue
            done += 1
        return done

    async def map_grid(self, organisation_id: UUID, enterprise_id: str) -> int:
        """The workspaces of an Enterprise Grid install (`auth.teams.list`), linked to its organisation."""
        if self._grid is None:
            return 0
        client = await self._clients.for_workspace(enterprise_id)
        teams: list[str] = []
        cursor: str | None = None
        while True:
            page = await client.auth_teams_list(limit=PAGE_SIZE, cursor=cursor)
            teams += [str(t["id"]) for t in page.get("teams") or [] if t.get("id")]
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "") or None
            if cursor is None:
                break
        new = await self._grid.map(organisation_id, enterprise_id, teams)
        log.info("slack grid workspaces mapped", enterprise=enterprise_id, workspaces=len(teams), new=new)
        return new

    # -- events ----------------------------------------------------------------------------------------------

    async def access_granted(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        """`team_access_granted`: an org-wide install was added to more workspaces of the grid."""
        enterprise = context.enterprise_id
        teams = [str(t) for t in event.get("team_ids") or [] if t]
        if self._grid is None or not enterprise or not teams:
            return
        organisation_id = await self._installations.organisation_for(enterprise)
        if organisation_id is not None:
            await self._grid.map(organisation_id, enterprise, teams)

    async def _organisation(self, context: AsyncBoltContext) -> UUID | None:
        for key in (context.team_id, context.enterprise_id):
            if key:
                found = await self._installations.organisation_for(key)
                if found is not None:
                    return found
        return None

    async def changed(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        """`team_join` and `user_change`: the event carries the user object (without the locale)."""
        user = event.get("user")
        if not isinstance(user, dict) or not user.get("id"):
            return
        workspace = str(user.get("team_id") or context.team_id or "")
        organisation_id = await self._organisation(context)
        if organisation_id is None or not workspace:
            return
        address = str(user["id"])
        if not counts_as_member(user, self._policy):
            await self._directory.leave(organisation_id, Platform.SLACK, workspace, [address])
            return
        locale = None
        if event.get("type") == "team_join":
            # One users.info (Tier 4) per newcomer; changes keep the known locale until the next sync.
            locale = await self._lookup_locale(workspace, address)
        await self._directory.put(organisation_id, Platform.SLACK, workspace, {address: locale})

    async def _lookup_locale(self, workspace: str, user: str) -> str | None:
        try:
            client = await self._clients.for_workspace(workspace)
            answer = await client.users_info(user=user, include_locale=True)
        except (SlackApiError, DeliveryError, aiohttp.ClientError, TimeoutError):
            return None
        found = answer.get("user") or {}
        return _locale(found) if isinstance(found, dict) else None


def register_member_events(bolt: AsyncApp, sync: SlackMemberSync) -> None:
    bolt.event("team_join")(sync.changed)
    bolt.event("user_change")(sync.changed)
    bolt.event("team_access_granted")(sync.access_granted)


def member_sync_job(
    sync: SlackMemberSync, interval: float = JOB_INTERVAL
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running `sync_due` now and every `interval` seconds while the application runs."""

    async def job(_app: web.Application) -> AsyncIterator[None]:
        loop = Periodic(sync.sync_due, "slack member sync job failed", interval, "slack-member-sync", log)
        loop.start()
        try:
            yield
        finally:
            await loop.stop()

    return job


def build_member_sync(
    services: Services, bolt: AsyncApp, clients: SlackClients, stores: SlackStores
) -> SlackMemberSync:
    """The member source of the Slack feature, listening to bolt's member events (its job: `mount_member_sync`)."""
    settings = services.settings
    sync = SlackMemberSync(
        clients,
        stores.members,
        stores.installations,
        services.clock,
        MemberPolicy(guests=settings.slack_members_guests),
        timedelta(hours=settings.slack_member_sync_hours),
        stores.grid,
    )
    register_member_events(bolt, sync)
    return sync


def mount_member_sync(app: web.Application, services: Services, sync: SlackMemberSync) -> None:
    """The sync job runs where the scheduler runs."""
    app[MEMBER_SYNC] = sync
    if services.settings.scheduler_enabled:
        app.cleanup_ctx.append(member_sync_job(sync))


MEMBER_SYNC = web.AppKey("slack_member_sync", SlackMemberSync)
