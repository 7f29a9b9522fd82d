"""Tenancy: the practice, its client organisations, their group trees and platform bindings.

Every value that belongs to an organisation carries its id; every repository method takes it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID


class GroupKind(StrEnum):
    ORGANISATION = "organisation"
    DEPARTMENT = "department"
    TEAM = "team"


# Which kind of group may sit directly under which.
ALLOWED_PARENT: dict[GroupKind, GroupKind | None] = {
    GroupKind.ORGANISATION: None,
    GroupKind.DEPARTMENT: GroupKind.ORGANISATION,
    GroupKind.TEAM: GroupKind.DEPARTMENT,
}


class Platform(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"


class CounsellorRole(StrEnum):
    PRIMARY = "primary"
    DEPUTY = "deputy"


@dataclass(frozen=True, slots=True)
class Organisation:
    id: UUID
    slug: str
    name: str
    timezone: str
    locale: str
    retention_days: int


@dataclass(frozen=True, slots=True)
class Group:
    id: UUID
    organisation_id: UUID
    parent_id: UUID | None
    kind: GroupKind
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class ChannelBinding:
    id: UUID
    organisation_id: UUID
    group_id: UUID
    platform: Platform
    workspace_id: str
    channel_id: str
    channel_name: str | None
    archived: bool


@dataclass(frozen=True, slots=True)
class PlatformConnection:
    organisation_id: UUID
    platform: Platform
    workspace_id: str


@dataclass(frozen=True, slots=True)
class GroupTree:
    """An organisation's groups, walkable from the root."""

    groups: tuple[Group, ...]

    @property
    def root(self) -> Group:
        return next(g for g in self.groups if g.parent_id is None)

    def children(self, group_id: UUID) -> tuple[Group, ...]:
        return tuple(g for g in self.groups if g.parent_id == group_id)

    def by_slug(self, slug: str) -> Group | None:
        return next((g for g in self.groups if g.slug == slug), None)

    def ancestors(self, group_id: UUID) -> tuple[Group, ...]:
        index = {g.id: g for g in self.groups}
        chain: list[Group] = []
        current = index[group_id].parent_id
        while current is not None:
            chain.append(index[current])
            current = index[current].parent_id
        return tuple(chain)

    def descendants(self, group_id: UUID) -> tuple[Group, ...]:
        found: list[Group] = []
        frontier = [group_id]
        while frontier:
            parent = frontier.pop()
            kids = [g for g in self.groups if g.parent_id == parent]
            found.extend(kids)
            frontier.extend(k.id for k in kids)
        return tuple(found)


def check_parent(kind: GroupKind, parent: Group | None) -> str | None:
    """Why `kind` may not sit under `parent`, or None when it may."""
    expected = ALLOWED_PARENT[kind]
    if expected is None:
        return "an organisation has exactly one root group, made with the organisation"
    if parent is None or parent.kind is not expected:
        return f"a {kind.value} belongs under a {expected.value}"
    return None


_SLUG_STRIP = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """A stable, ASCII, URL-safe handle for a name typed by a person."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _SLUG_STRIP.sub("-", ascii_name.lower()).strip("-")[:60] or "item"


class WorkspaceOrganisations(Protocol):
    """Port: which organisation a Slack workspace or Teams tenant belongs to (None when none is linked)."""

    async def organisation_for(self, platform: Platform, workspace_id: str) -> UUID | None: ...


class OrganisationRepository(Protocol):
    """Port for reading and changing the tenancy model."""

    async def add_organisation(
        self, name: str, slug: str, timezone: str, locale: str, retention_days: int
    ) -> Organisation: ...

    async def list_organisations(self) -> list[Organisation]: ...

    async def get_organisation(self, slug_or_id: str) -> Organisation: ...

    async def group_tree(self, organisation_id: UUID) -> GroupTree: ...

    async def add_group(
        self, organisation_id: UUID, name: str, kind: GroupKind, parent_slug: str | None
    ) -> Group: ...

    async def remove_group(self, organisation_id: UUID, slug: str) -> None: ...

    # Restructuring keeps a group's identity (its lineage): never remove + add for these.
    async def rename_group(self, organisation_id: UUID, slug: str, name: str) -> Group: ...

    async def move_group(self, organisation_id: UUID, slug: str, parent_slug: str) -> Group: ...

    async def merge_groups(self, organisation_id: UUID, slug: str, into_slug: str, at: datetime) -> Group: ...

    async def split_group(
        self, organisation_id: UUID, slug: str, name: str, at: datetime, channels: Sequence[str] = ()
    ) -> Group: ...

    async def bind_channel(
        self,
        organisation_id: UUID,
        group_slug: str,
        platform: Platform,
        workspace_id: str,
        channel_id: str,
        channel_name: str | None,
    ) -> ChannelBinding: ...

    async def unbind_channel(self, organisation_id: UUID, platform: Platform, channel_id: str) -> None: ...

    async def bindings(self, organisation_id: UUID) -> list[ChannelBinding]: ...
