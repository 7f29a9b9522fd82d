"""Cryptography for vipbot: the only package that imports `cryptography` and `argon2`.

Pure library code: no I/O, no environment, no global state; randomness is injectable (`token_bytes=`).

Names are loaded lazily, so `bot.security.secret` (`Secret`) and `bot.security.errors` can be imported by the
domain without pulling in `cryptography`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.security.counsellor_keys import (
        DEFAULT_ARGON2_PARAMS,
        INSECURE_TEST_ARGON2_PARAMS,
        Argon2Params,
        WrappedKey,
        needs_rewrap,
        protect_private_key,
        rewrap,
        unlock_private_key,
    )
    from bot.security.errors import (
        DecryptionError,
        InvalidCodeError,
        InvalidKeyError,
        SecurityError,
        WrongPassphraseError,
    )
    from bot.security.hpke import (
        Context,
        Direction,
        KeyPair,
        OpeningKey,
        Purpose,
        generate_keypair,
        load_opening_key,
        open_sealed,
        open_secret,
        public_key_of,
        seal,
        seal_secret,
    )
    from bot.security.passwords import (
        DEFAULT_PASSWORD_POLICY,
        INSECURE_TEST_PASSWORD_POLICY,
        PasswordPolicy,
        hash_password,
        match_totp,
        new_totp_secret,
        password_needs_rehash,
        totp_code,
        totp_uri,
        verify_password,
        verify_totp,
    )
    from bot.security.receipts import (
        new_receipt_code,
        normalize_code,
        receipt_lookup,
        receipt_wrap_key,
        unwrap_with_code,
        wrap_with_code,
    )
    from bot.security.secret import Secret, TokenBytes
    from bot.security.secretbox import SecretBox, derive_key, keyed_hash

_MODULES: dict[str, tuple[str, ...]] = {
    "bot.security.counsellor_keys": (
        "DEFAULT_ARGON2_PARAMS",
        "INSECURE_TEST_ARGON2_PARAMS",
        "Argon2Params",
        "WrappedKey",
        "needs_rewrap",
        "protect_private_key",
        "rewrap",
        "unlock_private_key",
    ),
    "bot.security.errors": (
        "DecryptionError",
        "InvalidCodeError",
        "InvalidKeyError",
        "SecurityError",
        "WrongPassphraseError",
    ),
    "bot.security.hpke": (
        "Context",
        "Direction",
        "KeyPair",
        "OpeningKey",
        "Purpose",
        "generate_keypair",
        "load_opening_key",
        "open_sealed",
        "open_secret",
        "public_key_of",
        "seal",
        "seal_secret",
    ),
    "bot.security.passwords": (
        "DEFAULT_PASSWORD_POLICY",
        "INSECURE_TEST_PASSWORD_POLICY",
        "PasswordPolicy",
        "hash_password",
        "match_totp",
        "new_totp_secret",
        "password_needs_rehash",
        "totp_code",
        "totp_uri",
        "verify_password",
        "verify_totp",
    ),
    "bot.security.receipts": (
        "new_receipt_code",
        "normalize_code",
        "receipt_lookup",
        "receipt_wrap_key",
        "unwrap_with_code",
        "wrap_with_code",
    ),
    "bot.security.secret": ("Secret", "TokenBytes"),
    "bot.security.secretbox": ("SecretBox", "derive_key", "keyed_hash"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "DEFAULT_ARGON2_PARAMS",
    "DEFAULT_PASSWORD_POLICY",
    "INSECURE_TEST_ARGON2_PARAMS",
    "INSECURE_TEST_PASSWORD_POLICY",
    "Argon2Params",
    "Context",
    "DecryptionError",
    "Direction",
    "InvalidCodeError",
    "InvalidKeyError",
    "KeyPair",
    "OpeningKey",
    "PasswordPolicy",
    "Purpose",
    "Secret",
    "SecretBox",
    "SecurityError",
    "TokenBytes",
    "WrappedKey",
    "WrongPassphraseError",
    "derive_key",
    "generate_keypair",
    "hash_password",
    "keyed_hash",
    "load_opening_key",
    "match_totp",
    "needs_rewrap",
    "new_receipt_code",
    "new_totp_secret",
    "normalize_code",
    "open_sealed",
    "open_secret",
    "password_needs_rehash",
    "protect_private_key",
    "public_key_of",
    "receipt_lookup",
    "receipt_wrap_key",
    "rewrap",
    "seal",
    "seal_secret",
    "totp_code",
    "totp_uri",
    "unlock_private_key",
    "unwrap_with_code",
    "verify_password",
    "verify_totp",
    "wrap_with_code",
]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
