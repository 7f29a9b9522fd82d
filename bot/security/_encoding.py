"""Unambiguous byte encodings for values that go into `info`, associated data and HMAC inputs."""

from __future__ import annotations

import struct

_U32_MAX = 0xFFFFFFFF
_U64_MAX = 0xFFFFFFFFFFFFFFFF


def u32(value: int) -> bytes:
    """Big-endian unsigned 32-bit integer."""
    if not 0 <= value <= _U32_MAX:
        raise ValueError("value out of range for u32")
    return struct.pack(">I", value)


def u64(value: int) -> bytes:
    """Big-endian unsigned 64-bit integer."""
    if not 0 <= value <= _U64_MAX:
        raise ValueError("value out of range for u64")
    return struct.pack(">Q", value)


def frame(*fields: bytes) -> bytes:
    """Concatenate fields, each preceded by its length as u32: no two field lists encode alike."""
    return b"".join(u32(len(field)) + field for field in fields)


def optional(value: bytes | None) -> bytes:
    """Encode an optional field so that `None` and every present value (even empty) differ."""
    return b"\x00" if value is None else b"\x01" + value


def text(value: str) -> bytes:
    """UTF-8 bytes of `value` (strict: lone surrogates are refused)."""
    return value.encode("utf-8")
