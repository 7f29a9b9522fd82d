"""The Slack side of delivery: Web API clients per workspace, and the `Gateway` port for the scheduler.

Retries inside one send:
- 429: slack-sdk's `AsyncRateLimitErrorRetryHandler` waits for `Retry-After` and tries again (a 429 means Slack
  did nothing). When the limit persists, the send fails as `rate_limited` with `retry_after`. Not so for
  `chat.postMessage` when the outbox paces it with the budget all replicas share (PostgreSQL, `budgeted`): its
  429 goes straight back to the outbox worker, which pauses the workspace for every replica.
- 5xx, timeouts and dropped connections on methods that are safe to repeat (`chat.update`, `views.publish`,
  `users.info`, …): retried with backoff by `IdempotentServerErrorRetryHandler`.
- 5xx on `chat.postMessage` is different: Slack may have posted the message and failed afterwards, so blindly
  posting again can post twice. Every post therefore carries a random delivery marker in its message metadata;
  after a 5xx (or a timeout) the gateway looks for that marker in the conversation's recent history, and only
  posts again when the message is not there. When it cannot tell, the send fails as `transient` with an
  "outcome unknown" reason rather than risk a second post.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import aiohttp
from prometheus_client import Counter
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.domain.content import pick_locale
from bot.domain.delivery import (
    DeliveryError,
    DeliveryFailureKind,
    Rendered,
    Sent,
    Target,
    TargetKind,
)
from bot.domain.failures import DETAIL_MAX, SLACK_CODES, Failure, FailureCode
from bot.domain.tenancy import Platform
from bot.logs import get_logger
from bot.security.secret import Secret

log = get_logger(__name__)
T = TypeVar("T")

# Methods whose effect a repeat could double: never retried blindly on 5xx.
NOT_IDEMPOTENT = frozenset({"chat.postMessage", "chat.postEphemeral", "files.completeUploadExternal"})
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "account_inactive",
        "user_not_found",
        "users_not_found",
        "user_not_in_channel",
        "team_access_not_granted",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "app_uninstalled",
        "missing_scope",
        "restricted_action",
        "cannot_dm_bot",
        "message_not_found",
        "cant_update_message",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
        "ekm_access_denied",
    }
)
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
DELIVERY_EVENT = "vipbot_delivery"
POST_5XX_RETRIES = 2
API_TIMEOUT = 15  # seconds for one Web API call
LOCALE_MEMORY = 50_000


class OAuthFormClient(AsyncWebClient):
    """An AsyncWebClient whose `oauth.v2.access` sends the client credentials as form fields.

    slack-sdk sends them with aiohttp's `BasicAuth`, which aiohttp deprecates; Slack accepts both.
    """

    async def oauth_v2_access(
        self,
        *,
        client_id: str,
        client_secret: str,
        code: str | None = None,
        redirect_uri: str | None = None,
        grant_type: str | None = None,
        refresh_token: str | None = None,
        **kwargs: Any,
    ) -> AsyncSlackResponse:
        fields = {
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
            "grant_type": grant_type,
            "refresh_token": refresh_token,
        }
        data = {k: v for k, v in fields.items() if v is not None}
        return await self.api_call("oauth.v2.access", data=data)


def _method_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]


class IdempotentServerErrorRetryHandler(AsyncRetryHandler):
    """Retries 5xx answers and dropped connections, with backoff, for methods that are safe to repeat."""

    def __init__(self, max_retry_count: int = 2) -> None:
        super().__init__(
            max_retry_count=max_retry_count,
            interval_calculator=BackoffRetryIntervalCalculator(backoff_factor=0.2),
        )

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _method_of(request.url) in NOT_IDEMPOTENT:
            return False
        if response is not None:
            return response.status_code >= 500
        return isinstance(error, aiohttp.ClientConnectionError | asyncio.TimeoutError)


class BudgetAwareRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """slack-sdk's 429 handler (waits for Retry-After, then tries again), except for the methods whose sends are
    budgeted across replicas: a 429 there goes back to the outbox worker, which pauses the workspace's shared
    budget for every replica. A quiet retry by this process alone would spend a send nobody reserved."""

    def __init__(self, budgeted: frozenset[str], max_retry_count: int = 2) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._budgeted = budgeted

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _method_of(request.url) in self._budgeted:
            return False
        return await super()._can_retry_async(state=state, request=request, response=response, error=error)


# The outbox's sends, paced by the budget shared by all replicas (scheduler.budget).
BUDGETED_METHODS = frozenset({"chat.postMessage"})


def retry_handlers(budgeted: frozenset[str] = frozenset()) -> list[AsyncRetryHandler]:
    rate_limit = (
        BudgetAwareRateLimitRetryHandler(budgeted)
        if budgeted
        else AsyncRateLimitErrorRetryHandler(max_retry_count=2)
    )
    return [rate_limit, IdempotentServerErrorRetryHandler()]


def make_client(
    api_url: str,
    token: Secret[str] | None = None,
    session: aiohttp.ClientSession | None = None,
    budgeted: frozenset[str] = frozenset(),
) -> AsyncWebClient:
    return OAuthFormClient(
        token=token.reveal() if token else None,
        base_url=api_url,
        timeout=API_TIMEOUT,
        retry_handlers=retry_handlers(budgeted),
        session=session,
    )


def delivery_error(exc: SlackApiError, method: str) -> DeliveryError:
    """Map a Slack error to the delivery failure kinds. The reason names the method and Slack's error code only."""
    status = exc.response.status_code
    error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
    if status == 429 or error == "ratelimited":
        retry_after = _retry_after(exc.response.headers)
        return DeliveryError(
            DeliveryFailureKind.RATE_LIMITED, f"{method}: rate limited", retry_after=retry_after
        )
    if status >= 500 or error in TRANSIENT_ERRORS:
        return DeliveryError(
            DeliveryFailureKind.TRANSIENT, f"{method}: Slack answered {status} {error}".strip()
        )
    code = error or f"HTTP {status}"
    known = SLACK_CODES.get(error)
    failure = Failure(FailureCode(known)) if known else Failure(FailureCode.OTHER_CODE, code[:DETAIL_MAX])
    if error in PERMANENT_ERRORS:
        return DeliveryError(DeliveryFailureKind.PERMANENT, f"{method}: {error}", failure=failure)
    return DeliveryError(DeliveryFailureKind.PERMANENT, f"{method}: {code}", failure=failure)


def _retry_after(headers: Mapping[str, Any]) -> float:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                break
    return 1.0


class TokenSource:
    """Where a workspace's bot token comes from: the one SLACK_BOT_TOKEN, or the workspace's OAuth installation."""

    async def token_for(self, workspace_id: str) -> Secret[str] | None:  # pragma: no cover - interface
        raise NotImplementedError


class SlackClients:
    """One Web API client per workspace, made on first use and remade when the token changes."""

    def __init__(self, api_url: str, tokens: TokenSource, budgeted: frozenset[str] = frozenset()) -> None:
        self._api_url = api_url
        self._tokens = tokens
        self._budgeted = budgeted
        self._clients: dict[str, tuple[Secret[str], AsyncWebClient]] = {}
        self._session: aiohttp.ClientSession | None = None

    def use_session(self, session: aiohttp.ClientSession | None) -> None:
        """Send every call through this HTTP session (kept-alive connections); None: a new one per call."""
        self._session = session
        for _token, client in self._clients.values():
            client.session = session

    async def for_workspace(self, workspace_id: str) -> AsyncWebClient:
        token = await self._tokens.token_for(workspace_id)
        if token is None:
            raise DeliveryError(
                DeliveryFailureKind.PERMANENT,
                f"no Slack installation for workspace {workspace_id}",
                failure=Failure(FailureCode.SLACK_REMOVED),
            )
        cached = self._clients.get(workspace_id)
        if cached is not None and cached[0] == token:
            return cached[1]
        client = make_client(self._api_url, token, self._session, self._budgeted)
        self._clients[workspace_id] = (token, client)
        return client


def _message_id(channel: str, ts: str) -> str:
    return f"{channel}/{ts}"


def parse_message_id(message_id: str) -> tuple[str, str]:
    """`Sent.message_id` of a Slack message is "<channel id>/<ts>" (a DM's channel is its D… id)."""
    channel, _, ts = message_id.partition("/")
    if not channel or not ts:
        raise DeliveryError(DeliveryFailureKind.PERMANENT, "not a Slack message id")
    return channel, ts


class SlackGateway:
    """The `Gateway` port: post to a channel or into a person's app DM, update, ephemeral."""

    platform = Platform.SLACK

    def __init__(
        self, clients: SlackClients, *, backoff: float = 0.5, outcomes: Counter | None = None
    ) -> None:
        self._clients = clients
        self._backoff = backoff
        self._locales: dict[tuple[str, str], str] = {}
        self._outcomes = (
            outcomes  # labels: method, outcome (sent | recovered | rate_limited | transient | permanent)
        )

    def _count(self, method: str, outcome: str) -> None:
        if self._outcomes is not None:
            self._outcomes.labels(method=method, outcome=outcome).inc()

    async def _counted(self, method: str, call: Awaitable[T]) -> T:
        try:
            result = await call
        except DeliveryError as exc:
            self._count(method, exc.kind.value)
            raise
        self._count(method, "sent")
        return result

    async def reader_locale(self, target: Target, default: str) -> str:
        """The language to render in for `target`: a person's Slack locale ("en" or "nl"), else `default`.

        Looked up with users.info (Tier 4) and remembered in memory only, for the life of the process.
        """
        if target.kind is not TargetKind.PERSON:
            return pick_locale(default)
        key = (target.workspace_id, target.address)
        known = self._locales.get(key)
        if known is not None:
            return known
        try:
            client = await self._clients.for_workspace(target.workspace_id)
            answer = await client.users_info(user=target.address, include_locale=True)
        except (DeliveryError, SlackApiError, aiohttp.ClientError, TimeoutError):
            return pick_locale(default)
        locale = pick_locale(str(answer["user"].get("locale") or default))
        if len(self._locales) >= LOCALE_MEMORY:
            self._locales.clear()
        self._locales[key] = locale
        return locale

    async def send(self, target: Target, message: Rendered) -> Sent:
        return await self._counted("chat.postMessage", self._send(target, message))

    async def _send(self, target: Target, message: Rendered) -> Sent:
        client = await self._clients.for_workspace(target.workspace_id)
        marker = uuid.uuid4().hex
        since = time.time() - 5
        arguments: dict[str, Any] = {
            "channel": target.address,  # a user id posts into the app's DM with that person
            "text": message.fallback_text,
            "metadata": {"event_type": DELIVERY_EVENT, "event_payload": {"delivery": marker}},
            "unfurl_links": False,
            "unfurl_media": False,
            **message.payload,
        }
        for attempt in range(POST_5XX_RETRIES + 1):
            try:
                response = await client.chat_postMessage(**arguments)
            except SlackApiError as exc:
                if exc.response.status_code < 500:
                    raise delivery_error(exc, "chat.postMessage") from None
            except (aiohttp.ClientError, TimeoutError):
                pass
            else:
                sent = Sent(_message_id(str(response["channel"]), str(response["ts"])))
                await self._attach(client, str(response["channel"]), str(response["ts"]), message)
                return sent
            # A 5xx or a lost answer: the message may be there already.
            found = await self._find_posted(client, target, marker, since)
            if found is not None:
                log.info("slack post found after a server error; not posting again", attempt=attempt + 1)
                self._count("chat.postMessage", "recovered")
                await self._attach(client, *parse_message_id(found.message_id), message)
                return found
            if attempt < POST_5XX_RETRIES:
                await asyncio.sleep(self._backoff * 2**attempt)
        raise DeliveryError(
            DeliveryFailureKind.TRANSIENT, "chat.postMessage: Slack kept answering with server errors"
        )

    async def _find_posted(
        self, client: AsyncWebClient, target: Target, marker: str, since: float
    ) -> Sent | None:
        try:
            channel = target.address
            if target.kind is TargetKind.PERSON:
                opened = await client.conversations_open(users=target.address)
                channel = str(opened["channel"]["id"])
            history = await client.conversations_history(
                channel=channel, oldest=f"{since:.6f}", include_all_metadata=True, limit=100
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError):
            raise DeliveryError(
                DeliveryFailureKind.TRANSIENT,
                "chat.postMessage: server error and the outcome is unknown; not posted again to avoid a double post",
                failure=Failure(FailureCode.OUTCOME_UNKNOWN),
            ) from None
        messages: list[dict[str, Any]] = history.get("messages") or []
        for item in messages:
            metadata = item.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == DELIVERY_EVENT and payload.get("delivery") == marker:
                return Sent(_message_id(channel, str(item["ts"])))
        return None

    async def _attach(self, client: AsyncWebClient, channel: str, ts: str, message: Rendered) -> None:
        if not message.attachments:
            return
        uploads = [
            {"content": a.data, "filename": a.filename, "title": a.filename} for a in message.attachments
        ]
        try:
            # Shared in the channel itself, right under the message: in a thread the chart is hidden behind
            # "1 reply" and most readers never see it.
            await client.files_upload_v2(channel=channel, file_uploads=uploads)
        except SlackApiError as exc:
            raise delivery_error(exc, "files.uploadV2") from None

    async def update(self, target: Target, sent: Sent, message: Rendered) -> None:
        await self._counted("chat.update", self._update(target, sent, message))

    async def _update(self, target: Target, sent: Sent, message: Rendered) -> None:
        client = await self._clients.for_workspace(target.workspace_id)
        channel, ts = parse_message_id(sent.message_id)
        try:
            payload: dict[str, Any] = dict(message.payload)
            await client.chat_update(channel=channel, ts=ts, text=message.fallback_text, **payload)
        except SlackApiError as exc:
            raise delivery_error(exc, "chat.update") from None
        except (aiohttp.ClientError, TimeoutError):
            raise DeliveryError(DeliveryFailureKind.TRANSIENT, "chat.update: no answer from Slack") from None

    async def ephemeral(self, target: Target, user_id: str, message: Rendered) -> None:
        """Show a message to one person in a channel, visible to them only (never stored by Slack)."""
        await self._counted("chat.postEphemeral", self._ephemeral(target, user_id, message))

    async def _ephemeral(self, target: Target, user_id: str, message: Rendered) -> None:
        client = await self._clients.for_workspace(target.workspace_id)
        try:
            payload: dict[str, Any] = dict(message.payload)
            await client.chat_postEphemeral(
                channel=target.address, user=user_id, text=message.fallback_text, **payload
            )
        except SlackApiError as exc:
            raise delivery_error(exc, "chat.postEphemeral") from None
        except (aiohttp.ClientError, TimeoutError):
            raise DeliveryError(
                DeliveryFailureKind.TRANSIENT, "chat.postEphemeral: no answer from Slack"
            ) from None


async def workspace_of_token(api_url: str, token: Secret[str]) -> tuple[str, str]:
    """(team id, team name) of the workspace a bot token belongs to, from `auth.test`."""
    identity = await token_identity(api_url, token)
    return identity.team_id, identity.team_name


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """What `auth.test` says about a bot token: its workspace and the scopes it was granted."""

    team_id: str
    team_name: str
    scopes: frozenset[str] | None  # None when Slack sent no X-OAuth-Scopes header
    server_time: datetime | None = None  # Slack's Date header, to tell whether this machine's clock is off


async def token_identity(api_url: str, token: Secret[str]) -> TokenIdentity:
    """`auth.test` for a bot token. Raises DeliveryError for every failure, unreachable Slack included."""
    client = make_client(api_url, token)
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        raise delivery_error(exc, "auth.test") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(
            DeliveryFailureKind.TRANSIENT, f"auth.test: no answer from Slack ({type(exc).__name__})"
        ) from None
    raw = _header(answer.headers, "x-oauth-scopes")
    scopes = frozenset(s.strip() for s in raw.split(",") if s.strip()) if raw is not None else None
    return TokenIdentity(
        str(answer["team_id"]),
        str(answer.get("team", "")),
        scopes,
        _http_date(_header(answer.headers, "date")),
    )


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == name), None)
    value = value[0] if isinstance(value, list) and value else value
    return str(value) if value is not None else None


def _http_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
