"""Teams conversation references: stored sealed, addressed by an opaque keyed hash.

A reference is what the Bot Framework needs to post into a conversation later (service URL, conversation id,
tenant, bot id). It holds Teams ids of people and conversations, so it is sealed with a SecretBox whose purpose is
"teams-conversation-reference"; the row id of the clear-text `address` is bound as associated data, so a sealed
reference cannot be moved to another row. Tenant → organisation comes from `platform_connection` rows.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.delivery import Target, TargetKind
from bot.domain.teams_references import (
    StoredReference,
    TeamsReference,
    TeamsScope,
    UnknownTenantError,
)
from bot.domain.tenancy import Organisation, Platform
from bot.errors import VipbotError
from bot.security import Secret, SecretBox, derive_key, keyed_hash
from bot.storage.tables import ChannelBindingRow, OrganisationRow, PlatformConnectionRow, utcnow
from bot.storage.tables_teams import TeamsConversationRow

REFERENCE_PURPOSE = "teams-conversation-reference"
_ADDRESS_PURPOSE = "teams-conversation-address"
ADDRESS_LENGTH = 40


class TeamsReferenceStore:  # implements bot.domain.teams_references.TeamsReferences
    """Conversation references per organisation; every query filters on the organisation or the address."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], master_key: Secret[bytes]) -> None:
        self._sessions = sessions
        self._box = SecretBox(master_key, REFERENCE_PURPOSE)
        self._address_key = derive_key(master_key, _ADDRESS_PURPOSE)

    # --- addresses ---------------------------------------------------------------------------------------

    def _hash(self, *parts: str) -> str:
        return keyed_hash(self._address_key, "\x1f".join(parts).encode()).hex()[:ADDRESS_LENGTH]

    def address_of(self, reference: TeamsReference) -> str:
        """The stable, opaque delivery address of a reference (a Target's `address`).

        A person has one address whether the bot knows them from a team's roster or from their personal chat,
        so a person is never two delivery targets.
        """
        if reference.scope in {TeamsScope.MEMBER, TeamsScope.PERSONAL} and reference.user_id:
            return self.address_of_person(reference.tenant_id, reference.user_id)
        return self._hash("conversation", reference.conversation_id or "")

    def address_of_person(self, tenant_id: str, user_id: str) -> str:
        return self._hash("member", tenant_id, user_id)

    def address_of_conversation(self, conversation_id: str) -> str:
        return self._hash("conversation", conversation_id)

    def team_key(self, team_id: str) -> str:
        return self._hash("team", team_id)

    # --- tenants -----------------------------------------------------------------------------------------

    async def organisation_for_tenant(self, tenant_id: str) -> Organisation | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(OrganisationRow)
                    .join(
                        PlatformConnectionRow,
                        col(PlatformConnectionRow.organisation_id) == col(OrganisationRow.id),
                    )
                    .where(col(PlatformConnectionRow.platform) == Platform.TEAMS.value)
                    .where(col(PlatformConnectionRow.workspace_id) == tenant_id)
                )
            ).first()
        if row is None:
            return None
        return Organisation(
            id=row.id,
            slug=row.slug,
            name=row.name,
            timezone=row.timezone,
            locale=row.locale,
            retention_days=row.retention_days,
        )

    async def connect_tenant(self, organisation_id: uuid.UUID, tenant_id: str) -> None:
        """Link a Teams tenant to an organisation (idempotent; a tenant belongs to one organisation)."""
        async with self._sessions() as session:
            existing = (
                await session.exec(
                    select(PlatformConnectionRow)
                    .where(col(PlatformConnectionRow.platform) == Platform.TEAMS.value)
                    .where(col(PlatformConnectionRow.workspace_id) == tenant_id)
                )
            ).first()
            if existing is not None:
                if existing.organisation_id != organisation_id:
                    raise VipbotError("this Teams tenant is already connected to another organisation")
                return
            session.add(
                PlatformConnectionRow(
                    organisation_id=organisation_id, platform=Platform.TEAMS.value, workspace_id=tenant_id
                )
            )
            await session.commit()

    async def disconnect_tenant(self, organisation_id: uuid.UUID, tenant_id: str) -> int:
        """Unlink a tenant and forget every reference of it; returns the number of references removed."""
        async with self._sessions() as session:
            await session.exec(
                delete(PlatformConnectionRow)
                .where(col(PlatformConnectionRow.organisation_id) == organisation_id)
                .where(col(PlatformConnectionRow.platform) == Platform.TEAMS.value)
                .where(col(PlatformConnectionRow.workspace_id) == tenant_id)
            )
            result = await session.exec(
                delete(TeamsConversationRow)
                .where(col(TeamsConversationRow.organisation_id) == organisation_id)
                .where(col(TeamsConversationRow.tenant_id) == tenant_id)
            )
            await session.commit()
        return int(result.rowcount)

    # --- references --------------------------------------------------------------------------------------

    async def save(self, organisation_id: uuid.UUID, reference: TeamsReference) -> str:
        """Store (or refresh) a reference; returns its address.

        One INSERT … ON CONFLICT statement, so that Teams' two install events (installationUpdate and
        conversationUpdate, sent together and handled concurrently) both succeed: the second refreshes the row
        the first wrote. A roster entry (MEMBER) never replaces a person's own chat, and a conversation never
        moves to another organisation (refused below).
        """
        address = self.address_of(reference)
        sealed = self._box.encrypt(reference.to_json(), address.encode())
        team_key = self.team_key(reference.team_id) if reference.team_id else None
        table = TeamsConversationRow.__table__  # type: ignore[attr-defined]
        values = {
            "id": uuid.uuid4(),
            "organisation_id": organisation_id,
            "tenant_id": reference.tenant_id,
            "address": address,
            "scope": reference.scope.value,
            "team_key": team_key,
            "sealed": sealed,
            "created_at": utcnow(),
        }
        async with self._sessions() as session:
            dialect = (await session.connection()).dialect.name
            insert = postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)
            statement = insert.values(**values)
            new = statement.excluded
            roster_over_own_chat = (table.c.scope == TeamsScope.PERSONAL.value) & (
                new.scope == TeamsScope.MEMBER.value
            )
            refreshed = statement.on_conflict_do_update(
                index_elements=[table.c.address],
                set_={"scope": new.scope, "team_key": new.team_key, "sealed": new.sealed},
                where=(table.c.organisation_id == new.organisation_id) & ~roster_over_own_chat,
            )
            result = await session.exec(refreshed)
            if result.rowcount == 0:
                owner = (
                    await session.exec(
                        select(TeamsConversationRow.organisation_id).where(
                            col(TeamsConversationRow.address) == address
                        )
                    )
                ).first()
                if owner is not None and owner != organisation_id:
                    raise VipbotError("a Teams conversation cannot move to another organisation")
            await session.commit()
        return address

    async def save_people(self, organisation_id: uuid.UUID, references: list[TeamsReference]) -> int:
        """Store a page of a roster (MEMBER references) in one transaction; people who have their own chat with
        the bot keep it. Returns how many people were new."""
        by_address = {self.address_of(r): r for r in references if r.scope is TeamsScope.MEMBER}
        if not by_address:
            return 0
        async with self._sessions() as session:
            rows = (
                await session.exec(
                    select(TeamsConversationRow).where(
                        col(TeamsConversationRow.address).in_(list(by_address))
                    )
                )
            ).all()
            existing = {row.address: row for row in rows}
            for address, reference in by_address.items():
                row = existing.get(address)
                team_key = self.team_key(reference.team_id) if reference.team_id else None
                if row is None:
                    session.add(
                        TeamsConversationRow(
                            organisation_id=organisation_id,
                            tenant_id=reference.tenant_id,
                            address=address,
                            scope=reference.scope.value,
                            team_key=team_key,
                            sealed=self._box.encrypt(reference.to_json(), address.encode()),
                        )
                    )
                elif row.organisation_id == organisation_id and row.scope == TeamsScope.MEMBER.value:
                    row.team_key = team_key
                    row.sealed = self._box.encrypt(reference.to_json(), address.encode())
                    session.add(row)
            await session.commit()
        return len(by_address) - len(existing)

    async def exists(self, address: str) -> bool:
        async with self._sessions() as session:
            found = await session.exec(
                select(TeamsConversationRow.id).where(col(TeamsConversationRow.address) == address)
            )
            return found.first() is not None

    async def get(self, address: str) -> StoredReference | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(TeamsConversationRow).where(col(TeamsConversationRow.address) == address)
                )
            ).first()
        return None if row is None else self._open(row)

    async def list_references(
        self, organisation_id: uuid.UUID, scope: TeamsScope | None = None
    ) -> list[StoredReference]:
        query = select(TeamsConversationRow).where(
            col(TeamsConversationRow.organisation_id) == organisation_id
        )
        if scope is not None:
            query = query.where(col(TeamsConversationRow.scope) == scope.value)
        async with self._sessions() as session:
            rows = (await session.exec(query.order_by(col(TeamsConversationRow.created_at)))).all()
        return [self._open(row) for row in rows]

    async def targets(self, organisation_id: uuid.UUID, kind: TargetKind) -> list[Target]:
        """Delivery targets of an organisation: its people's personal chats, or its channels and group chats."""
        people = {TeamsScope.PERSONAL, TeamsScope.MEMBER}
        query = select(TeamsConversationRow).where(
            col(TeamsConversationRow.organisation_id) == organisation_id
        )
        async with self._sessions() as session:
            rows = (await session.exec(query.order_by(col(TeamsConversationRow.created_at)))).all()
        return [
            Target(Platform.TEAMS, row.tenant_id, kind, row.address)
            for row in rows
            if (TeamsScope(row.scope) in people) == (kind is TargetKind.PERSON)
        ]

    async def remove(self, address: str) -> int:
        """Forget one conversation; its channel bindings are marked archived. Returns rows removed."""
        return await self._remove(col(TeamsConversationRow.address) == address)

    async def remove_member(self, tenant_id: str, user_id: str) -> int:
        """Forget a person who left a team, unless they have a personal chat with the bot."""
        address = self.address_of_person(tenant_id, user_id)
        return await self._remove(
            (col(TeamsConversationRow.address) == address)
            & (col(TeamsConversationRow.scope) == TeamsScope.MEMBER.value)
        )

    async def remove_team(self, team_id: str) -> int:
        """Forget every channel (and member) reference of a team the bot was removed from."""
        return await self._remove(col(TeamsConversationRow.team_key) == self.team_key(team_id))

    async def _remove(self, condition: object) -> int:
        async with self._sessions() as session:
            rows = (await session.exec(select(TeamsConversationRow).where(condition))).all()  # type: ignore[arg-type]
            addresses = [row.address for row in rows]
            if not addresses:
                return 0
            await session.exec(
                update(ChannelBindingRow)
                .where(col(ChannelBindingRow.platform) == Platform.TEAMS.value)
                .where(col(ChannelBindingRow.channel_id).in_(addresses))
                .values(archived=True)
            )
            await session.exec(
                delete(TeamsConversationRow).where(col(TeamsConversationRow.address).in_(addresses))
            )
            await session.commit()
        return len(addresses)

    def _open(self, row: TeamsConversationRow) -> StoredReference:
        reference = TeamsReference.from_json(self._box.decrypt(row.sealed, row.address.encode()))
        return StoredReference(organisation_id=row.organisation_id, address=row.address, reference=reference)


def master_key_from(secret_key: str) -> Secret[bytes]:
    """The SecretBox master key from the service's secret key setting (at least 32 characters)."""
    return Secret(secret_key.encode())


__all__ = [
    "StoredReference",
    "TeamsReference",
    "TeamsReferenceStore",
    "TeamsScope",
    "UnknownTenantError",
    "master_key_from",
]
