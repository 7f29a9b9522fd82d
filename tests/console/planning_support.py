"""Helpers for the planning pages: "send now" through its confirmation step, as a browser without script does."""

from __future__ import annotations

import re
from html import unescape

from aiohttp.test_utils import TestClient

from tests.console.helpers import csrf_from, form_token

_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


async def publish_now(client: TestClient, org: str, fields: dict[str, object]) -> tuple[str, str]:
    """The schedule form's "send now…", the confirmation page, and "yes, send": returns the confirmation page's
    text and where sending led (the delivery status page)."""
    token = await form_token(client, f"/console/o/{org}/schedules/new")
    step = await client.post(
        f"/console/o/{org}/publish/check", data={"csrf_token": token, **fields}, allow_redirects=False
    )
    assert step.status == 303, await step.text()
    confirm = await client.get(step.headers["Location"])
    assert confirm.status == 200
    html = await confirm.text()
    hidden = [(name, unescape(value)) for name, value in _HIDDEN.findall(html) if name != "csrf_token"]
    sent = await client.post(
        f"/console/o/{org}/publish",
        data=[("csrf_token", csrf_from(html)), *hidden],
        allow_redirects=False,
    )
    assert sent.status == 303, await sent.text()
    return html, sent.headers["Location"]
