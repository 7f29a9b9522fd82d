"""Console accounts, roles and the rules around signing in.

API note (for everyone building console pages):
- `Role`: `ADMIN` (the practice's administrator: every organisation, accounts, settings), `COUNSELLOR` (the
  organisations they are assigned to, through `organisation_counsellor`; linked to a `counsellor` row by
  `counsellor_id`), `VIEWER` (management, HR or works council of exactly one organisation: insights and reports
  only).
- `Account.can_see(organisation_id)` says whether an account may see an organisation at all; web handlers use
  `bot.web.console.auth.require(...)`, which builds on it.
- Lockout: after `MAX_FAILURES` wrong passwords or codes in a row an account is locked for `LOCKOUT` (doubling
  with each further failure, at most `MAX_LOCKOUT`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MAX_LOCKOUT = timedelta(hours=24)
INVITATION_LIFETIME = timedelta(days=7)
SESSION_IDLE = timedelta(hours=2)
SESSION_ABSOLUTE = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 12


class Role(StrEnum):
    ADMIN = "admin"
    COUNSELLOR = "counsellor"
    VIEWER = "viewer"

    @property
    def needs_totp(self) -> bool:
        """Admins and counsellors hold the keys to everything: they sign in with a second factor."""
        return self in {Role.ADMIN, Role.COUNSELLOR}


class SessionStage(StrEnum):
    """How far a browser got in signing in. Only `FULL` opens console pages."""

    TOTP = "totp"  # password accepted, authenticator code still to give
    ENROL = "enrol"  # password accepted, an authenticator still to set up (first sign-in)
    FULL = "full"


@dataclass(frozen=True, slots=True)
class Account:
    id: UUID
    email: str
    display_name: str
    role: Role
    organisation_ids: frozenset[
        UUID
    ]  # counsellor (and an admin who is one too): assigned organisations; viewer: exactly one; admin: sees all
    counsellor_id: UUID | None
    totp_enabled: bool
    locale: str
    disabled: bool = False

    def can_see(self, organisation_id: UUID) -> bool:
        if self.disabled:
            return False
        return self.role is Role.ADMIN or organisation_id in self.organisation_ids

    @property
    def viewer_organisation(self) -> UUID | None:
        if self.role is Role.VIEWER and len(self.organisation_ids) == 1:
            return next(iter(self.organisation_ids))
        return None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the sign-in check needs of an account; never leaves storage and the auth module."""

    account: Account
    password_hash: str
    totp_secret: bytes | None  # sealed (SecretBox), opened by the auth module
    totp_last_step: int | None
    failed_attempts: int
    locked_until: datetime | None


@dataclass(frozen=True, slots=True)
class Invitation:
    id: UUID
    email: str
    role: Role
    organisation_id: UUID | None
    expires_at: datetime
    used: bool

    def usable(self, now: datetime) -> bool:
        return not self.used and now < self.expires_at


@dataclass(frozen=True, slots=True)
class WebSession:
    account_id: UUID
    stage: SessionStage
    created_at: datetime
    last_seen_at: datetime

    def expired(self, now: datetime) -> bool:
        return now - self.last_seen_at > SESSION_IDLE or now - self.created_at > SESSION_ABSOLUTE


def lock_until(failed_attempts: int, now: datetime) -> datetime | None:
    """When the account opens again after `failed_attempts` failures in a row, or None if it stays open."""
    if failed_attempts < MAX_FAILURES:
        return None
    doublings = min(failed_attempts - MAX_FAILURES, 10)
    delay: timedelta = min(LOCKOUT * (2**doublings), MAX_LOCKOUT)
    return now + delay


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def password_problem(password: str, repeated: str, email: str) -> str | None:
    """The locale key of what is wrong with a new password, or None. Length over rules (NIST SP 800-63B)."""
    if password != repeated:
        return "console.password.mismatch"
    if len(password) < MIN_PASSWORD_LENGTH:
        return "console.password.too_short"
    if password.strip().lower() == email.strip().lower():
        return "console.password.is_email"
    return None


class AccountRepository(Protocol):
    """Port for console accounts, invitations and sign-in sessions."""

    async def count_accounts(self) -> int: ...

    async def get(self, account_id: UUID) -> Account | None: ...

    async def credentials(self, email: str) -> Credentials | None: ...

    async def list_accounts(self) -> list[Account]: ...
