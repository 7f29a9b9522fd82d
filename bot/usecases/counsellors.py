"""What the CLI and the console both do with counsellors and their keys: the same checks, the same codes.

A key is created and rotated where its passphrase is typed: by the counsellor in the console, or by whoever
runs `vipbot counsellor add` / `rotate-key`. Either way the private key is wrapped under an Argon2id key of the
passphrase (`bot.security.counsellor_keys`), and rotation re-seals every conversation key the counsellor holds
(`ConfidentialChannel.rotate_key`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol
from uuid import UUID

from bot.domain.accounts import Account, Role, password_problem
from bot.errors import ConflictError, VipbotError
from bot.security.errors import WrongPassphraseError
from bot.security.secret import Secret

MAX_PASSPHRASE = 1024


class KeyHolders(Protocol):
    """Who holds a key: the conversation store (`SqlConversationStore`)."""

    async def has_key(self, counsellor_id: UUID) -> bool: ...


class CounsellorKeys(Protocol):
    """What making and rotating a key needs: the confidential channel (`bot.web.portal.channel.ConfidentialChannel`),
    handed in by the console or the CLI."""

    @property
    def store(self) -> KeyHolders: ...

    async def create_key(self, counsellor_id: UUID, passphrase: Secret[str]) -> None: ...

    async def rotate_key(self, counsellor_id: UUID, old: Secret[str], new: Secret[str]) -> int: ...


class KeyProblem(StrEnum):
    """What stops a key from being made or changed; `console.keys.problem.<code>` says it in words."""

    MISMATCH = "mismatch"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    IS_EMAIL = "is_email"
    HAS_KEY = "has_key"
    NO_KEY = "no_key"
    NOT_COUNSELLOR = "not_counsellor"
    WRONG_PASSPHRASE = "wrong_passphrase"  # noqa: S105  (a code, not a secret)
    NO_EMAIL = "no_email"
    VIEWER = "viewer"


# One line for the command line (the console shows the locale text of the code instead).
MESSAGES = {
    KeyProblem.MISMATCH: "the two entries of the new passphrase differ",
    KeyProblem.TOO_SHORT: "use at least 12 characters for the passphrase (a few words work well)",
    KeyProblem.TOO_LONG: f"use at most {MAX_PASSPHRASE} characters for the passphrase",
    KeyProblem.IS_EMAIL: "the passphrase must not be the e-mail address",
    KeyProblem.HAS_KEY: "this counsellor has a key already; 'vipbot counsellor rotate-key' gives it a new passphrase",
    KeyProblem.NO_KEY: "this counsellor has no key yet",
    KeyProblem.NOT_COUNSELLOR: "this account is not linked to a counsellor",
    KeyProblem.WRONG_PASSPHRASE: "the current passphrase does not open this counsellor's key; nothing changed",
    KeyProblem.NO_EMAIL: "pass --email with the counsellor's console address: a key no console account is "
    "linked to can never be opened",
    KeyProblem.VIEWER: "that address belongs to a management viewer's console account, which can never open "
    "conversations: use the counsellor's own address",
}

_PASSWORD_CODES = {
    "console.password.mismatch": KeyProblem.MISMATCH,
    "console.password.too_short": KeyProblem.TOO_SHORT,
    "console.password.is_email": KeyProblem.IS_EMAIL,
}


class CounsellorKeyError(VipbotError):
    def __init__(self, code: KeyProblem) -> None:
        super().__init__(MESSAGES[code])
        self.code = code


def passphrase_problem(passphrase: str, repeated: str, email: str | None) -> KeyProblem | None:
    """The console's password rules (length over composition, NIST SP 800-63B), applied to the passphrase."""
    if len(passphrase) > MAX_PASSPHRASE:
        return KeyProblem.TOO_LONG
    found = password_problem(passphrase, repeated, email or "")
    return _PASSWORD_CODES.get(found) if found else None


def check_passphrase(passphrase: str, repeated: str, email: str | None) -> Secret[str]:
    problem = passphrase_problem(passphrase, repeated, email)
    if problem is not None:
        raise CounsellorKeyError(problem)
    return Secret(passphrase)


def check_key_owner(email: str | None, account: Account | None) -> None:
    """What `vipbot counsellor add` refuses before asking for a passphrase: a key nobody could ever open."""
    if not email:
        raise CounsellorKeyError(KeyProblem.NO_EMAIL)
    if account is not None and account.role is Role.VIEWER:
        raise CounsellorKeyError(KeyProblem.VIEWER)


async def create_key(channel: CounsellorKeys, account: Account, passphrase: Secret[str]) -> None:
    """The signed-in counsellor's first key pair, under the passphrase they typed in the console."""
    if account.counsellor_id is None:
        raise CounsellorKeyError(KeyProblem.NOT_COUNSELLOR)
    try:
        await channel.create_key(account.counsellor_id, passphrase)
    except ConflictError:
        raise CounsellorKeyError(KeyProblem.HAS_KEY) from None


async def rotate_key(
    channel: CounsellorKeys, counsellor_id: UUID | None, current: Secret[str], new: Secret[str]
) -> int:
    """A new key pair under `new`; every conversation key re-sealed to it. Returns how many were re-sealed."""
    if counsellor_id is None:
        raise CounsellorKeyError(KeyProblem.NOT_COUNSELLOR)
    if not await channel.store.has_key(counsellor_id):
        raise CounsellorKeyError(KeyProblem.NO_KEY)
    try:
        return await channel.rotate_key(counsellor_id, current, new)
    except WrongPassphraseError:
        raise CounsellorKeyError(KeyProblem.WRONG_PASSPHRASE) from None
