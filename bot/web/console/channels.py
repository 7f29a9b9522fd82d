"""The organisation page's channel picker: workspace and team names and their channels, from the platforms' own
lists (`PlatformRegistry.channels`), kept a minute on the service's clock. A platform that cannot answer gives a
code shown as one line; the page and the id form work on without it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from aiohttp import web

from bot.cache import TtlCache
from bot.domain.channels import ChannelChoice, ChannelDirectory, ChannelListError, ChannelListProblem, Space
from bot.domain.tenancy import Platform
from bot.logs import get_logger
from bot.wiring import Services

log = get_logger(__name__)
LIST_TTL_SECONDS = (
    60.0  # channels change rarely; a minute keeps the page from calling Slack or Teams per view
)
PICK_SEPARATOR = "\t"


class CachedChannelDirectory:
    """A ChannelDirectory whose answers are kept `ttl` seconds of the injected clock; failures are not kept."""

    def __init__(self, inner: ChannelDirectory, services: Services, ttl: float = LIST_TTL_SECONDS) -> None:
        def clock() -> float:
            return services.clock.now().timestamp()

        self.inner = inner
        self._spaces: TtlCache[tuple[UUID, tuple[str, ...]], list[Space]] = TtlCache(ttl, 256, clock=clock)
        self._channels: TtlCache[Space, list[ChannelChoice]] = TtlCache(ttl, 256, clock=clock)

    async def spaces(self, organisation_id: UUID, workspace_ids: Sequence[str]) -> list[Space]:
        ids = tuple(sorted(workspace_ids))
        return await self._spaces.get((organisation_id, ids), lambda: self.inner.spaces(organisation_id, ids))

    async def channels(self, space: Space) -> list[ChannelChoice]:
        return await self._channels.get(space, lambda: self.inner.channels(space))


CACHES = web.AppKey("console_channel_caches", dict[Platform, CachedChannelDirectory])


def register(console: web.Application) -> None:
    console[CACHES] = {}


def directory(console: web.Application, services: Services, platform: Platform) -> ChannelDirectory | None:
    """The platform's directory behind this console's cache (None while the platform's adapter is not running)."""
    inner = services.platforms[platform].channels
    if inner is None:
        return None
    caches = console[CACHES]
    cached = caches.get(platform)
    if cached is None or cached.inner is not inner:
        cached = caches[platform] = CachedChannelDirectory(inner, services)
    return cached


@dataclass
class SpaceView:
    space: Space
    channels: list[ChannelChoice] = field(default_factory=list)
    problem: ChannelListProblem | None = None


@dataclass
class PlatformView:
    platform: Platform
    available: bool  # the platform's adapter runs here
    spaces: list[SpaceView] = field(default_factory=list)
    problem: ChannelListProblem | None = None

    @property
    def choices(self) -> int:
        return sum(len(s.channels) for s in self.spaces)


def pick_value(space: Space, channel: ChannelChoice) -> str:
    return PICK_SEPARATOR.join((space.platform.value, space.workspace_id, space.space_id, channel.channel_id))


async def platform_views(
    console: web.Application,
    services: Services,
    organisation_id: UUID,
    connections: dict[Platform, list[str]],
) -> list[PlatformView]:
    views = []
    for platform in Platform:
        found = directory(console, services, platform)
        view = PlatformView(platform, available=found is not None)
        views.append(view)
        if found is None:
            continue
        try:
            spaces = await found.spaces(organisation_id, connections.get(platform, []))
        except ChannelListError as exc:
            view.problem = exc.code
            log.info("channel list failed", platform=platform.value, code=exc.code.value)
            continue
        for space in spaces:
            shown = SpaceView(space)
            try:
                shown.channels = await found.channels(space)
            except ChannelListError as exc:
                shown.problem = exc.code
                log.info("channel list failed", platform=platform.value, code=exc.code.value)
            view.spaces.append(shown)
    return views


async def chosen(
    console: web.Application,
    services: Services,
    organisation_id: UUID,
    connections: dict[Platform, list[str]],
    value: str,
) -> tuple[Platform, str, str, str | None] | None:
    """(platform, workspace id, channel id, channel name) of a picked channel of one of the organisation's own
    workspaces or teams, the name as the platform lists it (never as the browser sent it); None otherwise."""
    parts = value.split(PICK_SEPARATOR)
    if len(parts) != 4 or parts[0] not in {p.value for p in Platform} or not all(parts):
        return None
    platform, workspace_id, space_id, channel_id = Platform(parts[0]), parts[1], parts[2], parts[3]
    found = directory(console, services, platform)
    if found is None:
        return None
    try:
        spaces = await found.spaces(organisation_id, connections.get(platform, []))
        space = next((s for s in spaces if (s.workspace_id, s.space_id) == (workspace_id, space_id)), None)
        if space is None:
            return None
        match = next((c for c in await found.channels(space) if c.channel_id == channel_id), None)
    except ChannelListError:
        return None
    if match is None:
        return None
    return platform, workspace_id, channel_id, match.name or None
