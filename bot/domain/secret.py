"""`Secret`: a value that never prints.

Plain Python (no `cryptography`), so every layer may use the type; `bot.security.secret` re-exports it.
"""

from __future__ import annotations

import hmac
import itertools
import math
from collections.abc import Callable
from typing import Any, ClassVar, Generic, NoReturn, TypeVar

S = TypeVar("S", bytes, str)

#: A source of random bytes shaped like `secrets.token_bytes`, injected wherever keys, salts or nonces
#: are drawn.
TokenBytes = Callable[[int], bytes]

_MASK = "Secret('***')"


class Secret(Generic[S]):
    """An immutable wrapper around secret bytes or text.

    `repr()`, `str()` and f-strings show `Secret('***')`; `.reveal()` hands out the value. Equality is
    constant-time. Secrets are unhashable and refuse to be pickled, so they do not end up in caches or queues
    by accident.
    """

    __slots__ = ("_value",)
    __hash__: ClassVar[None]  # type: ignore[assignment]
    _value: S

    def __init__(self, value: S) -> None:
        if not isinstance(value, bytes | str):
            raise TypeError("Secret holds bytes or str")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> S:
        """Return the secret value. Call it as late as possible and do not keep the result around."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    def __str__(self) -> str:
        return _MASK

    def __format__(self, format_spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        mine: bytes | str = self._value
        theirs: bytes | str = other._value
        if isinstance(mine, str) and isinstance(theirs, str):
            return hmac.compare_digest(mine.encode("utf-8"), theirs.encode("utf-8"))
        if isinstance(mine, bytes) and isinstance(theirs, bytes):
            return hmac.compare_digest(mine, theirs)
        return False

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("Secret cannot be pickled")

    def __copy__(self) -> Secret[S]:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret[S]:
        return self


def draw(token_bytes: TokenBytes, length: int) -> bytes:
    """Draw `length` random bytes from `token_bytes` and check that the source kept its promise."""
    value = token_bytes(length)
    if not isinstance(value, bytes) or len(value) != length:
        raise ValueError("random source returned the wrong number of bytes")
    return value


#: Fewer bits than this, as `key_weakness` estimates them, and a key is refused in production. The estimate reads
#: low on short keys: a random 32-character hex key (128 bits) scores 95–135, so the floor sits below that.
MIN_KEY_BITS = 96
#: A longest run of characters at a constant step ("aaaa", "abcd", "9753") beyond this share of the key is a pattern.
_MAX_RUN_SHARE = 0.25


def key_weakness(key: str) -> str | None:
    """Why `key` is too weak to be a service's secret key, or None when nothing is found.

    A generated key (`secrets.token_urlsafe(48)`, `openssl rand -hex 32`) passes; what people type instead
    does not: one repeated unit (`"a" * 32`, `"changeme" * 4`), long runs (`"0123456789…"`, `"aaaa…"`), or
    too little variety to hold `MIN_KEY_BITS` bits (counted as length × the Shannon entropy per character).
    The estimate only ever errs towards accepting: it catches keys a person made up, not every weak key.
    """
    if not key:
        return "it is empty"
    unit = _repeated_unit(key)
    if unit is not None:
        return f"it repeats a unit of {unit} character(s)"
    if _longest_run(key) > max(4, int(len(key) * _MAX_RUN_SHARE)):
        return "it contains a long run of repeated or consecutive characters"
    bits = _estimated_bits(key)
    if bits < MIN_KEY_BITS:
        return f"it holds about {int(bits)} bits of randomness, fewer than {MIN_KEY_BITS}"
    return None


def _repeated_unit(key: str) -> int | None:
    """The length of the shortest unit whose repetition (the last copy may be cut short) makes up `key`."""
    for period in range(1, len(key) // 2 + 1):
        if all(key[i] == key[i - period] for i in range(period, len(key))):
            return period
    return None


def _longest_run(key: str) -> int:
    """The longest stretch of characters whose code points move by one constant step of -1, 0 or +1."""
    longest = run = 1
    step: int | None = None
    for before, after in itertools.pairwise(key):
        delta = ord(after) - ord(before)
        if abs(delta) <= 1 and delta == step:
            run += 1
        else:
            run = 2 if abs(delta) <= 1 else 1
        step = delta
        longest = max(longest, run)
    return longest


def _estimated_bits(key: str) -> float:
    counts: dict[str, int] = {}
    for char in key:
        counts[char] = counts.get(char, 0) + 1
    total = len(key)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total
