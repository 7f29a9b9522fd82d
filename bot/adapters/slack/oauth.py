"""Distribution to many workspaces: slack-sdk's store interfaces over our own tables, and an OAuth flow whose
install link names the organisation it is for (`/slack/install?org=<slug>`).

Why our own store and not `AsyncSQLAlchemyInstallationStore`: that one keeps tokens in plaintext, in tables of
its own with user-token columns we never use. Ours keeps only the bot side, seals tokens with SecretBox, and ties
each installation to an organisation through `platform_connection` in the same transaction.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from uuid import UUID

from slack_bolt.error import BoltError
from slack_bolt.oauth.async_callback_options import AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.adapters.slack.gateway import TokenSource
from bot.domain.clock import Clock
from bot.domain.i18n import Translator
from bot.domain.slack_workspaces import (
    SlackGrid,
    SlackInstallation,
    SlackInstallations,
    SlackOAuthStates,
    workspace_key,
)
from bot.domain.tenancy import Organisation, OrganisationRepository
from bot.errors import ConflictError, NotFoundError
from bot.logs import get_logger
from bot.security.secret import Secret

log = get_logger(__name__)
_quiet = logging.getLogger("slack_bolt.vipbot")


def _epoch_to_datetime(value: int | float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


class StaticToken(TokenSource):
    """Single-workspace mode: the one SLACK_BOT_TOKEN serves every workspace id linked to an organisation."""

    def __init__(self, token: Secret[str]) -> None:
        self._token = token

    async def token_for(self, workspace_id: str) -> Secret[str] | None:
        return self._token


class InstallationTokens(TokenSource):
    """A workspace's own installation, or the org-wide install of the Enterprise Grid it belongs to."""

    def __init__(self, installations: SlackInstallations, grid: SlackGrid | None = None) -> None:
        self._installations = installations
        self._grid = grid

    async def token_for(self, workspace_id: str) -> Secret[str] | None:
        found = await self._installations.find(workspace_id)
        if found is None and self._grid is not None:
            enterprise = await self._grid.enterprise_of(workspace_id)
            found = await self._installations.find(enterprise) if enterprise else None
        return found.bot_token if found else None


class SqlInstallationStore(AsyncInstallationStore):
    """slack-sdk's installation store (bot installations only) over `SlackInstallations`."""

    def __init__(self, installations: SlackInstallations, clock: Clock) -> None:
        self._installations = installations
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return _quiet

    async def save_for(self, organisation_id: UUID, installation: Installation) -> None:
        bot = installation.to_bot()
        await self._save(organisation_id, bot)

    async def _save(self, organisation_id: UUID, bot: Bot) -> None:
        if not bot.bot_token:
            raise ValueError("an installation without a bot token")
        await self._installations.save(
            SlackInstallation(
                organisation_id=organisation_id,
                workspace_key=workspace_key(bot.team_id, bot.enterprise_id, bool(bot.is_enterprise_install)),
                team_id=bot.team_id,
                enterprise_id=bot.enterprise_id,
                is_enterprise_install=bool(bot.is_enterprise_install),
                app_id=bot.app_id,
                bot_id=bot.bot_id,
                bot_user_id=bot.bot_user_id,
                bot_scopes=",".join(bot.bot_scopes or []),
                bot_token=Secret(bot.bot_token),
                bot_refresh_token=Secret(bot.bot_refresh_token) if bot.bot_refresh_token else None,
                bot_token_expires_at=_epoch_to_datetime(bot.bot_token_expires_at),
                installed_at=self._clock.now(),
            )
        )

    async def async_save(self, installation: Installation) -> None:
        """A re-save of a known workspace (token rotation); new installs go through `save_for`."""
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        key = workspace_key(bot.team_id, bot.enterprise_id, bool(bot.is_enterprise_install))
        existing = await self._installations.find(key)
        if existing is None:
            raise NotFoundError("an installation must come through the install link of an organisation")
        await self._save(existing.organisation_id, bot)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        try:
            key = workspace_key(team_id, enterprise_id, bool(is_enterprise_install))
        except ValueError:
            return None
        found = await self._installations.find(key)
        if found is None and not is_enterprise_install and enterprise_id:
            found = await self._installations.find(enterprise_id)  # an org-wide install serves its workspaces
        if found is None:
            return None
        expires = found.bot_token_expires_at
        return Bot(
            app_id=found.app_id,
            enterprise_id=found.enterprise_id,
            team_id=found.team_id,
            bot_token=found.bot_token.reveal(),
            bot_id=found.bot_id,
            bot_user_id=found.bot_user_id,
            bot_scopes=found.bot_scopes,
            bot_refresh_token=found.bot_refresh_token.reveal() if found.bot_refresh_token else None,
            bot_token_expires_at=int(expires.timestamp()) if expires else None,
            is_enterprise_install=found.is_enterprise_install,
            installed_at=found.installed_at.timestamp(),
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return None  # bot-only: the app runs with installation_store_bot_only=True and never asks for users

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        for key in (team_id, enterprise_id):
            if key:
                await self._installations.delete(key)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


class OrganisationStateStore(AsyncOAuthStateStore):
    """One-time OAuth states in the database; consuming one remembers its organisation for this callback."""

    def __init__(self, states: SlackOAuthStates, clock: Clock) -> None:
        self._states = states
        self._clock = clock
        self.consumed: dict[str, UUID] = {}

    @property
    def logger(self) -> logging.Logger:
        return _quiet

    async def issue_for(self, organisation_id: UUID) -> str:
        return await self._states.issue(organisation_id, self._clock.now())

    async def async_issue(self, *args: object, **kwargs: object) -> str:
        raise NotFoundError("an install link names its organisation: /slack/install?org=<handle>")

    async def async_consume(self, state: str) -> bool:
        organisation_id = await self._states.consume(state, self._clock.now())
        if organisation_id is None:
            return False
        self.consumed[state] = organisation_id
        return True


def _page(status: int, title: str, message: str) -> BoltResponse:
    body = (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(message)}</p></main></body></html>"
    )
    return BoltResponse(status=status, body=body, headers={"Content-Type": "text/html; charset=utf-8"})


class OrganisationOAuthFlow(AsyncOAuthFlow):
    """bolt's OAuth flow, with the organisation carried from the install link to the stored installation."""

    def __init__(
        self,
        *,
        organisations: OrganisationRepository,
        installation_store: SqlInstallationStore,
        state_store: OrganisationStateStore,
        translator: Translator,
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._organisations = organisations
        self._store = installation_store
        self._state_store = state_store
        self._t = translator
        self.success_handler = self._success
        self.failure_handler = self._failure

    async def _organisation(self, request: AsyncBoltRequest) -> Organisation | None:
        slug = (request.query.get("org") or [""])[0]
        if not slug:
            return None
        try:
            return await self._organisations.get_organisation(slug)
        except NotFoundError:
            return None

    async def handle_installation(self, request: AsyncBoltRequest) -> BoltResponse:
        if await self._organisation(request) is None:
            return _page(
                400, self._t.t("nl", "slack.install.title"), self._t.t("nl", "slack.install.missing_org")
            )
        return await super().handle_installation(request)

    async def issue_new_state(self, request: AsyncBoltRequest) -> str:
        organisation = await self._organisation(request)
        if organisation is None:  # handle_installation checked this already
            raise NotFoundError("no organisation for this install link")
        return await self._state_store.issue_for(organisation.id)

    async def handle_callback(self, request: AsyncBoltRequest) -> BoltResponse:
        state = (request.query.get("state") or [""])[0]
        try:
            return await super().handle_callback(request)
        finally:
            self._state_store.consumed.pop(state, None)

    async def store_installation(self, request: AsyncBoltRequest, installation: Installation) -> None:
        state = (request.query.get("state") or [""])[0]
        organisation_id = self._state_store.consumed.get(state)
        if organisation_id is None:
            raise BoltError("the install link's organisation is unknown")
        try:
            await self._store.save_for(organisation_id, installation)
        except (ConflictError, ValueError) as exc:  # e.g. the workspace belongs to another organisation
            raise BoltError(str(exc)) from None
        log.info("slack installation stored", organisation=str(organisation_id))

    async def _success(self, _args: AsyncSuccessArgs) -> BoltResponse:
        return _page(200, self._t.t("nl", "slack.install.title"), self._t.t("nl", "slack.install.success"))

    async def _failure(self, args: AsyncFailureArgs) -> BoltResponse:
        log.warning("slack installation failed", reason=args.reason)
        return _page(
            args.suggested_status_code,
            self._t.t("nl", "slack.install.title"),
            self._t.t("nl", "slack.install.failure"),
        )
