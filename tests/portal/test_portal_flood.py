"""One organisation flooded, another still open: per-organisation buckets and a proof of work that grows.

Org B gets 60 starts and 150 code entries, every one with its proof of work solved; an employee of org A then
starts a conversation and reads it as if nothing happened. The figures are printed for the record.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services, build_app
from bot.security import Secret
from bot.web.portal.limits import PortalLimits, solve
from tests.portal.support import Practice, practice
from tests.portal.test_portal_web import hidden, portal_installer

LIMITS = PortalLimits(pow_bits=4)


@dataclass
class Two:
    client: TestClient[web.Request, web.Application]
    a: Practice


@pytest.fixture
async def two(services: Services) -> AsyncIterator[Two]:
    a = await practice(services, "de-linde", deputy=False)
    noord = await services.organisations.add_organisation(
        "Bouwbedrijf Noord", "noord", "Europe/Amsterdam", "nl", 90
    )
    await a.channel.add_counsellor(noord.id, "Noor", "noor@vp.test", Secret("de wachtwoordzin van noor"))
    client = TestClient(TestServer(build_app(services, [portal_installer(LIMITS)]), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield Two(client, a)
    finally:
        await client.close()


async def solved(client: TestClient[web.Request, web.Application], path: str) -> tuple[dict[str, str], int]:
    """The form's hidden fields with its proof of work solved at the difficulty the page asks; and that difficulty."""
    html = await (await client.get(path)).text()
    bits = int(re.search(r'data-pow="(\d+)"', html).group(1))  # type: ignore[union-attr]
    challenge = hidden(html, "pow_challenge")
    fields = {"csrf_token": hidden(html, "csrf_token"), "pow_challenge": challenge}
    return fields | {"pow_answer": solve(challenge, bits)}, bits


async def test_a_flood_on_one_organisation_leaves_another_usable(two: Two) -> None:
    client = two.client
    starts: Counter[str] = Counter()
    bits_seen = []
    for n in range(60):
        fields, bits = await solved(client, "/portal/noord/start")
        bits_seen.append(bits)
        r = await client.post(
            "/portal/noord/start", data={**fields, "mode": "anonymous", "text": f"flood {n}"}
        )
        starts["started" if 'id="receipt-code"' in await r.text() else f"refused {r.status}"] += 1
        client.session.cookie_jar.clear()
    lookups: Counter[int] = Counter()
    for n in range(150):
        fields, bits = await solved(client, "/portal/noord/return")
        bits_seen.append(bits)
        r = await client.post("/portal/noord/return", data={**fields, "code": f"{n:04d}-1111-2222-3333-4444"})
        lookups[r.status] += 1
    _fields, flooded_bits = await solved(client, "/portal/noord/start")

    # org A: an employee starts and reads, at the base difficulty
    fields, quiet_bits = await solved(client, "/portal/de-linde/start")
    started = await client.post(
        "/portal/de-linde/start", data={**fields, "mode": "anonymous", "text": "Ik wil iets bespreken"}
    )
    assert started.status == 200
    assert re.search(r'id="receipt-code" data-code="[0-9A-Z-]+"', await started.text())
    page = await client.get("/portal/de-linde/conversation")
    assert page.status == 200
    assert "Ik wil iets bespreken" in await page.text()
    # and comes back with a code (the lookups of org A are not used up by org B's)
    fields, _bits = await solved(client, "/portal/de-linde/return")
    back = await client.post("/portal/de-linde/return", data={**fields, "code": "0000-0000-0000-0000-0000"})
    assert back.status == 400  # an unknown code, answered as such: not "busy"

    print(
        f"\norg B: starts {dict(starts)}, code entries {dict(lookups)}, difficulty {min(bits_seen)}→{flooded_bits} "
        f"bits; org A: difficulty {quiet_bits} bits, start 200, read 200, code entry 400 (unknown code)"
    )
    assert starts["started"] == LIMITS.starts_per_organisation  # org B got its own allowance, no more
    assert starts["refused 429"] == 60 - LIMITS.starts_per_organisation
    assert lookups[429] > 0  # org B's code entries hit org B's limit
    assert flooded_bits > LIMITS.pow_bits  # the flood pays more work per attempt
    assert quiet_bits == LIMITS.pow_bits
    assert len(await two.a.channel.store.inbox(two.a.counsellor_id)) == 1
