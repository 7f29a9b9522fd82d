"""A local SMTP server on a free loopback port that keeps every message it receives (aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpSink:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    refuse: bool = False
    _server: asyncio.Server | None = None

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.refuse:
            return "451 Requested action aborted: try again later"
        content = envelope.original_content or b""
        self.received.append(
            Received(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], bytes(content))
        )
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="sink.test"), self.host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def all_bytes(self) -> bytes:
        return b"\n".join(r.raw for r in self.received)


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink()
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


def smtp_env(sink: SmtpSink) -> dict[str, Any]:
    return {
        "VIPBOT_SMTP_HOST": sink.host,
        "VIPBOT_SMTP_PORT": str(sink.port),
        "VIPBOT_SMTP_FROM": "vipbot@practice.test",
        "VIPBOT_SMTP_STARTTLS": "false",
    }
