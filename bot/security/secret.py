"""`Secret`: a value that never prints.

This module does not import `cryptography`, so code outside the security package (the domain, the web
layer) may use the type freely.
"""

from __future__ import annotations

import hmac
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
