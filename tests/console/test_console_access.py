"""Who reaches what: a management viewer sees insights and reports of their own organisation only; every other
console route and every other organisation answers 403 or 404. Counsellors stay within their organisations."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from tests.console.helpers import form_token, make_person, sign_in

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
    "/console/logout",
    "/console/invitation/{token}",
}


def console_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path template) the console serves, from the router itself: nothing can be forgotten."""
    app = client.server.app
    found: list[tuple[str, str]] = []
    for resource in app.router.resources():
        info = resource.get_info()
        sub = info.get("app")
        if sub is None:
            continue
        for inner in sub.router.resources():
            inner_info = inner.get_info()
            path = inner_info.get("formatter") or inner_info.get("path")
            if path is None or "static" in str(inner_info.get("prefix", "")) or inner_info.get("directory"):
                continue
            for route in inner:
                if route.method in {"GET", "POST"}:
                    found.append(
                        (route.method, "/console" + path if not path.startswith("/console") else path)
                    )
    return sorted(set(found))


def fill(template: str, org: str) -> str:
    path = template.replace("{org}", org)
    path = re.sub(r"\{action[^}]*\}", "pause", path)
    return re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)


async def test_route_walk_for_a_management_viewer(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    await sign_in(client, viewer, clock)
    token = await form_token(client, "/console/o/de-linde/insights")
    routes = console_routes(client)
    assert len(routes) > 25  # the walk sees the whole console, the inbox included when installed
    checked = 0
    for method, template in routes:
        if template in PUBLIC or template.startswith("/console/invitation"):
            continue
        for org in ("de-linde", "noord", "does-not-exist"):
            path = fill(template, org)
            if method == "GET":
                response = await client.get(path, allow_redirects=False)
            else:
                response = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
            allowed = org == "de-linde" and method == "GET" and template in VIEWER_ALLOWED
            if template == "/console/" and method == "GET":
                assert response.status == 303, path  # the viewer's home sends them to their insights
                assert response.headers["Location"] == "/console/o/de-linde/insights"
            elif allowed:
                assert response.status == 200, (method, path, response.status)
            else:
                assert response.status in {403, 404}, (method, path, response.status)
            checked += 1
    assert checked > 60


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
