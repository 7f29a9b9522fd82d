"""The Teams gateway against the connector double: proactive sends, updates, 1:1 chats, throttling, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest

from bot.adapters.teams import reference_store
from bot.adapters.teams.gateway import BotCredentials, RetryPolicy, TeamsGateway
from bot.adapters.teams.posts import teams_renderers
from bot.app import Services
from bot.domain.delivery import DeliveryError, DeliveryFailureKind, ReminderPost, Rendered, Target, TargetKind
from bot.domain.failures import Failure, FailureCode
from bot.domain.tenancy import Platform
from bot.storage.teams_references import TeamsReference, TeamsScope
from tests.adapters.teams.support import BOT_ID, CHANNEL_ID, OTHER_TENANT, TENANT, USER_ID, card_text, connect
from tests.doubles.bf_connector import ISSUED_TOKEN, BotConnectorDouble

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=1.0)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def reminder(services: Services) -> Rendered:
    renderer = teams_renderers(services.content.translator)
    return renderer.render(
        ReminderPost(services.content.catalog.reminders[0], "http://vipbot.test/portal/zorg"), "nl"
    )


async def channel_target(services: Services, double: BotConnectorDouble) -> Target:
    org = await connect(services)
    reference = TeamsReference(
        scope=TeamsScope.CHANNEL,
        tenant_id=TENANT,
        service_url=double.url,
        bot_id=BOT_ID,
        conversation_id=CHANNEL_ID,
        team_id="19:team",
        team_name="Team Zorg",
        channel_name="General",
    )
    address = await reference_store(services).save(org.id, reference)
    return Target(Platform.TEAMS, TENANT, TargetKind.CHANNEL, address)


async def test_send_and_update_a_channel_post(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession
) -> None:
    target = await channel_target(services, bf_connector)
    gateway = TeamsGateway(reference_store(services), http, None, FAST)
    message = reminder(services)
    sent = await gateway.send(target, message)
    (posted,) = bf_connector.activities(CHANNEL_ID, kind="send")
    assert posted["from"] == {"id": BOT_ID}
    assert posted["channelData"] == {"tenant": {"id": TENANT}}
    assert services.content.catalog.reminders[0].title.nl in card_text(posted["attachments"][0]["content"])
    await gateway.update(target, sent, message)
    (updated,) = bf_connector.activities(CHANNEL_ID, kind="update")
    assert updated["id"] == sent.message_id
    assert bf_connector.requests[-1].path.endswith(f"/activities/{sent.message_id}")


async def test_429_waits_for_retry_after_then_sends(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession
) -> None:
    target = await channel_target(services, bf_connector)
    bf_connector.fail_next(1, 429, retry_after=0.05)
    await TeamsGateway(reference_store(services), http, None, FAST).send(target, reminder(services))
    assert [r.status for r in bf_connector.requests] == [429, 200]


async def test_a_long_retry_after_goes_back_to_the_caller(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession
) -> None:
    target = await channel_target(services, bf_connector)
    bf_connector.fail_next(1, 429, retry_after=120)
    with pytest.raises(DeliveryError) as failed:
        await TeamsGateway(reference_store(services), http, None, FAST).send(target, reminder(services))
    assert (failed.value.kind, failed.value.retry_after) == (DeliveryFailureKind.RATE_LIMITED, 120.0)
    assert len(bf_connector.requests) == 1


async def test_5xx_is_retried_then_reported_transient(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession
) -> None:
    target = await channel_target(services, bf_connector)
    gateway = TeamsGateway(reference_store(services), http, None, FAST)
    bf_connector.fail_next(2, 502)
    await gateway.send(target, reminder(services))
    assert [r.status for r in bf_connector.requests] == [502, 502, 200]
    bf_connector.fail_next(3, 503)
    with pytest.raises(DeliveryError) as failed:
        await gateway.send(target, reminder(services))
    assert failed.value.kind is DeliveryFailureKind.TRANSIENT
    assert [r.status for r in bf_connector.requests[3:]] == [503, 503, 503]


@pytest.mark.parametrize("status", [403, 404])
async def test_bot_removed_is_permanent_and_forgets_the_reference(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession, status: int
) -> None:
    target = await channel_target(services, bf_connector)
    bf_connector.remove_conversation(CHANNEL_ID, status)
    store = reference_store(services)
    with pytest.raises(DeliveryError) as failed:
        await TeamsGateway(store, http, None, FAST).send(target, reminder(services))
    assert failed.value.kind is DeliveryFailureKind.PERMANENT
    assert await store.get(target.address) is None
    assert len(bf_connector.requests) == 1


async def test_a_message_too_large_for_teams_is_refused_with_its_own_code(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession
) -> None:
    """Teams answers 413 "MessageSizeTooBig": the message itself is at fault — permanent (sending it again would
    be refused again), `content_rejected` for the console ("the platform refused the message itself, for example
    because it is too long"), and the conversation is still there."""
    target = await channel_target(services, bf_connector)
    store = reference_store(services)
    small = reminder(services)
    large = replace(small, payload={**small.payload, "text": "lang " * 6_000})
    with pytest.raises(DeliveryError) as failed:
        await TeamsGateway(store, http, None, FAST).send(target, large)
    assert failed.value.kind is DeliveryFailureKind.PERMANENT
    assert failed.value.failure == Failure(FailureCode.CONTENT_REJECTED, "MessageSizeTooBig")
    assert [r.status for r in bf_connector.requests] == [413]  # not tried again
    assert await store.get(target.address) is not None
    await TeamsGateway(store, http, None, FAST).send(target, small)
    assert len(bf_connector.activities(CHANNEL_ID, kind="send")) == 1


async def test_unknown_or_foreign_targets_are_permanent(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession
) -> None:
    target = await channel_target(services, bf_connector)
    gateway = TeamsGateway(reference_store(services), http, None, FAST)
    for wrong in (
        Target(Platform.TEAMS, TENANT, TargetKind.CHANNEL, "0" * 40),
        Target(Platform.TEAMS, OTHER_TENANT, TargetKind.CHANNEL, target.address),
        Target(Platform.SLACK, TENANT, TargetKind.CHANNEL, target.address),
    ):
        with pytest.raises(DeliveryError) as failed:
            await gateway.send(wrong, reminder(services))
        assert failed.value.kind is DeliveryFailureKind.PERMANENT
    assert bf_connector.requests == []


async def test_a_person_without_a_chat_gets_one_created_once(
    services: Services, bf_connector: BotConnectorDouble, http: aiohttp.ClientSession
) -> None:
    org = await connect(services)
    store = reference_store(services)
    member = TeamsReference(
        scope=TeamsScope.MEMBER,
        tenant_id=TENANT,
        service_url=bf_connector.url,
        bot_id=BOT_ID,
        conversation_id=None,
        user_id=USER_ID,
    )
    address = await store.save(org.id, member)
    target = Target(Platform.TEAMS, TENANT, TargetKind.PERSON, address)
    gateway = TeamsGateway(store, http, None, FAST)
    await gateway.send(target, reminder(services))
    await gateway.send(target, reminder(services))
    (created,) = bf_connector.created_conversations()
    assert created["members"] == [{"id": USER_ID}]
    assert created["tenantId"] == TENANT
    stored = await store.get(address)
    assert stored is not None
    chat = stored.reference.conversation_id
    assert chat is not None
    assert len(bf_connector.activities(chat, kind="send")) == 2


async def test_with_an_app_id_every_call_carries_a_token(
    services: Services, http: aiohttp.ClientSession
) -> None:
    double = BotConnectorDouble(require_token=True)
    await double.start()
    try:
        target = await channel_target(services, double)
        credentials = BotCredentials(app_id="app", password="pw", tenant_id=None, login_url=double.url)
        gateway = TeamsGateway(reference_store(services), http, credentials, FAST)
        await gateway.send(target, reminder(services))
        await gateway.send(target, reminder(services))
        tokens = [r for r in double.requests if r.kind == "token"]
        assert len(tokens) == 1  # cached
        assert tokens[0].path == "/botframework.com/oauth2/v2.0/token"
        assert [r.authorization for r in double.requests if r.kind == "send"] == [
            f"Bearer {ISSUED_TOKEN}"
        ] * 2
        without = TeamsGateway(reference_store(services), http, None, FAST)
        with pytest.raises(DeliveryError) as refused:
            await without.send(target, reminder(services))
        assert refused.value.kind is DeliveryFailureKind.PERMANENT
    finally:
        await double.stop()
