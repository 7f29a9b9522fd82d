"""Slack installations and OAuth states in our database, tokens sealed at rest.

The Slack adapter wraps these in slack-sdk's installation-store and state-store interfaces; this module knows
nothing of slack-sdk. Tokens are sealed with `SecretBox(master key, "slack-bot-token")`, the workspace key bound
as associated data, and only ever handed out as `Secret`.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain.slack_workspaces import SlackInstallation, workspace_key
from bot.domain.tenancy import Platform
from bot.errors import ConflictError
from bot.security.secret import Secret
from bot.security.secretbox import SecretBox
from bot.storage.db import transaction
from bot.storage.tables import PlatformConnectionRow
from bot.storage.tables_slack import SlackInstallationRow, SlackOAuthStateRow

TOKEN_PURPOSE = "slack-bot-token"  # noqa: S105  (a key-derivation label, not a secret)
REFRESH_PURPOSE = "slack-bot-refresh-token"
STATE_TTL = timedelta(minutes=10)


class SqlSlackInstallations:
    """Installations keyed by workspace, and the workspace → organisation links (`platform_connection`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], master_key: Secret[bytes]) -> None:
        self._sessions = sessions
        self._tokens = SecretBox(master_key, TOKEN_PURPOSE)
        self._refresh = SecretBox(master_key, REFRESH_PURPOSE)

    async def organisation_for(self, workspace_id: str) -> UUID | None:
        """The organisation a Slack workspace (team id) belongs to, or None when it is not linked."""
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(PlatformConnectionRow).where(
                        col(PlatformConnectionRow.platform) == Platform.SLACK.value,
                        col(PlatformConnectionRow.workspace_id) == workspace_id,
                    )
                )
            ).first()
            return row.organisation_id if row else None

    async def link(self, organisation_id: UUID, workspace_id: str) -> bool:
        """Link a workspace to an organisation; False when it was linked already. ConflictError if to another."""
        async with transaction(self._sessions) as session:
            return await self._link(session, organisation_id, workspace_id)

    async def _link(self, session: AsyncSession, organisation_id: UUID, workspace_id: str) -> bool:
        existing = (
            await session.exec(
                select(PlatformConnectionRow).where(
                    col(PlatformConnectionRow.platform) == Platform.SLACK.value,
                    col(PlatformConnectionRow.workspace_id) == workspace_id,
                )
            )
        ).first()
        if existing is not None:
            if existing.organisation_id != organisation_id:
                raise ConflictError(f"the Slack workspace {workspace_id} belongs to another organisation")
            return False
        session.add(
            PlatformConnectionRow(
                organisation_id=organisation_id, platform=Platform.SLACK.value, workspace_id=workspace_id
            )
        )
        return True

    async def save(self, installation: SlackInstallation) -> None:
        """Store (or replace, on reinstall) an installation and link its workspace to the organisation."""
        key = installation.workspace_key
        async with transaction(self._sessions) as session:
            await self._link(session, installation.organisation_id, key)
            row = (
                await session.exec(
                    select(SlackInstallationRow).where(col(SlackInstallationRow.workspace_key) == key)
                )
            ).first()
            if row is None:
                row = SlackInstallationRow(
                    organisation_id=installation.organisation_id,
                    workspace_key=key,
                    bot_id=installation.bot_id,
                    bot_user_id=installation.bot_user_id,
                    bot_token=b"",
                )
            elif row.organisation_id != installation.organisation_id:
                raise ConflictError(f"the Slack workspace {key} belongs to another organisation")
            row.team_id = installation.team_id
            row.enterprise_id = installation.enterprise_id
            row.is_enterprise_install = installation.is_enterprise_install
            row.app_id = installation.app_id
            row.bot_id = installation.bot_id
            row.bot_user_id = installation.bot_user_id
            row.bot_scopes = installation.bot_scopes
            row.bot_token = self._tokens.encrypt(
                installation.bot_token.reveal().encode("utf-8"), key.encode()
            )
            refresh = installation.bot_refresh_token
            row.bot_refresh_token = (
                self._refresh.encrypt(refresh.reveal().encode("utf-8"), key.encode()) if refresh else None
            )
            row.bot_token_expires_at = installation.bot_token_expires_at
            row.installed_at = installation.installed_at
            session.add(row)

    async def find(self, workspace_key: str) -> SlackInstallation | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(SlackInstallationRow).where(
                        col(SlackInstallationRow.workspace_key) == workspace_key
                    )
                )
            ).first()
        if row is None:
            return None
        key = row.workspace_key.encode()
        return SlackInstallation(
            organisation_id=row.organisation_id,
            workspace_key=row.workspace_key,
            team_id=row.team_id,
            enterprise_id=row.enterprise_id,
            is_enterprise_install=row.is_enterprise_install,
            app_id=row.app_id,
            bot_id=row.bot_id,
            bot_user_id=row.bot_user_id,
            bot_scopes=row.bot_scopes,
            bot_token=Secret(self._tokens.decrypt(row.bot_token, key).decode("utf-8")),
            bot_refresh_token=(
                Secret(self._refresh.decrypt(row.bot_refresh_token, key).decode("utf-8"))
                if row.bot_refresh_token
                else None
            ),
            bot_token_expires_at=row.bot_token_expires_at,
            installed_at=row.installed_at,
        )

    async def delete(self, workspace_key: str) -> bool:
        """Forget an installation (uninstalled or tokens revoked). The organisation link stays."""
        async with transaction(self._sessions) as session:
            result = await session.exec(
                delete(SlackInstallationRow).where(col(SlackInstallationRow.workspace_key) == workspace_key)
            )
            return bool(result.rowcount)


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class SqlSlackOAuthStates:
    """One-time OAuth states, each tied to the organisation the install link was made for."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def issue(self, organisation_id: UUID, now: datetime) -> str:
        state = secrets.token_urlsafe(32)
        async with transaction(self._sessions) as session:
            await session.exec(delete(SlackOAuthStateRow).where(col(SlackOAuthStateRow.expires_at) < now))
            session.add(
                SlackOAuthStateRow(
                    digest=_digest(state), organisation_id=organisation_id, expires_at=now + STATE_TTL
                )
            )
        return state

    async def consume(self, state: str, now: datetime) -> UUID | None:
        """The organisation of a valid, unexpired state, which is used up; None otherwise."""
        async with transaction(self._sessions) as session:
            row = await session.get(SlackOAuthStateRow, _digest(state))
            if row is None:
                return None
            await session.delete(row)
            return row.organisation_id if row.expires_at > now else None


__all__ = [
    "STATE_TTL",
    "SlackInstallation",
    "SqlSlackInstallations",
    "SqlSlackOAuthStates",
    "workspace_key",
]
