"""An update never changes a post's language: a session announced in English (`--locale en`) in a Dutch
organisation stays English when a sign-up rewrites its count, in its blocks and its fallback text."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.adapters import slack
from bot.app import Services, build_app
from bot.domain.outreach import Audience, What
from bot.domain.team_sessions import SIGNUP_ACTION, TeamSession
from bot.domain.tenancy import Platform
from bot.security.secret import Secret
from bot.storage.slack_installations import SqlSlackInstallations
from scheduler import service as outreach_feature
from scheduler.service import Outreach
from scheduler.worker import WorkerConfig
from tests.adapters.slack.support import add_org, eventually, signed_headers, slack_services
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.outreach.test_sessions_slack import button, click


async def test_a_sign_up_keeps_an_english_announcement_english_in_a_dutch_organisation(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured = Services(
        settings=configured.settings.model_copy(update={"scheduler_enabled": False}),
        clock=configured.clock,
        engine=configured.engine,
        content=configured.content,
    )
    org = await add_org(configured, "Acme Zorg", "acme", locale="nl")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    await configured.organisations.bind_channel(
        org.id, "acme", Platform.SLACK, DEFAULT_TEAM, "C0ALL", "algemeen"
    )
    slack_api.add_channel("C0ALL", "algemeen")
    slack_api.add_user("U0CLICKER")
    app: web.Application = build_app(configured, features=[slack.install, outreach_feature.install])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    http = aiohttp.ClientSession()
    try:
        outreach: Outreach = configured.outreach
        starts = configured.clock.now() + timedelta(days=3)
        session = TeamSession(
            id=uuid.uuid4(),
            organisation_id=org.id,
            title="Peer consultation",
            description="",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            place="Room 2",
            online_url=None,
            audience=Audience(groups=("acme",)),
            locale="en",
        )
        await outreach.sessions.add(session)
        await outreach.materialiser.publish_now(org, What.SESSION, str(session.id), session.audience, "en")
        worker = outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05))
        assert await worker.drain() == 1
        post = slack_api.messages["C0ALL"][0]
        assert "team session" in post["text"].lower()

        data, content_type = click(
            "U0CLICKER", SIGNUP_ACTION, button(post, SIGNUP_ACTION)["value"], "C0ALL", post["ts"]
        )
        url = str(server.make_url("/slack/events"))
        async with http.post(url, data=data, headers=signed_headers(data, content_type)) as response:
            assert response.status == 200
        await eventually(lambda: bool(slack_api.calls_to("chat.update")))
        updated = slack_api.calls_to("chat.update")[-1].params
        assert "1 person signed up" in json.dumps(updated["blocks"])
        assert "aangemeld" not in json.dumps(updated["blocks"])
        assert updated["text"] == post["text"]  # the same English fallback, not the bare title
    finally:
        await http.close()
        await server.close()
