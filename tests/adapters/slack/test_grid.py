"""Enterprise Grid: an org-wide install is stored under its enterprise, its workspaces are mapped to the same
organisation (auth.teams.list, and team_access_granted later), their members reach the directory, and sends to
them use the org-wide token."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlparse

from sqlmodel import col, select

from bot.adapters.slack.members import MEMBER_SYNC
from bot.app import Services
from bot.domain.delivery import Rendered, Target, TargetKind
from bot.domain.tenancy import Platform
from bot.security.secret import Secret
from bot.storage.slack_installations import SqlSlackInstallations
from bot.storage.tables_outreach import OutreachMemberRow
from tests.adapters.slack.support import add_org, event_body, slack_services, start_service, stop_service
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import SlackApiSimulator

GRID, TOKEN = "E0GRID", "xoxb-grid-org-wide"


async def members(services: Services) -> dict[str, str]:
    async with services.sessions() as session:
        rows = await session.exec(select(OutreachMemberRow).where(col(OutreachMemberRow.active).is_(True)))
        return {r.address: r.workspace_id for r in rows}


async def test_an_org_wide_install_serves_every_workspace_of_the_grid(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    configured = slack_services(
        services, slack_api, slack_client_id=slack_api.client_id, slack_client_secret=slack_api.client_secret
    )
    org = await add_org(configured, "Zorggroep Grid", "grid")
    slack_api.add_user("UNORTH1", team_id="TNORTH")
    slack_api.add_user("UNORTH2", team_id="TNORTH", locale="en-US")
    slack_api.add_user("USOUTH1", team_id="TSOUTH")
    slack_api.add_user("ULATER1", team_id="TLATER")
    running = await start_service(configured)
    try:
        start = await running.session.get(f"{running.url}/slack/install?org=grid", allow_redirects=False)
        state = parse_qs(urlparse(start.headers["Location"]).query)["state"][0]
        cookie = start.headers["Set-Cookie"].split(";", 1)[0]
        slack_api.add_grid_grant("code-grid", GRID, TOKEN, ["TNORTH", "TSOUTH"])
        done = await running.session.get(
            f"{running.url}/slack/oauth_redirect",
            params={"code": "code-grid", "state": state},
            headers={"Cookie": cookie},
        )
        assert done.status == 200
        installations = SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode()))
        stored = await installations.find(GRID)
        assert stored is not None
        assert stored.is_enterprise_install
        assert stored.team_id is None

        sync = running.server.app[MEMBER_SYNC]
        await sync.sync_due()  # the job's first look maps the grid's workspaces …
        await sync.sync_due()  # … and the next one reads their members
        assert await installations.organisation_for("TNORTH") == org.id
        assert await installations.organisation_for("TSOUTH") == org.id
        assert await members(configured) == {"UNORTH1": "TNORTH", "UNORTH2": "TNORTH", "USOUTH1": "TSOUTH"}
        assert {c.token for c in slack_api.calls_to("users.list")} == {TOKEN}

        # The install reaches one more workspace later: Slack says so with team_access_granted.
        body = event_body("TNORTH", {"type": "team_access_granted", "team_ids": ["TLATER"]})
        payload = body[0].replace(b'"team_id": "TNORTH"', b'"team_id": "TNORTH", "enterprise_id": "E0GRID"')
        response = await running.post_signed((payload, body[1]))
        assert response.status == 200
        for _ in range(100):
            if await installations.organisation_for("TLATER") == org.id:
                break
            await asyncio.sleep(0.05)
        assert await installations.organisation_for("TLATER") == org.id
        await sync.sync_due()
        assert (await members(configured))["ULATER1"] == "TLATER"

        # A DM to a member of a grid workspace goes out with the org-wide token.
        from bot.adapters.slack.service import SLACK

        gateway = running.server.app[SLACK].gateway
        await gateway.send(
            Target(Platform.SLACK, "TSOUTH", TargetKind.PERSON, "USOUTH1"),
            Rendered(Platform.SLACK, {"blocks": []}, "hallo"),
        )
        assert slack_api.calls_to("chat.postMessage")[-1].token == TOKEN
    finally:
        await stop_service(running)
