"""One fan-out, each reader in their own language: Slack members get the locale the member source read from
Slack, channel posts keep the organisation's language. Real Slack renderer and gateway, against the simulator."""

from __future__ import annotations

from datetime import timedelta

from bot.adapters.slack.gateway import SlackClients, SlackGateway
from bot.adapters.slack.members import MemberPolicy, SlackMemberSync
from bot.adapters.slack.oauth import StaticToken
from bot.adapters.slack.posts import slack_renderers
from bot.domain.outreach import Audience, What
from bot.domain.tenancy import Platform
from bot.security.secret import Secret
from bot.storage.members import SqlMemberSource
from bot.storage.slack_installations import SqlSlackInstallations
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.outreach.conftest import Pipeline


async def test_an_english_member_reads_english_and_a_dutch_one_dutch_in_the_same_fan_out(
    pipeline: Pipeline, slack_api: SlackApiSimulator
) -> None:
    p = pipeline
    services = p.services
    slack_api.add_user("UENGLISH", locale="en-US")
    slack_api.add_user("UDUTCH", locale="nl-NL")
    slack_api.add_channel("C-ALL", "algemeen")
    clients = SlackClients(slack_api.api_url, StaticToken(Secret(DEFAULT_TOKEN)))
    sync = SlackMemberSync(
        clients,
        SqlMemberSource(services.engine),
        SqlSlackInstallations(services.sessions, Secret(TEST_SECRET_KEY.encode())),
        services.clock,
        MemberPolicy(),
        timedelta(hours=12),
    )
    await sync.sync_workspace(p.org.id, DEFAULT_TEAM)  # U0000…U0002 of the fixture are not listed: they leave

    column = services.content.catalog.columns[0]
    await p.materialiser.publish_now(
        p.org,
        What.COLUMN,
        column.id,
        Audience(groups=("linde",), members=True, platforms=(Platform.SLACK,)),
        None,
    )
    worker = OutboxWorker(
        p.outbox,
        {
            Platform.SLACK: PlatformDelivery(
                slack_renderers(services.content.translator), SlackGateway(clients)
            )
        },
        p.posts,
        services.clock,
        config=WorkerConfig(rate_per_second=1000),
    )
    assert await worker.drain() == 3

    def fallback(channel: str) -> str:
        [message] = slack_api.messages[channel]
        return str(message["text"])

    assert column.title.en != column.title.nl
    assert fallback(slack_api.dm_channel("UENGLISH")).startswith(column.title.en)
    assert fallback(slack_api.dm_channel("UDUTCH")).startswith(column.title.nl)
    assert fallback("C-ALL").startswith(column.title.nl)  # the channel: the organisation's language
