"""The SQL implementation of the OrganisationRepository port."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.tenancy import (
    ChannelBinding,
    Group,
    GroupKind,
    GroupTree,
    Organisation,
    Platform,
    check_parent,
    slugify,
)
from bot.errors import ConflictError, NotFoundError
from bot.storage.db import transaction
from bot.storage.tables import ChannelBindingRow, GroupRow, OrganisationRow, PracticeRow
from bot.storage.tables_pulses import GroupLineageRow


def _organisation(row: OrganisationRow) -> Organisation:
    return Organisation(
        id=row.id,
        slug=row.slug,
        name=row.name,
        timezone=row.timezone,
        locale=row.locale,
        retention_days=row.retention_days,
    )


def _group(row: GroupRow) -> Group:
    return Group(
        id=row.id,
        organisation_id=row.organisation_id,
        parent_id=row.parent_id,
        kind=GroupKind(row.kind),
        slug=row.slug,
        name=row.name,
    )


def _binding(row: ChannelBindingRow) -> ChannelBinding:
    return ChannelBinding(
        id=row.id,
        organisation_id=row.organisation_id,
        group_id=row.group_id,
        platform=Platform(row.platform),
        workspace_id=row.workspace_id,
        channel_id=row.channel_id,
        channel_name=row.channel_name,
        archived=row.archived,
    )


class SqlOrganisationRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add_organisation(
        self, name: str, slug: str, timezone: str, locale: str, retention_days: int
    ) -> Organisation:
        async with transaction(self._sessions) as session:
            if (await session.exec(select(OrganisationRow).where(col(OrganisationRow.slug) == slug))).first():
                raise ConflictError(f"an organisation with the handle '{slug}' exists already")
            practice = (await session.exec(select(PracticeRow).limit(1))).first()
            if practice is None:
                practice = PracticeRow(name="Practice")
                session.add(practice)
                await session.flush()
            row = OrganisationRow(
                practice_id=practice.id,
                slug=slug,
                name=name,
                timezone=timezone,
                locale=locale,
                retention_days=retention_days,
            )
            session.add(row)
            await session.flush()
            session.add(
                GroupRow(
                    organisation_id=row.id,
                    parent_id=None,
                    kind=GroupKind.ORGANISATION.value,
                    slug=slug,
                    name=name,
                )
            )
            return _organisation(row)

    async def list_organisations(self) -> list[Organisation]:
        async with self._sessions() as session:
            rows = await session.exec(select(OrganisationRow).order_by(col(OrganisationRow.name)))
            return [_organisation(r) for r in rows]

    async def get_organisation(self, slug_or_id: str) -> Organisation:
        async with self._sessions() as session:
            row = (
                await session.exec(select(OrganisationRow).where(col(OrganisationRow.slug) == slug_or_id))
            ).first()
            if row is None:
                try:
                    row = await session.get(OrganisationRow, uuid.UUID(slug_or_id))
                except ValueError:
                    row = None
            if row is None:
                raise NotFoundError(f"no organisation '{slug_or_id}'")
            return _organisation(row)

    async def group_tree(self, organisation_id: UUID) -> GroupTree:
        async with self._sessions() as session:
            rows = await session.exec(
                select(GroupRow)
                .where(col(GroupRow.organisation_id) == organisation_id)
                .order_by(col(GroupRow.name))
            )
            return GroupTree(tuple(_group(r) for r in rows))

    async def add_group(
        self, organisation_id: UUID, name: str, kind: GroupKind, parent_slug: str | None
    ) -> Group:
        tree = await self.group_tree(organisation_id)
        parent = tree.by_slug(parent_slug) if parent_slug else tree.root
        if parent_slug and parent is None:
            raise NotFoundError(f"no group '{parent_slug}' in this organisation")
        problem = check_parent(kind, parent)
        if problem:
            raise ConflictError(problem)
        if parent is None:  # check_parent refuses a missing parent already; this narrows the type
            raise ConflictError("no parent group")
        slug = slugify(name)
        if tree.by_slug(slug):
            raise ConflictError(f"a group with the handle '{slug}' exists already in this organisation")
        row = GroupRow(
            organisation_id=organisation_id, parent_id=parent.id, kind=kind.value, slug=slug, name=name
        )
        try:
            async with transaction(self._sessions) as session:
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"a group with the handle '{slug}' exists already") from exc
        return _group(row)

    async def remove_group(self, organisation_id: UUID, slug: str) -> None:
        tree = await self.group_tree(organisation_id)
        group = tree.by_slug(slug)
        if group is None:
            raise NotFoundError(f"no group '{slug}' in this organisation")
        if group.parent_id is None:
            raise ConflictError("the organisation's root group cannot be removed")
        doomed = [group.id, *(g.id for g in tree.descendants(group.id))]
        async with transaction(self._sessions) as session:
            await session.exec(delete(ChannelBindingRow).where(col(ChannelBindingRow.group_id).in_(doomed)))
            for group_id in reversed(doomed):
                await session.exec(delete(GroupRow).where(col(GroupRow.id) == group_id))

    # --- lineage: a group keeps its identity when the tree changes ---------------------------------------

    async def _existing(self, organisation_id: UUID, slug: str) -> tuple[GroupTree, Group]:
        tree = await self.group_tree(organisation_id)
        group = tree.by_slug(slug)
        if group is None:
            raise NotFoundError(f"no group '{slug}' in this organisation")
        return tree, group

    async def rename_group(self, organisation_id: UUID, slug: str, name: str) -> Group:
        """A new name (and handle) for the same group: its history and pooled answers stay with it."""
        tree, group = await self._existing(organisation_id, slug)
        new_slug = slugify(name)
        if new_slug != group.slug and tree.by_slug(new_slug):
            raise ConflictError(f"a group with the handle '{new_slug}' exists already in this organisation")
        async with transaction(self._sessions) as session:
            await session.exec(
                update(GroupRow).where(col(GroupRow.id) == group.id).values(name=name, slug=new_slug)
            )
        return Group(group.id, organisation_id, group.parent_id, group.kind, new_slug, name)

    async def move_group(self, organisation_id: UUID, slug: str, parent_slug: str) -> Group:
        """The same group under another parent (a team to another department)."""
        tree, group = await self._existing(organisation_id, slug)
        parent = tree.by_slug(parent_slug)
        if parent is None:
            raise NotFoundError(f"no group '{parent_slug}' in this organisation")
        problem = check_parent(group.kind, parent)
        if problem:
            raise ConflictError(problem)
        async with transaction(self._sessions) as session:
            await session.exec(
                update(GroupRow).where(col(GroupRow.id) == group.id).values(parent_id=parent.id)
            )
        return Group(group.id, organisation_id, parent.id, group.kind, group.slug, group.name)

    async def merge_groups(self, organisation_id: UUID, slug: str, into_slug: str, at: datetime) -> Group:
        """`slug` goes into `into_slug` (the same kind): its sub-groups and channels move over, and its lineage
        says where it went, so what it answered keeps counting for the people in the merged group."""
        tree, group = await self._existing(organisation_id, slug)
        into = tree.by_slug(into_slug)
        if into is None:
            raise NotFoundError(f"no group '{into_slug}' in this organisation")
        if into.id == group.id or into.kind is not group.kind or group.parent_id is None:
            raise ConflictError("only two different departments, or two different teams, can be merged")
        async with transaction(self._sessions) as session:
            await session.exec(
                update(GroupRow).where(col(GroupRow.parent_id) == group.id).values(parent_id=into.id)
            )
            await session.exec(
                update(ChannelBindingRow)
                .where(col(ChannelBindingRow.group_id) == group.id)
                .values(group_id=into.id)
            )
            await session.exec(
                update(GroupLineageRow)
                .where(col(GroupLineageRow.related_id) == group.id)
                .where(col(GroupLineageRow.operation) == "merged")
                .values(related_id=into.id)
            )
            session.add(
                GroupLineageRow(
                    organisation_id=organisation_id,
                    group_id=group.id,
                    related_id=into.id,
                    operation="merged",
                    at=at,
                )
            )
            await session.exec(delete(GroupRow).where(col(GroupRow.id) == group.id))
        return into

    async def split_group(
        self,
        organisation_id: UUID,
        slug: str,
        name: str,
        at: datetime,
        channels: Sequence[str] = (),
    ) -> Group:
        """A new group beside `slug` (same parent, same kind) that takes the given channels with it; its
        lineage says where it came from."""
        tree, group = await self._existing(organisation_id, slug)
        if group.parent_id is None:
            raise ConflictError("the organisation's root group cannot be split")
        new_slug = slugify(name)
        if tree.by_slug(new_slug):
            raise ConflictError(f"a group with the handle '{new_slug}' exists already in this organisation")
        row = GroupRow(
            organisation_id=organisation_id,
            parent_id=group.parent_id,
            kind=group.kind.value,
            slug=new_slug,
            name=name,
        )
        async with transaction(self._sessions) as session:
            session.add(row)
            await session.flush()
            if channels:
                await session.exec(
                    update(ChannelBindingRow)
                    .where(col(ChannelBindingRow.group_id) == group.id)
                    .where(col(ChannelBindingRow.channel_id).in_(list(channels)))
                    .values(group_id=row.id)
                )
            session.add(
                GroupLineageRow(
                    organisation_id=organisation_id,
                    group_id=row.id,
                    related_id=group.id,
                    operation="split",
                    at=at,
                )
            )
        return _group(row)

    async def bind_channel(
        self,
        organisation_id: UUID,
        group_slug: str,
        platform: Platform,
        workspace_id: str,
        channel_id: str,
        channel_name: str | None,
    ) -> ChannelBinding:
        group = (await self.group_tree(organisation_id)).by_slug(group_slug)
        if group is None:
            raise NotFoundError(f"no group '{group_slug}' in this organisation")
        row = ChannelBindingRow(
            organisation_id=organisation_id,
            group_id=group.id,
            platform=platform.value,
            workspace_id=workspace_id,
            channel_id=channel_id,
            channel_name=channel_name,
        )
        try:
            async with transaction(self._sessions) as session:
                session.add(row)
        except IntegrityError as exc:
            raise ConflictError(f"the {platform.value} channel {channel_id} is bound already") from exc
        return _binding(row)

    async def unbind_channel(self, organisation_id: UUID, platform: Platform, channel_id: str) -> None:
        async with transaction(self._sessions) as session:
            result = await session.exec(
                delete(ChannelBindingRow).where(
                    col(ChannelBindingRow.organisation_id) == organisation_id,
                    col(ChannelBindingRow.platform) == platform.value,
                    col(ChannelBindingRow.channel_id) == channel_id,
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(
                    f"the {platform.value} channel {channel_id} is not bound in this organisation"
                )

    async def bindings(self, organisation_id: UUID) -> list[ChannelBinding]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(ChannelBindingRow).where(col(ChannelBindingRow.organisation_id) == organisation_id)
            )
            return [_binding(r) for r in rows]
