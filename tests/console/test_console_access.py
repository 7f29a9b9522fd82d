"""Who reaches what: a management viewer sees insights and reports of their own organisation only; every other
console route and every other organisation answers 403 or 404. Counsellors stay within their organisations."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from tests.console.helpers import (
    INBOX_PASSPHRASE,
    database_rows,
    fill,
    form_for,
    form_token,
    make_person,
    other_browser,
    refusal_page,
    routes_of,
    seed_organisation,
    sign_in,
)
from tests.inbox.support import unlock_through

VIEWER_ALLOWED = {
    "/console/o/{org}/insights",
    "/console/o/{org}/report",
    "/console/o/{org}/report.pdf",
    "/console/",
}
PUBLIC = {
    "/console/login",
    "/console/login/code",
    "/console/login/authenticator",
    "/console/account/authenticator",  # any account's own second factor (a sign-in step)
    "/console/logout",
    "/console/invitation/{token}",
}


def console_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) the console serves, from the router itself: nothing can be forgotten."""
    return [
        (method, path)
        for method, path in routes_of(client.server.app)
        if path.startswith("/console") and method in {"GET", "POST"}
    ]


# What a viewer's walk may change in the database: their own session's bookkeeping and the audit log's record
# of what they did (downloading their report), nothing else.
WALK_MAY_TOUCH = frozenset({"console_session", "console_audit"})


async def test_route_walk_for_a_management_viewer(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    """Real objects in the viewer's organisation and in another one: every route with real ids answers the
    viewer 403 or 404 (but insights and the report of their own organisation), changes nothing, and the same
    routes with the same ids do answer their counsellors, so the refusals come from the role check."""
    own = await seed_organisation(console_services, org_a, "vp@linde.test")
    other = await seed_organisation(console_services, org_b, "vp@noord.test")
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    routes = console_routes(client)
    assert len(routes) > 25  # the walk sees the whole console, the inbox included when installed
    assert any("{conversation}" in t for _m, t in routes)

    # the control: each organisation's counsellor reaches every page of it with these very ids
    for seeded in (own, other):
        async with other_browser(client) as counsellor:
            await sign_in(counsellor, seeded.counsellor, clock)
            slug = seeded.organisation.slug
            unlocked = await unlock_through(counsellor, slug, INBOX_PASSPHRASE)
            assert unlocked.status == 200
            for method, template in routes:
                if method == "GET" and "{org}" in template:
                    path = fill(template, slug, seeded)
                    response = await counsellor.get(path, allow_redirects=False)
                    # the "opening your key" page moves on to the inbox once it is open
                    expected = {303} if template.endswith("/inbox/unlocking") else {200}
                    if template.endswith(("/call.ics", "/file/{sequence}")):
                        expected = {200, 404}  # no call booked, no file sent in the seeded conversation
                    assert response.status in expected, (path, response.status)

    await sign_in(client, viewer, clock)
    token = await form_token(client, "/console/o/de-linde/insights")
    before = await database_rows(console_services, skip=WALK_MAY_TOUCH)
    checked = 0
    for method, template in routes:
        if template in PUBLIC or template.startswith("/console/invitation"):
            continue
        for org, seeded in (("de-linde", own), ("noord", other), ("does-not-exist", own)):
            path = fill(template, org, seeded)
            if method == "GET":
                response = await client.get(path, allow_redirects=False)
            else:
                response = await client.post(path, data=form_for(seeded, token), allow_redirects=False)
            allowed = org == "de-linde" and method == "GET" and template in VIEWER_ALLOWED
            if template == "/console/" and method == "GET":
                assert response.status == 303, path  # the viewer's home sends them to their insights
                assert response.headers["Location"] == "/console/o/de-linde/insights"
            elif allowed:
                assert response.status == 200, (method, path, response.status)
            else:
                assert response.status in {403, 404}, (method, path, response.status)
                assert refusal_page(await response.text()), (method, path)
            checked += 1
    assert checked > 60
    # nothing the viewer sent changed anything: no item, schedule, session, group, account or note
    assert await database_rows(console_services, skip=WALK_MAY_TOUCH) == before


async def test_counsellor_sees_only_assigned_organisations(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    home = await (await client.get("/console/")).text()
    assert "Zorggroep De Linde" in home
    assert "Bouwbedrijf Noord" not in home
    for path in (
        "/console/o/de-linde",
        "/console/o/de-linde/content",
        "/console/o/de-linde/calendar",
        "/console/o/de-linde/sessions",
        "/console/o/de-linde/insights",
        "/console/o/de-linde/report",
    ):
        assert (await client.get(path)).status == 200, path
    for path in (
        "/console/o/noord",
        "/console/o/noord/content",
        "/console/o/noord/calendar",
        "/console/o/noord/sessions",
        "/console/o/noord/insights",
        "/console/o/noord/report",
        "/console/o/noord/report.pdf",
    ):
        assert (await client.get(path)).status == 404, path
    for path in ("/console/accounts", "/console/organisations/new"):
        assert (await client.get(path)).status == 403, path
    token = await form_token(client, "/console/")
    forbidden = await client.post(
        "/console/accounts/invite", data={"csrf_token": token, "email": "x@y.z", "role": "admin"}
    )
    assert forbidden.status == 403


@pytest.mark.parametrize("role", [Role.COUNSELLOR, Role.VIEWER])
async def test_no_role_reaches_admin_pages(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation, role: Role
) -> None:
    person = await make_person(console_services, role, f"{role.value}@x.test", org_a.id)
    await sign_in(client, person, clock)
    assert (await client.get("/console/accounts")).status == 403
