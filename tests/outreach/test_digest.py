"""The monthly column digest: last month's columns (those that reached someone), in one post, through the same
outbox, renderer registries and gateways as every other post — the Slack Web API double and the Bot Framework
connector double as the platforms; every Teams card is checked by `card_check` when the double closes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

from bot.adapters import teams
from bot.adapters.slack.gateway import SlackClients, SlackGateway
from bot.adapters.slack.oauth import StaticToken
from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.delivery import portal_link
from bot.domain.digest import ColumnDigestPost, previous_month
from bot.domain.outreach import Audience, Occurrence, What
from bot.domain.recurrence import OutreachCalendar
from bot.domain.secret import Secret
from bot.domain.tenancy import Organisation, Platform
from scheduler import service as outreach_feature
from scheduler.service import Outreach, outreach_of
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.adapters.teams.support import connect, install_in_chat_and_channel, serving
from tests.doubles.bf_connector import BotConnectorDouble
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator

SLACK_ONLY = Audience(groups=("linde",), platforms=(Platform.SLACK,))


def test_the_digest_covers_the_calendar_month_before_in_the_organisations_time_zone() -> None:
    # 1 March 00:30 in Amsterdam is still 28 February in UTC: the month before is February all the same.
    first, start, end = previous_month(datetime(2026, 2, 28, 23, 30, tzinfo=UTC), "Europe/Amsterdam")
    assert first == date(2026, 2, 1)
    assert start.astimezone(UTC) == datetime(2026, 1, 31, 23, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert previous_month(datetime(2026, 1, 15, 12, 0, tzinfo=UTC), "Europe/Amsterdam")[0] == date(
        2025, 12, 1
    )


async def _organisation(services: Services, outreach: Outreach) -> Organisation:
    org = await services.organisations.add_organisation(
        "Zorggroep De Linde", "linde", "Europe/Amsterdam", "nl", 90
    )
    await services.organisations.bind_channel(
        org.id, "linde", Platform.SLACK, DEFAULT_TEAM, "C-ALL", "algemeen"
    )
    from datetime import time

    await outreach.schedules.set_calendar(
        org.id, OutreachCalendar(time(0, 0), time(0, 0), skip_weekends=False)
    )
    return org


async def test_last_months_columns_reach_slack_in_one_digest(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    clock = services.clock
    assert isinstance(clock, FixedClock)
    outreach = outreach_of(services)
    org = await _organisation(services, outreach)
    slack_api.add_channel("C-ALL", "algemeen")
    clients = SlackClients(slack_api.api_url, StaticToken(Secret(DEFAULT_TOKEN)))
    worker = OutboxWorker(
        outreach.outbox,
        {
            Platform.SLACK: PlatformDelivery(
                services.platforms[Platform.SLACK].renderers, SlackGateway(clients)
            )
        },
        outreach.posts,
        clock,
        config=WorkerConfig(rate_per_second=1000),
    )
    january, february, second, march = services.content.catalog.columns[:4]
    for moment, column in (
        (datetime(2026, 1, 20, 9, 0, tzinfo=UTC), january),
        (datetime(2026, 2, 3, 9, 0, tzinfo=UTC), february),
        (datetime(2026, 2, 17, 9, 0, tzinfo=UTC), second),
    ):
        clock.set(moment)
        await outreach.materialiser.publish_now(org, What.COLUMN, column.id, SLACK_ONLY, None)
        assert await worker.drain() == 1

    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    done = await outreach.materialiser.publish_now(org, What.DIGEST, None, SLACK_ONLY, None)
    assert done.deliveries == 1
    assert await worker.drain() == 1

    digest = slack_api.messages["C-ALL"][-1]
    assert "februari 2026" in digest["text"]
    blocks = json.dumps(digest["blocks"], ensure_ascii=False)
    assert february.title.nl in blocks
    assert second.title.nl in blocks
    assert january.title.nl not in blocks
    assert march.title.nl not in blocks
    assert blocks.index(february.title.nl) < blocks.index(second.title.nl)  # in the order they were sent
    assert portal_link(services.settings.public_portal_url, "linde") in blocks  # the door


async def test_no_digest_after_a_month_without_columns(services: Services) -> None:
    outreach = outreach_of(services)
    org = await _organisation(services, outreach)
    now = services.clock.now()
    occurrence = Occurrence(uuid4(), org.id, None, now, now, What.DIGEST, None, "nl")
    assert await outreach.posts.build(occurrence) is None


async def test_the_digest_card_on_teams_has_its_columns_and_a_summary(
    services: Services, bf_connector: BotConnectorDouble
) -> None:
    configured = Services(
        settings=services.settings.model_copy(update={"scheduler_enabled": False}),
        clock=services.clock,
        engine=services.engine,
        content=services.content,
    )
    clock = configured.clock
    assert isinstance(clock, FixedClock)
    org = await connect(configured, slug="linde")
    async with serving(configured, [teams.install, outreach_feature.install]) as (server, http):

        async def post(body: dict[str, Any]) -> None:
            async with http.post(str(server.make_url("/api/messages")), json=body) as response:
                assert response.status in {200, 201, 202}, await response.text()

        await install_in_chat_and_channel(post, bf_connector.url, configured, org, "linde")
        outreach = configured.outreach
        assert outreach is not None
        audience = Audience(groups=("linde",), platforms=(Platform.TEAMS,))
        worker = outreach.worker(WorkerConfig(rate_per_second=100, poll_interval=0.05))
        column = configured.content.catalog.columns[0]
        clock.set(datetime(2026, 2, 10, 9, 0, tzinfo=UTC))
        await outreach.materialiser.publish_now(org, What.COLUMN, column.id, audience, "en")
        assert await worker.drain() == 1
        clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
        await outreach.materialiser.publish_now(org, What.DIGEST, None, audience, "en")
        assert await worker.drain() == 1

    sent = [a for a in bf_connector.activities(kind="send") if a.get("attachments")]
    digest = sent[-1]
    assert digest["summary"] == "Monthly overview: the columns of February 2026"
    card = json.dumps(digest["attachments"][0]["content"], ensure_ascii=False)
    assert column.title.en in card
    assert column.summary.en in card


def test_a_digest_is_one_registration_per_platform(services: Services) -> None:
    for platform in (Platform.SLACK, Platform.TEAMS):
        assert services.platforms[platform].renderers.knows(ColumnDigestPost)
