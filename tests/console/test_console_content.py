"""The content editor's preview endpoint: CSRF by header, escaping everywhere, the Markdown subset enforced."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from tests.console.helpers import form_token, make_person, sign_in


async def test_preview_escapes_and_needs_the_csrf_header(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    token = await form_token(client, "/console/o/de-linde/content/new?kind=column")
    fields = {
        "kind": "column",
        "title_nl": "<script>alert(1)</script> & co",
        "summary_nl": "<img src=x onerror=alert(2)>",
        "body_nl": "Tekst met <b>html</b> en **vet**.",
        "reading_minutes": "2",
    }
    refused = await client.post("/console/o/de-linde/content/preview", data=fields)
    assert refused.status == 403
    answer = await client.post(
        "/console/o/de-linde/content/preview", data=fields, headers={"X-CSRF-Token": token}
    )
    html = await answer.text()
    assert answer.status == 200
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html
    assert "NL, regel 1: HTML kan niet" in html  # inline HTML is refused by the content rules, with the line
    fields["body_nl"] = "Tekst met **vet** en een [link](https://example.org/a?b=1&c=2)."
    answer = await client.post(
        "/console/o/de-linde/content/preview", data=fields, headers={"X-CSRF-Token": token}
    )
    html = await answer.text()
    assert 'class="preview-slack"' in html
    assert 'class="preview-teams"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
    assert "<strong>vet</strong>" in html
    fields["body_nl"] = "[klik](javascript:alert(3))"
    answer = await client.post(
        "/console/o/de-linde/content/preview", data=fields, headers={"X-CSRF-Token": token}
    )
    html = await answer.text()
    assert 'href="javascript' not in html  # never a link (markdown-it refuses the scheme; shown as text)
    fields["body_nl"] = "[klik](http://plain.example)"
    answer = await client.post(
        "/console/o/de-linde/content/preview", data=fields, headers={"X-CSRF-Token": token}
    )
    assert "links beginnen met https://" in await answer.text()


async def test_saved_item_is_only_visible_in_its_organisation(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    both = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    from bot.storage.accounts import SqlAccountRepository

    await SqlAccountRepository(console_services.sessions).assign_counsellor(both.account.id, org_b.id)
    await sign_in(client, both, clock)
    token = await form_token(client, "/console/o/de-linde/content/new?kind=reminder")
    saved = await client.post(
        "/console/o/de-linde/content/new?kind=reminder",
        data={"csrf_token": token, "title_nl": "Eigen herinnering", "body_nl": "Wees aardig."},
        allow_redirects=False,
    )
    assert saved.status == 303
    item = saved.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    assert (await client.get(f"/console/o/de-linde/content/own/{item}")).status == 200
    assert (await client.get(f"/console/o/noord/content/own/{item}")).status == 404
    token = await form_token(client, "/console/o/noord/content")
    deleted = await client.post(f"/console/o/noord/content/own/{item}/delete", data={"csrf_token": token})
    assert deleted.status == 404
    assert "Eigen herinnering" in await (await client.get("/console/o/de-linde/content")).text()
    assert "Eigen herinnering" not in await (await client.get("/console/o/noord/content")).text()
