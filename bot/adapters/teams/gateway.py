"""The `Gateway` port for Teams: proactive posts and updates over the Bot Framework Connector REST API.

A Target's `address` is the opaque address of a stored conversation reference (see `TeamsReferences`). The
gateway posts to the reference's service URL; for a person without a 1:1 chat yet it first creates one
(`POST /v3/conversations`) and keeps its id. With an app id configured every call carries a token from the
Microsoft identity platform (client credentials; the login URL is a setting), without one (development) none.

Failures: 429 honours Retry-After, 5xx and connection errors are retried with backoff, a few times within one
call (`RetryPolicy`); what is left is a `DeliveryError` — rate_limited, transient or permanent (403 "bot not in
conversation" and 404 "conversation not found" also forget the reference: the bot was removed; 413 "message size
too big" is the message's own fault: `content_rejected`) — carrying the `FailureCode` the outbox stores; its reason
text is for operators only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from bot.domain.delivery import DeliveryError, DeliveryFailureKind, Rendered, Sent, Target
from bot.domain.failures import TEAMS_REMOVED_CODES, Failure, FailureCode
from bot.domain.teams_references import StoredReference, TeamsReferences, TeamsScope
from bot.domain.tenancy import Platform
from bot.logs import get_logger

log = get_logger(__name__)

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
MULTI_TENANT_AUTHORITY = "botframework.com"
_REMOVED_CODES = {"BotNotInConversationRoster", "ConversationNotFound", "BotDisabledByAdmin"}


def _failed(
    kind: DeliveryFailureKind,
    reason: str,
    code: FailureCode,
    detail: str | None = None,
    retry_after: float | None = None,
) -> DeliveryError:
    return DeliveryError(kind, reason, retry_after, Failure(code, detail))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5  # seconds; doubles per transient failure
    max_delay: float = (
        30.0  # a longer Retry-After is handed to the caller as rate_limited instead of waited out
    )


@dataclass(frozen=True, slots=True)
class TeamsLimits:
    """Teams' documented rate limits for bots ("Optimize your bot with rate limiting in Teams"): per bot per
    conversation ("thread") 7 operations a second, 8 in 2 s, 60 in 30 s, 1,800 in an hour; per app per tenant
    50 requests a second. The gateway keeps under the tightest of each; a 429 is still honoured."""

    per_conversation_second: float = 7
    per_conversation_30s: float = 60
    per_conversation_hour: float = 1800
    per_tenant_second: float = 50


class _Pacer:
    """Leaky buckets (aiolimiter) per conversation and per tenant, for the sends of this process."""

    MAX_CONVERSATIONS = 10_000  # buckets of idle conversations are dropped beyond this (they are full again)

    def __init__(self, limits: TeamsLimits) -> None:
        self._limits = limits
        self._conversations: OrderedDict[str, tuple[AsyncLimiter, ...]] = OrderedDict()
        self._tenants: dict[str, AsyncLimiter] = {}

    async def wait(self, tenant_id: str, conversation: str) -> None:
        limits = self._limits
        buckets = self._conversations.get(conversation)
        if buckets is None:
            buckets = (
                AsyncLimiter(limits.per_conversation_second, 1),
                AsyncLimiter(limits.per_conversation_30s, 30),
                AsyncLimiter(limits.per_conversation_hour, 3600),
            )
            self._conversations[conversation] = buckets
            while len(self._conversations) > self.MAX_CONVERSATIONS:
                self._conversations.popitem(last=False)
        else:
            self._conversations.move_to_end(conversation)
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = AsyncLimiter(limits.per_tenant_second, 1)
        for bucket in buckets:
            await bucket.acquire()
        await tenant.acquire()


@dataclass(frozen=True, slots=True)
class BotCredentials:
    app_id: str
    password: str
    tenant_id: str | None  # single-tenant bots get their token from their own tenant
    login_url: str  # https://login.microsoftonline.com, or a double on loopback


class TokenSource:
    """Client-credentials tokens for the Bot Framework, cached until shortly before they expire."""

    def __init__(self, credentials: BotCredentials, http: aiohttp.ClientSession) -> None:
        self._credentials = credentials
        self._http = http
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def header(self) -> str:
        return f"Bearer {await self.token()}"

    async def token(self) -> str:
        if self._token is not None and time.monotonic() <= self._expires:
            return self._token
        async with self._lock:
            if self._token is None or time.monotonic() > self._expires:
                return await self._fetch()
            return self._token

    async def _fetch(self) -> str:
        c = self._credentials
        authority = c.tenant_id or MULTI_TENANT_AUTHORITY
        url = f"{c.login_url.rstrip('/')}/{quote(authority, safe='')}/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": c.app_id,
            "client_secret": c.password,
            "scope": BOT_FRAMEWORK_SCOPE,
        }
        try:
            async with self._http.post(url, data=form) as response:
                if response.status != 200:
                    reason = (
                        f"the Microsoft login endpoint refused the bot's credentials (HTTP {response.status})"
                    )
                    if response.status >= 500:
                        raise _failed(DeliveryFailureKind.TRANSIENT, reason, FailureCode.TRANSIENT)
                    raise _failed(DeliveryFailureKind.PERMANENT, reason, FailureCode.TEAMS_CREDENTIALS)
                data = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _failed(
                DeliveryFailureKind.TRANSIENT,
                "the Microsoft login endpoint is unreachable",
                FailureCode.TRANSIENT,
            ) from exc
        self._token = token = str(data["access_token"])
        self._expires = time.monotonic() + max(60.0, float(data.get("expires_in", 3600)) - 300)
        return token


class TeamsGateway:
    platform: Platform = Platform.TEAMS

    def __init__(
        self,
        store: TeamsReferences,
        http: aiohttp.ClientSession,
        credentials: BotCredentials | TokenSource | None,
        retry: RetryPolicy | None = None,
        concurrency: int = 16,
        limits: TeamsLimits | None = None,
    ) -> None:
        self._store = store
        self._http = http
        # A TokenSource is shared with the endpoint's connector clients (one token for the process).
        self._tokens = (
            TokenSource(credentials, http) if isinstance(credentials, BotCredentials) else credentials
        )
        self._retry = retry or RetryPolicy()
        self._slots = asyncio.Semaphore(concurrency)
        self._pacer = _Pacer(limits or TeamsLimits())

    async def send(self, target: Target, message: Rendered) -> Sent:
        stored = await self._reference(target)
        conversation_id = stored.reference.conversation_id or await self._open_personal_chat(stored)
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/activities"
        body = self._activity(stored, conversation_id, message)
        answer = await self._call("POST", stored, path, body)
        return Sent(message_id=str(answer.get("id", "")))

    async def update(self, target: Target, sent: Sent, message: Rendered) -> None:
        stored = await self._reference(target)
        conversation_id = stored.reference.conversation_id
        if conversation_id is None:
            raise _failed(
                DeliveryFailureKind.PERMANENT, "nothing was sent to this person yet", FailureCode.OTHER
            )
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/activities/{quote(sent.message_id, safe='')}"
        body = {**self._activity(stored, conversation_id, message), "id": sent.message_id}
        await self._call("PUT", stored, path, body)

    # --- internals ---------------------------------------------------------------------------------------

    async def _reference(self, target: Target) -> StoredReference:
        if target.platform is not Platform.TEAMS:
            raise _failed(DeliveryFailureKind.PERMANENT, "not a Teams target", FailureCode.OTHER)
        stored = await self._store.get(target.address)
        if stored is None or stored.reference.tenant_id != target.workspace_id:
            raise _failed(
                DeliveryFailureKind.PERMANENT,
                "the bot is not installed in this Teams conversation",
                FailureCode.TEAMS_REMOVED,
            )
        return stored

    @staticmethod
    def _activity(stored: StoredReference, conversation_id: str, message: Rendered) -> dict[str, Any]:
        ref = stored.reference
        return {
            **message.payload,
            "from": {"id": ref.bot_id},
            "conversation": {"id": conversation_id},
            "channelData": {"tenant": {"id": ref.tenant_id}},
        }

    async def _open_personal_chat(self, stored: StoredReference) -> str:
        ref = stored.reference
        body = {
            "bot": {"id": ref.bot_id},
            "members": [{"id": ref.user_id}],
            "isGroup": False,
            "tenantId": ref.tenant_id,
            "channelData": {"tenant": {"id": ref.tenant_id}},
        }
        answer = await self._call("POST", stored, "/v3/conversations", body)
        conversation_id = str(answer["id"])
        if ref.scope is TeamsScope.MEMBER:
            await self._store.save(stored.organisation_id, replace(ref, conversation_id=conversation_id))
        return conversation_id

    async def _call(
        self, method: str, stored: StoredReference, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        def retryable(exc: BaseException) -> bool:
            if not isinstance(exc, DeliveryError):
                return False
            if exc.kind is DeliveryFailureKind.RATE_LIMITED:
                return (exc.retry_after or 0) <= self._retry.max_delay
            return exc.kind is DeliveryFailureKind.TRANSIENT

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, DeliveryError) and exc.retry_after is not None:
                return exc.retry_after
            return float(min(self._retry.max_delay, self._retry.base_delay * 2 ** (state.attempt_number - 1)))

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts),
            wait=wait,
            retry=retry_if_exception(retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(method, stored, path, body)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self, method: str, stored: StoredReference, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self._tokens:
            headers["Authorization"] = await self._tokens.header()
        url = stored.reference.service_url.rstrip("/") + path
        # A new 1:1 chat has no id yet: its creation counts against the person's address.
        await self._pacer.wait(stored.reference.tenant_id, stored.reference.conversation_id or stored.address)
        async with self._slots:
            try:
                async with self._http.request(method, url, data=encoded(body), headers=headers) as response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    try:
                        answer: Any = await response.json(content_type=None)
                    except ValueError:
                        answer = None
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise _failed(
                    DeliveryFailureKind.TRANSIENT, "the Teams connector is unreachable", FailureCode.TRANSIENT
                ) from exc
        if 200 <= status < 300:
            return answer if isinstance(answer, dict) else {}
        code = (answer.get("error") or {}).get("code") if isinstance(answer, dict) else None
        if status == 429:
            raise _failed(
                DeliveryFailureKind.RATE_LIMITED,
                "Teams throttled the bot (429)",
                FailureCode.TRANSIENT,
                retry_after=_seconds(retry_after),
            )
        if status >= 500:
            raise _failed(
                DeliveryFailureKind.TRANSIENT,
                f"the Teams connector failed (HTTP {status})",
                FailureCode.TRANSIENT,
            )
        if status in {403, 404} and (code in _REMOVED_CODES or status == 404):
            await self._store.remove(stored.address)
            log.info("teams conversation gone; reference forgotten", status=status, reason=code)
            # A 404 without one of the known codes says the chat itself is gone.
            removed = FailureCode(TEAMS_REMOVED_CODES.get(str(code), FailureCode.TEAMS_GONE.value))
            raise _failed(
                DeliveryFailureKind.PERMANENT, f"the bot was removed from the conversation ({code})", removed
            )
        if status == 413:
            # MessageSizeTooBig: the message itself is refused; sending it again would be refused again.
            raise _failed(
                DeliveryFailureKind.PERMANENT,
                f"Teams refused the message as too large (413 {code or 'MessageSizeTooBig'})",
                FailureCode.CONTENT_REJECTED,
                "MessageSizeTooBig",
            )
        if status == 401:
            raise _failed(
                DeliveryFailureKind.PERMANENT,
                "the Teams connector refused the bot's token (check MICROSOFT_APP_*)",
                FailureCode.TEAMS_CREDENTIALS,
            )
        raise _failed(
            DeliveryFailureKind.PERMANENT,
            f"the Teams connector refused the message (HTTP {status})",
            FailureCode.OTHER_CODE,
            f"HTTP {status}",
        )


def encoded(body: dict[str, Any]) -> bytes:
    """An activity as sent: JSON in UTF-8 (Dutch letters, "±" and the no-break spaces of a summary's tree take 2
    bytes each rather than 6 as `\\u` escapes: Teams limits a message's size)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header else 1.0
    except ValueError:
        return 1.0
