"""Who is guessing: the client a sign-in attempt is counted against, and the device cookie of known browsers.

A browser that signed in to an account before holds a device cookie for it (a random id and an HMAC over it
and the account, under the service's secret). Its attempts count only against that device, so an attacker who
knows a counsellor's address can slow down their own guesses and those of other unknown browsers, never the
owner's own browser. Unknown browsers are counted per network address, and all of them together per address
typed, with a larger allowance: a crowd of addresses still meets growing delays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from uuid import UUID

from aiohttp import web

from bot.storage.login_throttle import ThrottlePolicy
from bot.web.console.auth import Console, console_of
from bot.web.shared.cookies import cookie_name

PER_CLIENT = ThrottlePolicy(free=5)
ALL_UNKNOWN_CLIENTS = ThrottlePolicy(free=20)
DEVICE_LIFETIME_S = 180 * 24 * 3600


def _mac(console: Console, *parts: bytes) -> bytes:
    return hmac.new(console.secret_key, b"\x00".join(parts), hashlib.sha256).digest()


def device_cookie(console: Console) -> str:
    return cookie_name("vipbot_device", console.secure)


def _device_id(request: web.Request, account_id: UUID | None) -> bytes | None:
    """The device id of this browser for the account, if its cookie is genuine."""
    console = console_of(request)
    raw = request.cookies.get(device_cookie(console))
    if not raw or account_id is None:
        return None
    try:
        data = base64.urlsafe_b64decode(raw.encode("ascii"))
    except ValueError:
        return None
    nonce, tag = data[:16], data[16:]
    expected = _mac(console, b"console/device", account_id.bytes, nonce)[:16]
    if len(nonce) != 16 or not hmac.compare_digest(tag, expected):
        return None
    return nonce


def throttle_keys(
    request: web.Request, email: str, account_id: UUID | None
) -> list[tuple[bytes, ThrottlePolicy]]:
    """The counts a sign-in attempt is charged to, each with its allowance."""
    console = console_of(request)
    typed = email.strip().lower().encode("utf-8")
    device = _device_id(request, account_id)
    if device is not None:
        return [(_mac(console, b"console/throttle/device", typed, device), PER_CLIENT)]
    address = (request.remote or "unknown").encode("utf-8")
    return [
        (_mac(console, b"console/throttle/address", typed, address), PER_CLIENT),
        (_mac(console, b"console/throttle/unknown", typed), ALL_UNKNOWN_CLIENTS),
    ]


def remember_device(request: web.Request, response: web.StreamResponse, account_id: UUID) -> None:
    """After a password was right: this browser is known for the account from now on."""
    console = console_of(request)
    nonce = _device_id(request, account_id) or secrets.token_bytes(16)
    tag = _mac(console, b"console/device", account_id.bytes, nonce)[:16]
    response.set_cookie(
        device_cookie(console),
        base64.urlsafe_b64encode(nonce + tag).decode("ascii"),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=console.secure,
        max_age=DEVICE_LIFETIME_S,
    )
