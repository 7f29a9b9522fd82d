"""Distribution through OAuth against the simulator: install links per organisation, sealed tokens, separation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import text

from bot.app import Services
from bot.security.secret import Secret
from bot.storage.slack_installations import SqlSlackInstallations
from tests.adapters.slack.support import (
    RunningService,
    add_org,
    event_body,
    eventually,
    slack_services,
    sqlite_file_bytes,
    start_service,
    stop_service,
)
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import SlackApiSimulator


@pytest.fixture
async def running(services: Services, slack_api: SlackApiSimulator) -> AsyncIterator[RunningService]:
    configured = slack_services(
        services, slack_api, slack_client_id=slack_api.client_id, slack_client_secret=slack_api.client_secret
    )
    await add_org(configured, "Acme Zorg", "acme")
    await add_org(configured, "Bakkerij Beta", "beta", locale="en")
    slack_api.add_user("UA")
    slack_api.add_user("UB", locale="en-US")
    service = await start_service(configured)
    yield service
    await stop_service(service)


async def install(
    running: RunningService, slack_api: SlackApiSimulator, org: str, team: str, token: str
) -> int:
    """Walk the install flow as a browser would: install link → Slack's consent page → our redirect."""
    start = await running.session.get(f"{running.url}/slack/install?org={org}", allow_redirects=False)
    assert start.status == 302
    consent = urlparse(start.headers["Location"])
    assert consent.path == "/oauth/v2/authorize"
    assert consent.netloc == f"127.0.0.1:{slack_api.port}"
    query = parse_qs(consent.query)
    assert query["client_id"] == [slack_api.client_id]
    assert "chat:write" in query["scope"][0]
    state = query["state"][0]
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    code = f"code-{team}"
    slack_api.add_oauth_grant(code, team, token)
    done = await running.session.get(
        f"{running.url}/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": cookie},
    )
    return done.status


async def test_install_link_needs_an_organisation(running: RunningService) -> None:
    for link in ("/slack/install", "/slack/install?org=nobody"):
        response = await running.session.get(running.url + link, allow_redirects=False)
        assert response.status == 400
        assert "installatielink" in await response.text()


async def test_install_stores_a_sealed_installation_and_serves_the_workspace_with_its_token(
    running: RunningService, slack_api: SlackApiSimulator, database_url: str
) -> None:
    assert await install(running, slack_api, "acme", "TA", "xoxb-ta-4242") == 200
    services = running.services
    installations = SqlSlackInstallations(services.sessions, Secret(TEST_SECRET_KEY.encode()))
    acme = await services.organisations.get_organisation("acme")
    assert await installations.organisation_for("TA") == acme.id
    found = await installations.find("TA")
    assert found is not None
    assert found.bot_token.reveal() == "xoxb-ta-4242"
    async with services.engine.connect() as connection:
        (stored,) = (
            (await connection.execute(text("SELECT bot_token FROM slack_installation"))).scalars().all()
        )
    assert b"xoxb-ta-4242" not in bytes(stored)
    if database_url.startswith("sqlite"):
        await services.engine.dispose()
        assert b"xoxb-ta-4242" not in sqlite_file_bytes(database_url)

    await running.post_signed(event_body("TA", {"type": "app_home_opened", "user": "UA", "tab": "home"}))
    await eventually(lambda: "UA" in slack_api.views)
    (publish,) = slack_api.calls_to("views.publish")
    assert publish.token == "xoxb-ta-4242"
    assert "Acme Zorg" in json.dumps(slack_api.views["UA"])


async def test_a_second_workspace_stays_separate(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    assert await install(running, slack_api, "acme", "TA", "xoxb-ta") == 200
    assert await install(running, slack_api, "beta", "TB", "xoxb-tb") == 200
    await running.post_signed(event_body("TB", {"type": "app_home_opened", "user": "UB", "tab": "home"}))
    await eventually(lambda: "UB" in slack_api.views)
    await running.post_signed(event_body("TA", {"type": "app_home_opened", "user": "UA", "tab": "home"}))
    await eventually(lambda: "UA" in slack_api.views)
    tokens = {c.params["user_id"]: c.token for c in slack_api.calls_to("views.publish")}
    assert tokens == {"UB": "xoxb-tb", "UA": "xoxb-ta"}
    beta, acme = json.dumps(slack_api.views["UB"]), json.dumps(slack_api.views["UA"])
    assert "Bakkerij Beta" in beta
    assert "/portal/beta" in beta
    assert "Acme" not in beta
    assert "Acme Zorg" in acme
    assert "/portal/acme" in acme
    assert "Beta" not in acme


async def test_a_workspace_cannot_be_moved_to_another_organisation_by_installing_again(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    assert await install(running, slack_api, "acme", "TA", "xoxb-ta") == 200
    assert await install(running, slack_api, "beta", "TA", "xoxb-ta-2") == 500
    installations = SqlSlackInstallations(running.services.sessions, Secret(TEST_SECRET_KEY.encode()))
    found = await installations.find("TA")
    assert found is not None
    assert found.bot_token.reveal() == "xoxb-ta"
    # Reinstalling into the same organisation replaces the token.
    assert await install(running, slack_api, "acme", "TA", "xoxb-ta-3") == 200
    again = await installations.find("TA")
    assert again is not None
    assert again.bot_token.reveal() == "xoxb-ta-3"


async def test_a_state_works_once_and_only_with_its_browser(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    start = await running.session.get(f"{running.url}/slack/install?org=acme", allow_redirects=False)
    state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]
    cookie = start.headers["Set-Cookie"].split(";", 1)[0]
    slack_api.add_oauth_grant("c1", "TA", "xoxb-ta")
    no_cookie = await running.session.get(
        f"{running.url}/slack/oauth_redirect", params={"code": "c1", "state": state}
    )
    assert no_cookie.status == 400
    first = await running.session.get(
        f"{running.url}/slack/oauth_redirect",
        params={"code": "c1", "state": state},
        headers={"Cookie": cookie},
    )
    assert first.status == 200
    slack_api.add_oauth_grant("c2", "TX", "xoxb-tx")
    replay = await running.session.get(
        f"{running.url}/slack/oauth_redirect",
        params={"code": "c2", "state": state},
        headers={"Cookie": cookie},
    )
    assert replay.status == 401
    installations = SqlSlackInstallations(running.services.sessions, Secret(TEST_SECRET_KEY.encode()))
    assert await installations.find("TX") is None


async def test_uninstalling_removes_the_installation(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    assert await install(running, slack_api, "acme", "TA", "xoxb-ta") == 200
    installations = SqlSlackInstallations(running.services.sessions, Secret(TEST_SECRET_KEY.encode()))
    assert (await running.post_signed(event_body("TA", {"type": "app_uninstalled"}))).status == 200

    async def gone() -> bool:
        return await installations.find("TA") is None

    await eventually(gone, 2.0, "the installation to be deleted")
