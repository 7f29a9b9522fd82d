"""Recording sends in batches (`SqlOutbox.mark_sent_many`), on SQLite and PostgreSQL: every row gets its own
message id, and only rows the worker still holds are changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.domain.delivery import Target, TargetKind
from bot.domain.outreach import Addressee, Delivery, DeliveryStatus, What
from bot.domain.tenancy import Platform
from bot.storage.db import session_factory
from bot.storage.organisations import SqlOrganisationRepository
from bot.storage.outbox import SqlOutbox
from bot.storage.tables_outreach import OutreachDeliveryRow

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


async def queued(engine: AsyncEngine, count: int) -> SqlOutbox:
    """An organisation with one occurrence and `count` pending deliveries, due now."""
    orgs = SqlOrganisationRepository(session_factory(engine))
    org = await orgs.add_organisation("Zorggroep De Linde", "linde", "Europe/Amsterdam", "nl", 90)
    outbox = SqlOutbox(engine)
    occurrence, _ = await outbox.add_occurrence(
        organisation_id=org.id,
        schedule_id=None,
        occurs_at=NOW,
        send_at=NOW,
        what=What.COLUMN,
        item_id="column-1",
        locale="nl",
    )
    people = [
        Addressee(Target(Platform.SLACK, "T0001", TargetKind.PERSON, f"U{i:05d}"), "nl") for i in range(count)
    ]
    assert await outbox.add_deliveries(occurrence, people) == count
    return outbox


async def rows(engine: AsyncEngine) -> dict[UUID, OutreachDeliveryRow]:
    async with session_factory(engine)() as session:
        found = await session.exec(select(OutreachDeliveryRow).order_by(col(OutreachDeliveryRow.address)))
        return {r.id: r for r in found}


def message_ids(claimed: list[Delivery]) -> list[tuple[UUID, str]]:
    return [(d.id, f"D{d.target.address[1:]}/1700000000.{n:06d}") for n, d in enumerate(claimed)]


async def test_a_batch_records_each_row_with_its_own_message_id(engine: AsyncEngine) -> None:
    outbox = await queued(engine, 5)
    claimed = await outbox.claim("w1", NOW, LEASE, 5)
    sent = message_ids(claimed)[:3]
    recorded = await outbox.mark_sent_many("w1", sent, NOW + timedelta(seconds=2))
    assert recorded == {i for i, _ in sent}
    stored = await rows(engine)
    for delivery_id, message_id in sent:
        row = stored[delivery_id]
        assert (row.status, row.message_id, row.claimed_until) == (
            DeliveryStatus.SENT.value,
            message_id,
            None,
        )
        assert row.sent_at is not None
        assert row.sent_at.replace(tzinfo=UTC) == NOW + timedelta(seconds=2)
    untouched = [stored[d.id] for d in claimed[3:]]
    assert [(r.status, r.message_id) for r in untouched] == [(DeliveryStatus.CLAIMED.value, None)] * 2
    assert await outbox.mark_sent_many("w1", [], NOW) == set()


async def test_a_row_claimed_by_another_worker_is_not_overwritten(engine: AsyncEngine) -> None:
    outbox = await queued(engine, 3)
    first = await outbox.claim("w1", NOW, LEASE, 3)
    # w1's lease runs out (it stalled); w2 claims the rows again and records one of them.
    later = NOW + LEASE + timedelta(seconds=1)
    second = await outbox.claim("w2", later, LEASE, 3)
    assert {d.id for d in second} == {d.id for d in first}
    w2_sent = message_ids(second)[:1]
    assert await outbox.mark_sent_many("w2", [(w2_sent[0][0], "w2-message")], later) == {w2_sent[0][0]}

    # The stalled w1 now reports all three: nothing it no longer holds may change.
    recorded = await outbox.mark_sent_many("w1", [(d.id, "w1-message") for d in first], later)
    assert recorded == set()
    stored = await rows(engine)
    assert stored[w2_sent[0][0]].message_id == "w2-message"
    others = [stored[d.id] for d in second[1:]]
    assert [(r.status, r.claimed_by, r.message_id) for r in others] == [
        (DeliveryStatus.CLAIMED.value, "w2", None)
    ] * 2


async def test_a_row_given_back_or_already_recorded_is_left_alone(engine: AsyncEngine) -> None:
    outbox = await queued(engine, 2)
    given_back, recorded_once = await outbox.claim("w1", NOW, LEASE, 2)
    assert await outbox.release(given_back.id, "w1", NOW + timedelta(seconds=30))
    assert await outbox.mark_sent_many("w1", [(recorded_once.id, "first")], NOW) == {recorded_once.id}
    again = await outbox.mark_sent_many("w1", [(given_back.id, "late"), (recorded_once.id, "second")], NOW)
    assert again == set()
    stored = await rows(engine)
    assert (stored[given_back.id].status, stored[given_back.id].message_id) == (
        DeliveryStatus.PENDING.value,
        None,
    )
    assert stored[recorded_once.id].message_id == "first"


async def test_large_batches_are_split_and_unknown_ids_ignored(engine: AsyncEngine) -> None:
    outbox = await queued(engine, 450)
    claimed = await outbox.claim("w1", NOW, LEASE, 450)
    sent = message_ids(claimed)
    recorded = await outbox.mark_sent_many("w1", [*sent, (uuid4(), "nobody")], NOW)
    assert recorded == {i for i, _ in sent}
    stored = await rows(engine)
    assert all(stored[i].message_id == m for i, m in sent)
    assert (await outbox.stats()).sent == 450
