"""Cookie names: behind https they carry the `__Host-` prefix (Secure, Path=/, no Domain, enforced by browsers)."""

from __future__ import annotations


def cookie_name(base: str, secure: bool) -> str:
    return f"__Host-{base}" if secure else base
