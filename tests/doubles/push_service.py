"""A Web Push service on a free loopback port: keeps every push message, and a browser's keys to read them.

`PushServiceDouble.subscription()` is what a browser's `PushManager.subscribe()` would give (endpoint, p256dh,
auth); `decrypt(received)` opens a message's aes128gcm body with the browser's private key, as the browser would.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import http_ece
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class Pushed:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushServiceDouble:
    received: list[Pushed] = field(default_factory=list)
    status: int = 201
    url: str = ""
    _runner: web.AppRunner | None = None
    _private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    _auth: bytes = field(default_factory=lambda: os.urandom(16))

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Pushed(request.path, dict(request.headers), await request.read()))
        return web.Response(status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        assert server.sockets
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def subscription(self, name: str = "browser-1") -> dict[str, object]:
        public = self._private.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return {
            "endpoint": f"{self.url}/push/{name}",
            "keys": {"p256dh": _b64url(public), "auth": _b64url(self._auth)},
        }

    def decrypt(self, pushed: Pushed) -> bytes:
        return bytes(
            http_ece.decrypt(
                pushed.body, private_key=self._private, auth_secret=self._auth, version="aes128gcm"
            )
        )


@pytest.fixture
async def push_service() -> AsyncIterator[PushServiceDouble]:
    double = PushServiceDouble()
    await double.start()
    try:
        yield double
    finally:
        await double.stop()
