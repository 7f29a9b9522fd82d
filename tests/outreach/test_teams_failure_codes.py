"""What a failed Teams delivery stores: the code the Teams gateway hands over with its `DeliveryError`, from the
connector's status and error code (the console shows the code; nothing reads the reason text)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlmodel import select

from bot.adapters.teams import reference_store
from bot.adapters.teams.gateway import RetryPolicy, TeamsGateway
from bot.adapters.teams.posts import teams_renderers
from bot.domain.delivery import DeliveryError, DeliveryFailureKind, ReminderPost, Target, TargetKind
from bot.domain.failures import Failure, FailureCode
from bot.domain.outreach import Audience
from bot.domain.tenancy import Platform
from bot.storage.db import session_factory
from bot.storage.tables_outreach import OutreachDeliveryRow
from bot.storage.teams_references import TeamsReference, TeamsScope
from scheduler.worker import OutboxWorker, PlatformDelivery, WorkerConfig
from tests.doubles.bf_connector import BotConnectorDouble
from tests.outreach.conftest import TENANT, Pipeline
from tests.outreach.test_worker import publish

CHAT = "a:person-1"
NO_RETRY = RetryPolicy(attempts=1, base_delay=0.01, max_delay=1.0)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def closed_port_url() -> str:
    """A loopback address nothing listens on: the connector is unreachable."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def one_person(p: Pipeline, service_url: str) -> Target:
    """The pipeline's organisation with one Teams person in the member directory, reached at `service_url`."""
    store = reference_store(p.services)
    await store.connect_tenant(p.org.id, TENANT)
    await p.members.deactivate(p.org.id, Target(Platform.TEAMS, TENANT, TargetKind.PERSON, "a:teams-person"))
    reference = TeamsReference(
        scope=TeamsScope.PERSONAL,
        tenant_id=TENANT,
        service_url=service_url,
        bot_id="28:vipbot",
        conversation_id=CHAT,
        user_id="29:person-1",
    )
    target = Target(Platform.TEAMS, TENANT, TargetKind.PERSON, await store.save(p.org.id, reference))
    await p.outbox.register_members(p.org.id, [target])
    return target


async def stored_failures(p: Pipeline) -> list[tuple[str, str | None, str | None]]:
    async with session_factory(p.services.engine)() as session:
        rows = await session.exec(
            select(OutreachDeliveryRow).where(OutreachDeliveryRow.platform == Platform.TEAMS.value)
        )
        return [(r.status, r.failure_code, r.failure_detail) for r in rows]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (403, ("teams_removed", None)),  # BotNotInConversationRoster: the bot was removed
        (404, ("teams_gone", None)),  # ConversationNotFound: the chat is gone
        (500, ("gave_up", "1")),  # transient; the worker gives up after its attempts
        ("unreachable", ("gave_up", "1")),
        (413, ("content_rejected", "MessageSizeTooBig")),  # the message is larger than Teams takes
    ],
)
async def test_a_failed_teams_delivery_stores_the_gateway_s_code(
    pipeline: Pipeline,
    bf_connector: BotConnectorDouble,
    http: aiohttp.ClientSession,
    answer: int | str,
    expected: tuple[str, str | None],
) -> None:
    p = pipeline
    target = await one_person(p, closed_port_url() if answer == "unreachable" else bf_connector.url)
    if answer in (403, 404):
        bf_connector.remove_conversation(CHAT, status=int(answer))
    elif answer == 500:
        bf_connector.fail_next(5, 500)
    elif answer == 413:
        bf_connector.message_limit = 1_000  # a reminder card is larger: refused as Teams refuses a large one
    await publish(p, Audience(members=True, platforms=(Platform.TEAMS,)))
    gateway = TeamsGateway(reference_store(p.services), http, None, NO_RETRY)
    worker = OutboxWorker(
        p.outbox,
        {Platform.TEAMS: PlatformDelivery(teams_renderers(p.services.content.translator), gateway)},
        p.posts,
        p.services.clock,
        members=p.members,
        config=WorkerConfig(rate_per_second=1000, backoff_base=0.01, max_attempts=1),
    )
    await worker.drain()
    assert await stored_failures(p) == [("failed", *expected)]
    if answer in (403, 404):
        assert await reference_store(p.services).get(target.address) is None  # the bot was removed


@pytest.mark.parametrize(
    ("answer", "kind", "failure"),
    [
        (403, DeliveryFailureKind.PERMANENT, Failure(FailureCode.TEAMS_REMOVED)),
        (404, DeliveryFailureKind.PERMANENT, Failure(FailureCode.TEAMS_GONE)),
        (429, DeliveryFailureKind.RATE_LIMITED, Failure(FailureCode.TRANSIENT)),
        (500, DeliveryFailureKind.TRANSIENT, Failure(FailureCode.TRANSIENT)),
        ("unreachable", DeliveryFailureKind.TRANSIENT, Failure(FailureCode.TRANSIENT)),
    ],
)
async def test_the_gateway_hands_over_a_code_with_every_failure(
    pipeline: Pipeline,
    bf_connector: BotConnectorDouble,
    http: aiohttp.ClientSession,
    answer: int | str,
    kind: DeliveryFailureKind,
    failure: Failure,
) -> None:
    """A 429 never fails a delivery (the worker pauses and tries again), but carries its code all the same."""
    p = pipeline
    target = await one_person(p, closed_port_url() if answer == "unreachable" else bf_connector.url)
    if answer in (403, 404):
        bf_connector.remove_conversation(CHAT, status=int(answer))
    elif isinstance(answer, int):
        bf_connector.fail_next(1, answer, retry_after=60 if answer == 429 else None)
    post = ReminderPost(p.services.content.catalog.reminders[0], "https://portal.example/linde")
    message = teams_renderers(p.services.content.translator).render(post, "nl")
    with pytest.raises(DeliveryError) as failed:
        await TeamsGateway(reference_store(p.services), http, None, NO_RETRY).send(target, message)
    assert failed.value.kind is kind
    assert failed.value.failure == failure
