"""What a copy of the database shows about conversations: not whether a name was shared, not the order in which
messages were written across conversations, and only a coarse bucket of a message's length.

And the upgrade: a database written by the previous version (a `mode` column, the shared name as a message of its
own, 512-byte padding) is migrated and its conversations still open, read and continue.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from bot.app import Services
from bot.catalog import ContentLibrary
from bot.domain.clock import FixedClock
from bot.domain.conversations import (
    PAD_TO,
    Author,
    MessageKind,
    Mode,
    Recipient,
)
from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
from bot.security.conversation_keys import ConversationCrypto, new_counsellor_key
from bot.settings import Settings
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from bot.web.portal.channel import ConfidentialChannel, master_key
from tests.portal.support import PASSPHRASE, practice


async def _rows(services: Services, query: str, **params: Any) -> list[Any]:
    async with services.engine.connect() as connection:
        return list((await connection.execute(sa.text(query), params)).all())


async def test_a_copy_cannot_tell_an_anonymous_from_a_pseudonymous_conversation(services: Services) -> None:
    p = await practice(services)
    text = "Er speelt iets in mijn team waar ik het graag over wil hebben."
    await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, text)
    await p.channel.service.start(p.org.id, 90, Mode.PSEUDONYMOUS, text, "Sam de Boer, 06-12345678")
    async with services.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("conversation")}
        )
    assert "mode" not in columns
    shapes = await _rows(
        services,
        "SELECT count(*), min(length(ciphertext)), max(length(ciphertext)) FROM conversation_message "
        "GROUP BY conversation_id",
    )
    assert len(shapes) == 2
    assert shapes[0] == shapes[1]  # as many messages, of the same sizes


async def test_ciphertext_sizes_fall_into_coarse_buckets(services: Services) -> None:
    p = await practice(services)
    for text in ("Ja.", "Ik wil praten. " * 20, "x" * 1900):
        await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, text)
    sizes = {size for (size,) in await _rows(services, "SELECT length(ciphertext) FROM conversation_message")}
    assert len(sizes) == 1, "a word, a paragraph and a page of text look the same"

    from bot.domain.conversations import padded_size  # new with the buckets

    assert padded_size(1) == PAD_TO >= 2048
    assert [padded_size(n) for n in (2048, 2049, 4097, 30_000)] == [2048, 4096, 8192, 32768]


LEAF_TABLES = ("conversation_message", "conversation_share", "conversation_classification", "inbox_unlock")


async def test_no_hidden_row_number_orders_messages_across_conversations(
    services: Services, database_url: str
) -> None:
    p = await practice(services)
    await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Eerste")
    if database_url.startswith("sqlite"):
        for table in LEAF_TABLES:
            with pytest.raises(OperationalError):
                await _rows(services, f"SELECT rowid FROM {table}")  # noqa: S608
        # `conversation` keeps a rowid, drawn at random: not 1, 2, 3 in the order they were started.
        for text in ("Tweede", "Derde"):
            await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, text)
        rowids = [rowid for (rowid,) in await _rows(services, "SELECT rowid FROM conversation")]
        assert len(rowids) == 3
        assert min(rowids) > 2**32
    else:  # no rowids on PostgreSQL; and no sequence-drawn ids either
        kinds = await _rows(
            services,
            "SELECT DISTINCT data_type FROM information_schema.columns WHERE column_name = 'id' "
            "AND table_name IN ('conversation', 'conversation_message', 'conversation_classification', "
            "'inbox_unlock')",
        )
        assert kinds == [("uuid",)]


def _old_payload(kind: MessageKind, text: str) -> bytes:
    """The previous version's plaintext format: JSON padded to a multiple of 512 bytes."""
    data = json.dumps({"k": kind.value, "t": text}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return data + bytes(-len(data) % 512)


async def test_upgrade_keeps_old_conversations_readable_and_drops_their_mode(  # noqa: PLR0915  (one story)
    settings: Settings, content: ContentLibrary, clock: FixedClock, database_url: str
) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "conversations_0001")
        crypto = ConversationCrypto(master_key(settings))
        practice_id, org_id, counsellor_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        material, _unlocked = new_counsellor_key(
            counsellor_id, Secret(PASSPHRASE), INSECURE_TEST_ARGON2_PARAMS
        )
        today = date(2026, 3, 2)
        old: dict[str, tuple[uuid.UUID, Secret[str]]] = {}
        async with engine.begin() as connection:

            async def insert(table: str, **values: Any) -> None:
                columns = ", ".join(values)
                marks = ", ".join(f":{c}" for c in values)
                await connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)  # noqa: S608

            uid = (lambda u: u.hex) if database_url.startswith("sqlite") else (lambda u: u)
            await insert("practice", id=uid(practice_id), name="Praktijk")
            await insert(
                "organisation",
                id=uid(org_id),
                practice_id=uid(practice_id),
                slug="oud",
                name="Oud",
                timezone="Europe/Amsterdam",
                locale="nl",
                retention_days=90,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            await insert(
                "counsellor", id=uid(counsellor_id), practice_id=uid(practice_id), display_name="Mira"
            )
            await insert(
                "organisation_counsellor",
                organisation_id=uid(org_id),
                counsellor_id=uid(counsellor_id),
                role="primary",
            )
            await insert(
                "counsellor_vault",
                counsellor_id=uid(counsellor_id),
                public_key=material.public_key,
                wrapped_private=material.wrapped_private,
                key_created_on=today,
            )
            for mode, messages in (
                ("pseudonymous", [(MessageKind.IDENTITY, "Sam, 06-1234"), (MessageKind.TEXT, "Oud gesprek")]),
                ("anonymous", [(MessageKind.TEXT, "Anoniem oud gesprek")]),
            ):
                conversation_id = uuid.uuid4()
                keys = crypto.new_conversation(
                    conversation_id, [Recipient(counsellor_id, material.public_key)]
                )
                old[mode] = (conversation_id, keys.code)
                await insert(
                    "conversation",
                    id=uid(conversation_id),
                    organisation_id=uid(org_id),
                    receipt_lookup=keys.lookup,
                    public_key=keys.public_key,
                    code_wrapped_key=keys.code_wrapped_key,
                    mode=mode,
                    status="open",
                    started_on=today,
                    last_activity_on=today,
                    expires_on=date(2026, 5, 31),
                    next_sequence=len(messages),
                    unread_for_counsellor=True,
                    unread_for_employee=False,
                )
                await insert(
                    "conversation_share",
                    conversation_id=uid(conversation_id),
                    counsellor_id=uid(counsellor_id),
                    sealed_key=keys.shares[counsellor_id],
                )
                for sequence, (kind, text) in enumerate(messages):
                    sealed = crypto.seal(
                        keys.public_key,
                        _old_payload(kind, text),
                        conversation_id=conversation_id,
                        author=Author.EMPLOYEE,
                        sequence=sequence,
                    )
                    await insert(
                        "conversation_message",
                        id=uid(uuid.uuid4()),
                        conversation_id=uid(conversation_id),
                        sequence=sequence,
                        author="employee",
                        ciphertext=sealed,
                        day=today,
                    )
                await insert(
                    "conversation_classification",
                    id=uid(uuid.uuid4()),
                    organisation_id=uid(org_id),
                    conversation_id=uid(conversation_id),
                    month=date(2026, 3, 1),
                    category="bullying",
                )

        await upgrade(engine)

        upgraded = Services(settings=settings, clock=clock, engine=engine, content=content)
        channel = ConfidentialChannel(
            engine, upgraded.settings, upgraded.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
        )
        key = await channel.unlock(counsellor_id, Secret(PASSPHRASE))
        pseudonymous_id, code = old["pseudonymous"]
        thread = await channel.service.read(
            org_id,
            pseudonymous_id,
            await channel.service.counsellor_key(key, pseudonymous_id),
            Author.COUNSELLOR,
        )
        assert [(m.kind, m.text) for m in thread.messages] == [
            (MessageKind.IDENTITY, "Sam, 06-1234"),
            (MessageKind.TEXT, "Oud gesprek"),
        ]
        assert thread.mode is Mode.PSEUDONYMOUS
        anonymous_id, _ = old["anonymous"]
        anonymous = await channel.service.read(
            org_id, anonymous_id, await channel.service.counsellor_key(key, anonymous_id), Author.COUNSELLOR
        )
        assert anonymous.mode is Mode.ANONYMOUS
        # The employee comes back with the old code and goes on where the conversation was.
        found, employee_key = await channel.service.access(org_id, code)
        assert found == pseudonymous_id
        assert await channel.service.write(org_id, 90, pseudonymous_id, Author.EMPLOYEE, "Nog iets", 2) == 3
        again = await channel.service.read(org_id, pseudonymous_id, employee_key, Author.EMPLOYEE)
        assert [m.text for m in again.messages][-1] == "Nog iets"
        counts = await channel.store.classification_counts(org_id, date(2026, 3, 1), date(2026, 4, 1))
        assert [(c.category, c.count) for c in counts] == [("bullying", 2)]
        if database_url.startswith("sqlite"):
            with pytest.raises(OperationalError):
                await _rows(upgraded, "SELECT rowid FROM conversation_message")
            rowids = [rowid for (rowid,) in await _rows(upgraded, "SELECT rowid FROM conversation")]
            assert min(rowids) > 2**32  # the old conversations' row numbers, 1 and 2, were redrawn
    finally:
        await engine.dispose()
