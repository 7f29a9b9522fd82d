"""An update never changes a post's language: a session announced in English (`--locale en`) in a Dutch
organisation stays English when a sign-up rewrites its count, in its blocks and its fallback text."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from bot.adapters import slack
from bot.app import Services
from bot.domain.outreach import Audience, What
from bot.domain.team_sessions import SIGNUP_ACTION, TeamSession
from bot.domain.tenancy import Platform
from scheduler import service as outreach_feature
from scheduler.service import Outreach
from scheduler.worker import WorkerConfig
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.outreach.test_sessions_slack import button
from tests.support.slack import block_action, linked_org, slack_services, start_service, stop_service
from tests.support.waiting import eventually


async def test_a_sign_up_keeps_an_english_announcement_english_in_a_dutch_organisation(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    configured = slack_services(services, slack_api, scheduler=False, slack_bot_token=DEFAULT_TOKEN)
    org = await linked_org(configured, locale="nl")
    await configured.organisations.bind_channel(
        org.id, "acme", Platform.SLACK, DEFAULT_TEAM, "C0ALL", "algemeen"
    )
    slack_api.add_channel("C0ALL", "algemeen")
    slack_api.add_user("U0CLICKER")
    running = await start_service(configured, [slack.install, outreach_feature.install])
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
        await outreach.team_sessions.add(session)
        await outreach.materialiser.publish_now(org, What.SESSION, str(session.id), session.audience, "en")
        worker = outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05))
        assert await worker.drain() == 1
        post = slack_api.messages["C0ALL"][0]
        assert "team session" in post["text"].lower()

        data, content_type = block_action(
            "U0CLICKER", SIGNUP_ACTION, button(post, SIGNUP_ACTION)["value"], "C0ALL", post["ts"]
        )
        async with await running.post_signed((data, content_type)) as response:
            assert response.status == 200
        await eventually(lambda: bool(slack_api.calls_to("chat.update")))
        updated = slack_api.calls_to("chat.update")[-1].params
        assert "1 person signed up" in json.dumps(updated["blocks"])
        assert "aangemeld" not in json.dumps(updated["blocks"])
        assert updated["text"] == post["text"]  # the same English fallback, not the bare title
    finally:
        await stop_service(running)
