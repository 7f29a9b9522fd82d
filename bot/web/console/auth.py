"""Console sign-in: sessions, the role check, passwords, TOTP and lockout.

API note (for pages inside the console, e.g. the inbox):
- `account = await require(request, Role.COUNSELLOR, organisation_id=org.id)`: the signed-in account, if it has
  one of the given roles (ADMIN always passes a role check) and may see that organisation. Not signed in:
  303 to the sign-in page (GET) or 403 (other methods). Wrong role: 403. An organisation it may not see: 404,
  so existence is not revealed. `require(request)` without roles: any signed-in account.
- `await organisation_for(request, slug, *roles)`: the organisation in the URL, checked the same way.
- `current_account(request)`: the account or None, without raising.
- Sessions are rows in `console_session` keyed by SHA-256 of a 256-bit cookie token; the id is new at every
  sign-in step (no fixation), idle timeout 2 h, absolute 12 h; sign-out deletes the row.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.domain.accounts import Account, Role, SessionStage, WebSession, is_locked
from bot.domain.tenancy import Organisation
from bot.errors import NotFoundError
from bot.security import (
    PasswordPolicy,
    Secret,
    SecretBox,
    hash_password,
    match_totp,
    new_totp_secret,
    password_needs_rehash,
    totp_uri,
    verify_password,
)
from bot.storage.accounts import SqlAccountRepository, token_hash
from bot.usecases.audit import AuditAction
from bot.web.console.cache import STALE_FACTOR, Expiring, Lru
from bot.web.portal.drafts import Drafts
from bot.web.shared.cookies import cookie_name
from bot.web.shared.templates import LOCALE_PREFERENCE
from bot.wiring import Services

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ACCOUNT: web.RequestKey[Account | None] = web.RequestKey("account")
PENDING_ACCOUNT = web.RequestKey("pending_account", Account)
SESSION_STAGE = web.RequestKey("console_session_stage", SessionStage)
SESSION_TOKEN = web.RequestKey("console_session_token", str)
NEW_SESSION: web.RequestKey[str | None] = web.RequestKey("console_new_session")
CHANGED_ORGANISATION = web.RequestKey("console_changed_organisation", UUID)
ORGANISATION_TTL = 30.0
SESSION_CACHE_TTL = 2.0


@dataclass
class Console:
    """What the console's handlers share; kept on the console sub-application under CONSOLE."""

    services: Services
    accounts: SqlAccountRepository
    secret_key: bytes
    secure: bool
    password_policy: PasswordPolicy
    _dummy_hash: str | None = None
    password_checks: int = 0  # how many times a password hash was computed (tests count them)
    drafts: Drafts = field(
        default_factory=Drafts
    )  # refused sign-in forms, for the one GET after the redirect
    _caches: dict[str, Lru[Any]] = field(default_factory=dict)
    _expiring: dict[str, Expiring[Any]] = field(default_factory=dict)
    _versions: dict[UUID, int] = field(default_factory=dict)

    def cache(self, name: str) -> Lru[Any]:
        """A per-application LRU for derived page data (see `bot.web.console.cache`)."""
        return self._caches.setdefault(name, Lru())

    def expiring(self, name: str, ttl: float, *, stale_factor: float = STALE_FACTOR) -> Expiring[Any]:
        """A named cache; `stale_factor=1` for lookups that must never be answered past their `ttl`."""
        found = self._expiring.get(name)
        if found is None:
            found = self._expiring[name] = Expiring(ttl, stale_factor=stale_factor)
        return found

    def version(self, organisation_id: UUID) -> int:
        """Bumped by every change made through the console to the organisation (part of cache keys)."""
        return self._versions.get(organisation_id, 0)

    def bump(self, organisation_id: UUID) -> None:
        self._versions[organisation_id] = self.version(organisation_id) + 1

    @property
    def session_cookie(self) -> str:
        return cookie_name("vipbot_session", self.secure)

    def now(self) -> datetime:
        return self.services.clock.now()

    def totp_box(self) -> SecretBox:
        return SecretBox(Secret(self.secret_key), "console/totp-secret")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(hash_password, Secret(password), policy=self.password_policy)

    async def verify(self, encoded: str | None, password: str) -> bool:
        """Verify in a worker thread; an unknown account is verified against a dummy hash (same timing)."""
        self.password_checks += 1
        self.services.metrics.password_checks.inc()
        if encoded is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash("dummy password for unknown accounts")
            encoded = self._dummy_hash
            await asyncio.to_thread(verify_password, encoded, Secret(password))
            return False
        return await asyncio.to_thread(verify_password, encoded, Secret(password))

    def needs_rehash(self, encoded: str) -> bool:
        return password_needs_rehash(encoded, policy=self.password_policy)

    def seal_totp(self, account_id: UUID, secret: Secret[bytes]) -> bytes:
        return self.totp_box().encrypt(secret.reveal(), associated=account_id.bytes)

    def open_totp(self, account_id: UUID, sealed: bytes) -> Secret[bytes]:
        return Secret(self.totp_box().decrypt(sealed, associated=account_id.bytes))

    def match_totp(self, account_id: UUID, sealed: bytes, code: str) -> int | None:
        return match_totp(self.open_totp(account_id, sealed), code, self.now().timestamp())


CONSOLE = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.config_dict[CONSOLE]


def make_console(services: Services, secret_key: bytes, secure: bool) -> Console:
    policy = services.password_policy
    return Console(
        services=services,
        accounts=SqlAccountRepository(services.sessions),
        secret_key=secret_key,
        secure=secure,
        password_policy=policy,
    )


def session_middleware() -> Middleware:
    """Loads the signed-in account into `request["account"]` and writes a new session cookie when asked."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        console = console_of(request)
        token = request.cookies.get(console.session_cookie)
        request[ACCOUNT] = None
        if token:
            loaded = await _load_session(console, token)
            if loaded is not None:
                web_session, account = loaded
                request[SESSION_TOKEN] = token
                request[SESSION_STAGE] = web_session.stage
                request[LOCALE_PREFERENCE] = account.locale
                if web_session.stage is SessionStage.FULL:
                    request[ACCOUNT] = account
                else:
                    request[PENDING_ACCOUNT] = account
        try:
            response = await handler(request)
        finally:
            if CHANGED_ORGANISATION in request:
                console.bump(request[CHANGED_ORGANISATION])  # after the change: caches recompute from here
        _write_session_cookie(request, response, console)
        return response

    return middleware


async def _load_session(console: Console, token: str) -> tuple[WebSession, Account] | None:
    """The session behind a cookie. Lookups are remembered for SESSION_CACHE_TTL seconds: signing out, a new
    sign-in step and account changes made here forget them at once; on other replicas a blocked account or a
    removed assignment takes effect within that time."""
    now = console.now()
    cache: Expiring[tuple[WebSession, Account] | None] = _sessions(console)
    key = token_hash(token)

    async def load() -> tuple[WebSession, Account] | None:
        return await console.accounts.load_session(token, now)

    # One lookup for all requests of a browser that arrive together (a page and its parallel requests).
    loaded = await cache.get_or_compute(key, load)
    if loaded is not None and loaded[0].expired(now):
        cache.pop(key)
        loaded = await cache.get_or_compute(key, load)
    if loaded is None:
        cache.pop(key)  # a refusal is never remembered
    return loaded


def _sessions(console: Console) -> Expiring[tuple[WebSession, Account] | None]:
    return console.expiring("sessions", SESSION_CACHE_TTL, stale_factor=1.0)


def forget_sessions(request: web.Request, token: str | None = None) -> None:
    """Drop remembered session lookups: one (by cookie token) or all (after an account change)."""
    cache = _sessions(console_of(request))
    if token is None:
        cache.clear()
    else:
        cache.pop(token_hash(token))


def _write_session_cookie(request: web.Request, response: web.StreamResponse, console: Console) -> None:
    if NEW_SESSION not in request or response.prepared:
        return
    token = request[NEW_SESSION]
    if token is None:
        response.del_cookie(console.session_cookie, path="/")
    else:
        response.set_cookie(
            console.session_cookie, token, path="/", httponly=True, samesite="Strict", secure=console.secure
        )


async def begin_session(request: web.Request, account: Account, stage: SessionStage) -> None:
    """Replace whatever session the browser had by a brand-new one (fixation-proof)."""
    from bot.web.shared.csrf import rotate_csrf

    console = console_of(request)
    old = request.get(SESSION_TOKEN)
    if old:
        forget_sessions(request, old)
        await console.accounts.end_session(old)
    request[NEW_SESSION] = await console.accounts.start_session(account.id, stage, console.now())
    rotate_csrf(request)
    if stage is SessionStage.FULL:
        await console.services.audit.record(account.id, AuditAction.SIGNED_IN)


async def end_session(request: web.Request) -> None:
    console = console_of(request)
    old = request.get(SESSION_TOKEN)
    if old:
        forget_sessions(request, old)
        await console.accounts.end_session(old)
    request[NEW_SESSION] = None


def current_account(request: web.Request) -> Account | None:
    return request.get(ACCOUNT)


def login_url(request: web.Request) -> str:
    return str(request.app.router["login"].url_for())


async def require(request: web.Request, *roles: Role, organisation_id: UUID | None = None) -> Account:
    """The signed-in account with one of `roles` (admins always pass) that may see `organisation_id`."""
    account = current_account(request)
    if account is None:
        if request.method == "GET":
            raise web.HTTPSeeOther(login_url(request))
        raise web.HTTPForbidden()
    if roles and account.role is not Role.ADMIN and account.role not in roles:
        raise web.HTTPForbidden()
    if organisation_id is not None and not account.can_see(organisation_id):
        raise web.HTTPNotFound()
    return account


async def organisation_for(
    request: web.Request, *roles: Role, slug: str | None = None
) -> tuple[Account, Organisation]:
    """The organisation named in the URL (`{org}`), if the account may see it with one of `roles`.

    The organisation row is cached for a few seconds (its name and time zone); who may see it is always checked
    against the signed-in account. A POST counts as a change to the organisation (see `Console.bump`).
    """
    account = await require(request, *roles)
    handle = slug if slug is not None else request.match_info["org"]
    console = console_of(request)
    organisations: Expiring[Organisation] = organisation_rows(console)
    try:
        # One lookup for all who ask at once (not one each when the entry has just expired).
        organisation = await organisations.get_or_compute(
            handle, lambda: console.services.organisations.get_organisation(handle)
        )
    except NotFoundError:
        raise web.HTTPNotFound() from None
    if organisation.slug != handle:
        raise web.HTTPNotFound()
    if not account.can_see(organisation.id):
        raise web.HTTPNotFound()
    if request.method == "POST":
        request[CHANGED_ORGANISATION] = organisation.id
    return account, organisation


def organisation_rows(console: Console) -> Expiring[Organisation]:
    """Organisation rows by slug, for `ORGANISATION_TTL` seconds (a change made here pops its entry)."""
    return console.expiring("organisations", ORGANISATION_TTL, stale_factor=1.0)


def new_totp_for_enrolment() -> Secret[bytes]:
    return new_totp_secret()


def provisioning_uri(secret: Secret[bytes], email: str) -> Secret[str]:
    return totp_uri(secret, email, issuer="vipbot")


def base32(secret: Secret[bytes]) -> str:
    return base64.b32encode(secret.reveal()).decode("ascii").rstrip("=")


def locked(until: datetime | None, now: datetime) -> bool:
    return is_locked(until, now)
