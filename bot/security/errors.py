"""Errors raised by the security package.

Messages are fixed strings: they never contain keys, passphrases, receipt codes, plaintext or identifiers.
"""

from __future__ import annotations

from bot.errors import VipbotError


class SecurityError(VipbotError):
    """Base of every error raised by `bot.security`."""


class DecryptionError(SecurityError):
    """A ciphertext did not authenticate: wrong key, wrong context, tampered or malformed data."""


class WrongPassphraseError(SecurityError):
    """A passphrase-wrapped key did not open: wrong passphrase (or wrong owner id, or tampered blob)."""


class InvalidCodeError(SecurityError):
    """A receipt code is not well formed (wrong length or characters)."""


class InvalidKeyError(SecurityError):
    """Serialized key material is malformed or of an unknown format version."""
