"""Console account passwords (Argon2id via argon2-cffi) and TOTP second factor (RFC 6238).

TOTP is SHA-1, 6 digits, 30-second steps: what authenticator apps expect. `verify_totp` is stateless; to
refuse a code used twice, store the step returned by `match_totp` and refuse steps not greater than it.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from bot.security.secret import Secret, TokenBytes, draw

TOTP_SECRET_LEN = 20
TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
MAX_TOTP_WINDOW = 10


@dataclass(frozen=True)
class PasswordPolicy:
    """Argon2id parameters for password hashes; default: RFC 9106's low-memory profile (t=3, 64 MiB, p=4)."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4

    def hasher(self) -> PasswordHasher:
        """The argon2-cffi hasher for these parameters."""
        return PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_kib, parallelism=self.parallelism
        )


DEFAULT_PASSWORD_POLICY = PasswordPolicy()
#: Cheap parameters for tests only.
INSECURE_TEST_PASSWORD_POLICY = PasswordPolicy(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def _password_text(password: Secret[str]) -> str:
    value = password.reveal()
    if not isinstance(value, str) or not value:
        raise ValueError("password must be a non-empty str")
    # RFC 8265 OpaqueString: NFC, so the same password from another device verifies.
    return unicodedata.normalize("NFC", value)


def hash_password(password: Secret[str], *, policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY) -> str:
    """An encoded Argon2id hash (``$argon2id$v=19$…``, parameters and salt included) to store."""
    return policy.hasher().hash(_password_text(password))


def verify_password(encoded: str, password: Secret[str]) -> bool:
    """True when `password` matches the stored hash. A malformed hash counts as no match."""
    try:
        return PasswordHasher().verify(encoded, _password_text(password))
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(encoded: str, *, policy: PasswordPolicy = DEFAULT_PASSWORD_POLICY) -> bool:
    """True when the hash was made with other parameters than `policy` (rehash after a successful login)."""
    try:
        return policy.hasher().check_needs_rehash(encoded)
    except InvalidHashError:
        return True


def new_totp_secret(*, token_bytes: TokenBytes = secrets.token_bytes) -> Secret[bytes]:
    """20 random bytes (160 bits, RFC 4226's recommendation). Store it encrypted (SecretBox)."""
    return Secret(draw(token_bytes, TOTP_SECRET_LEN))


def _totp(secret: Secret[bytes]) -> TOTP:
    return TOTP(secret.reveal(), TOTP_DIGITS, SHA1(), TOTP_STEP_SECONDS)  # noqa: S303 - RFC 6238 / app default


def totp_uri(secret: Secret[bytes], account: str, issuer: str = "vipbot") -> Secret[str]:
    """The ``otpauth://totp/…`` provisioning URI (for a QR code). It contains the secret, hence `Secret`."""
    return Secret(_totp(secret).get_provisioning_uri(account, issuer))


def totp_code(secret: Secret[bytes], now: float) -> str:
    """The 6-digit code for the time step containing `now` (Unix seconds)."""
    return _totp(secret).generate(now).decode("ascii")


def match_totp(secret: Secret[bytes], code: str, now: float, window: int = 1) -> int | None:
    """The time step (``floor(t / 30)``) whose code equals `code`, `window` steps either side of `now`.

    None when none does. Every candidate is compared in constant time, without stopping early.
    """
    if not 0 <= window <= MAX_TOTP_WINDOW:
        raise ValueError("window out of range")
    candidate = code.replace(" ", "").encode("ascii", errors="replace")
    if len(candidate) != TOTP_DIGITS or not candidate.isdigit():
        return None
    totp = _totp(secret)
    current = int(now // TOTP_STEP_SECONDS)
    found: int | None = None
    for step in range(current - window, current + window + 1):
        if step < 0:
            continue
        if hmac.compare_digest(totp.generate(step * TOTP_STEP_SECONDS), candidate) and found is None:
            found = step
    return found


def verify_totp(secret: Secret[bytes], code: str, now: float, window: int = 1) -> bool:
    """True when `code` is valid at `now`, accepting `window` steps of clock drift either way."""
    return match_totp(secret, code, now, window) is not None
