"""The confidential channel end to end through real storage and real keys (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.conversations import (
    Author,
    Classification,
    ConversationNotFoundError,
    DamagedMessageError,
    MessageKind,
    Mode,
    NoCounsellorError,
    StaleWriteError,
    Status,
    WhistleblowingClock,
)
from bot.security import Secret, WrongPassphraseError
from tests.portal.support import DEPUTY_PASSPHRASE, PASSPHRASE, practice


async def test_employee_and_both_counsellors_hold_a_conversation(services: Services) -> None:
    p = await practice(services)
    service = p.channel.service
    conv_id, code = await service.start(
        p.org.id, 90, Mode.PSEUDONYMOUS, "Ik wil iets bespreken.", "Sam, 06-1234"
    )
    assert len(code.reveal().replace("-", "")) == 20

    counsellor = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    key = await service.counsellor_key(counsellor, conv_id)
    thread = await service.read(p.org.id, conv_id, key, Author.COUNSELLOR)
    assert [(m.kind, m.text) for m in thread.messages] == [
        (MessageKind.IDENTITY, "Sam, 06-1234"),
        (MessageKind.TEXT, "Ik wil iets bespreken."),
    ]
    assert thread.mode is Mode.PSEUDONYMOUS
    assert thread.summary.unread_for_counsellor
    # The shared name travels inside the one opening message: the next message is number 1, as when anonymous.
    await service.write(p.org.id, 90, conv_id, Author.COUNSELLOR, "Welkom, vertel.", 1)

    deputy = await p.channel.unlock(p.deputy_id, Secret(DEPUTY_PASSPHRASE))
    deputy_thread = await service.read(
        p.org.id, conv_id, await service.counsellor_key(deputy, conv_id), Author.COUNSELLOR
    )
    assert deputy_thread.messages[-1].text == "Welkom, vertel."

    # The employee returns with the code as typed, reads the reply and answers.
    typed = code.reveal().lower().replace("-", " ")
    found_id, employee_key = await service.access(p.org.id, typed)
    assert found_id == conv_id
    thread = await service.read(p.org.id, conv_id, employee_key, Author.EMPLOYEE)
    assert thread.messages[-1].author is Author.COUNSELLOR
    assert thread.summary.unread_for_employee
    assert await service.write(p.org.id, 90, conv_id, Author.EMPLOYEE, "Dank je.", 2) == 3
    again = await service.read(p.org.id, conv_id, employee_key, Author.EMPLOYEE)
    assert not again.summary.unread_for_employee
    assert again.summary.unread_for_counsellor


async def test_wrong_code_wrong_passphrase_and_other_organisation_are_refused(services: Services) -> None:
    p = await practice(services)
    other = await services.organisations.add_organisation("Ander", "ander", "Europe/Amsterdam", "nl", 90)
    conv_id, code = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Hallo")
    with pytest.raises(ConversationNotFoundError):
        await p.channel.service.access(p.org.id, "0000-0000-0000-0000-0000")
    with pytest.raises(ConversationNotFoundError):
        await p.channel.service.access(p.org.id, "not a code")
    with pytest.raises(ConversationNotFoundError):
        await p.channel.service.access(other.id, code)
    with pytest.raises(WrongPassphraseError):
        await p.channel.unlock(p.counsellor_id, Secret("wrong passphrase"))
    # Nothing was lost on the way.
    found, key = await p.channel.service.access(p.org.id, code)
    assert (await p.channel.service.read(p.org.id, found, key, Author.EMPLOYEE)).messages[0].text == "Hallo"
    assert found == conv_id


async def test_no_counsellor_means_no_conversation(services: Services) -> None:
    org = await services.organisations.add_organisation("Leeg", "leeg", "Europe/Amsterdam", "nl", 90)
    p = await practice(services)
    with pytest.raises(NoCounsellorError):
        await p.channel.service.start(org.id, 90, Mode.ANONYMOUS, "Hallo")


async def test_replayed_form_is_refused_and_nothing_is_stored_twice(services: Services) -> None:
    p = await practice(services)
    conv_id, code = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Eerste")
    await p.channel.service.write(p.org.id, 90, conv_id, Author.EMPLOYEE, "Tweede", 1)
    with pytest.raises(StaleWriteError):
        await p.channel.service.write(p.org.id, 90, conv_id, Author.EMPLOYEE, "Tweede", 1)
    with pytest.raises(StaleWriteError):
        await p.channel.service.write(p.org.id, 90, conv_id, Author.EMPLOYEE, "Vooruit", 5)
    _, key = await p.channel.service.access(p.org.id, code)
    thread = await p.channel.service.read(p.org.id, conv_id, key, Author.EMPLOYEE)
    assert [m.text for m in thread.messages] == ["Eerste", "Tweede"]


async def _swap(services: Services, conv_id: object, a: int, b: int) -> None:
    async with services.engine.begin() as connection:
        rows = (
            await connection.execute(
                text("SELECT sequence, ciphertext FROM conversation_message WHERE conversation_id = :c"),
                {
                    "c": conv_id
                    if services.settings.effective_database_url.startswith("postgres")
                    else conv_id.hex
                },  # type: ignore[attr-defined]
            )
        ).all()
        blobs = {r[0]: r[1] for r in rows}
        for seq, other in ((a, b), (b, a)):
            await connection.execute(
                text(
                    "UPDATE conversation_message SET ciphertext = :x WHERE sequence = :s AND conversation_id = :c"
                ),
                {
                    "x": blobs[other],
                    "s": seq,
                    "c": conv_id
                    if services.settings.effective_database_url.startswith("postgres")
                    else conv_id.hex,
                },  # type: ignore[attr-defined]
            )


async def test_reordered_replayed_or_tampered_ciphertext_is_refused_and_the_rest_survives(
    services: Services,
) -> None:
    p = await practice(services)
    service = p.channel.service
    conv_id, code = await service.start(p.org.id, 90, Mode.ANONYMOUS, "Een")
    await service.write(p.org.id, 90, conv_id, Author.EMPLOYEE, "Twee", 1)
    _, key = await service.access(p.org.id, code)

    await _swap(services, conv_id, 0, 1)  # reorder in storage
    with pytest.raises(DamagedMessageError):
        await service.read(p.org.id, conv_id, key, Author.EMPLOYEE)
    await _swap(services, conv_id, 0, 1)  # put back: readable again, nothing lost
    assert [m.text for m in (await service.read(p.org.id, conv_id, key, Author.EMPLOYEE)).messages] == [
        "Een",
        "Twee",
    ]

    store = p.channel.store
    stored = await store.messages(conv_id)
    tampered = bytearray(stored[1].ciphertext)
    tampered[-1] ^= 1
    is_pg = services.settings.effective_database_url.startswith("postgres")
    async with services.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE conversation_message SET ciphertext = :x WHERE sequence = 1 AND conversation_id = :c"
            ),
            {"x": bytes(tampered), "c": conv_id if is_pg else conv_id.hex},
        )
    with pytest.raises(DamagedMessageError):
        await service.read(p.org.id, conv_id, key, Author.EMPLOYEE)
    # A replay: the first message copied into the second place does not open there either.
    async with services.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE conversation_message SET ciphertext = :x WHERE sequence = 1 AND conversation_id = :c"
            ),
            {"x": stored[0].ciphertext, "c": conv_id if is_pg else conv_id.hex},
        )
    with pytest.raises(DamagedMessageError):
        await service.read(p.org.id, conv_id, key, Author.EMPLOYEE)
    # The untouched message still opens on its own.
    assert key.open(stored[0].ciphertext, conversation_id=conv_id, author=Author.EMPLOYEE, sequence=0)


def _id_column(table: str) -> str:
    return "id" if table == "conversation" else "conversation_id"


async def test_expiry_destroys_messages_and_keys_but_keeps_the_classification(
    services: Services, clock: FixedClock
) -> None:
    p = await practice(services)
    service = p.channel.service
    conv_id, code = await service.start(p.org.id, 30, Mode.ANONYMOUS, "Hallo")
    keep_id, keep_code = await service.start(p.org.id, 30, Mode.ANONYMOUS, "Blijf")
    await p.channel.store.classify(
        p.org.id, conv_id, Classification("bullying", "advice", "mediation"), clock.now().date()
    )
    clock.advance(timedelta(days=20))
    await service.write(p.org.id, 30, keep_id, Author.EMPLOYEE, "Nog steeds", 1)  # activity moves expiry on
    clock.advance(timedelta(days=11))
    assert await p.channel.expire() == 1
    with pytest.raises(ConversationNotFoundError):
        await service.access(p.org.id, code)
    await service.access(p.org.id, keep_code)
    async with services.engine.connect() as connection:
        for table in ("conversation_message", "conversation_share", "conversation"):
            count = (
                await connection.execute(
                    text(
                        f"SELECT count(*) FROM {table} WHERE {_id_column(table)} = :c"  # noqa: S608
                    ),
                    {
                        "c": conv_id
                        if services.settings.effective_database_url.startswith("postgres")
                        else conv_id.hex
                    },
                )
            ).scalar_one()
            assert count == 0, table
    counts = await p.channel.store.classification_counts(p.org.id, date(2026, 3, 1), date(2026, 4, 1))
    assert sorted(((c.category, c.contact_type, c.follow_up, c.count) for c in counts), key=str) == [
        ("bullying", "advice", "mediation", 1),
        (None, None, None, 1),
    ]


async def test_employee_deletes_and_key_rotation_reseals(services: Services) -> None:
    p = await practice(services)
    service = p.channel.service
    conv_id, _code = await service.start(p.org.id, 90, Mode.ANONYMOUS, "Hallo")
    gone_id, gone_code = await service.start(p.org.id, 90, Mode.ANONYMOUS, "Weg ermee")
    await service.delete(p.org.id, gone_id)
    with pytest.raises(ConversationNotFoundError):
        await service.access(p.org.id, gone_code)

    assert (
        await p.channel.rotate_key(p.counsellor_id, Secret(PASSPHRASE), Secret("a brand new passphrase")) == 1
    )
    with pytest.raises(WrongPassphraseError):
        await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    fresh = await p.channel.unlock(p.counsellor_id, Secret("a brand new passphrase"))
    thread = await service.read(
        p.org.id, conv_id, await service.counsellor_key(fresh, conv_id), Author.COUNSELLOR
    )
    assert thread.messages[0].text == "Hallo"


async def test_a_deputy_added_later_gets_access_when_a_colleague_unlocks(services: Services) -> None:
    p = await practice(services, deputy=False)
    conv_id, _code = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Hallo")
    from bot.domain.tenancy import CounsellorRole

    late = await p.channel.add_counsellor(
        p.org.id, "Late", None, Secret("late passphrase"), CounsellorRole.DEPUTY
    )
    late_key = await p.channel.unlock(late, Secret("late passphrase"))
    with pytest.raises(ConversationNotFoundError):
        await p.channel.service.counsellor_key(late_key, conv_id)
    assert (
        await p.channel.share_with_colleagues(await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE)))
        == 1
    )
    key = await p.channel.service.counsellor_key(late_key, conv_id)
    assert (await p.channel.service.read(p.org.id, conv_id, key, Author.COUNSELLOR)).messages[
        0
    ].text == "Hallo"


async def test_closing_stops_writes_and_whistleblowing_starts_the_clock(
    services: Services, clock: FixedClock
) -> None:
    p = await practice(services)
    conv_id, _ = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Hallo")
    # The clock runs from the conversation's first message (2 March), not from the day it was classified.
    await p.channel.store.classify(
        p.org.id, conv_id, Classification("integrity", "advice", "whistleblowing-report"), date(2026, 3, 20)
    )
    summary = await p.channel.store.get(p.org.id, conv_id)
    assert summary.whistleblowing == WhistleblowingClock(date(2026, 3, 2))
    assert summary.whistleblowing.acknowledge_by == date(2026, 3, 9)
    assert summary.whistleblowing.feedback_by == date(2026, 6, 2)
    assert summary.whistleblowing.due(date(2026, 3, 10)) == [
        ("acknowledge", date(2026, 3, 9), True),
        ("feedback", date(2026, 6, 2), False),
    ]
    await p.channel.store.set_status(p.org.id, conv_id, Status.CLOSED)
    from bot.domain.conversations import ConversationClosedError

    with pytest.raises(ConversationClosedError):
        await p.channel.service.write(p.org.id, 90, conv_id, Author.EMPLOYEE, "Nog iets", 1)


async def test_erased_key_material_leaves_the_database_file(services: Services, database_url: str) -> None:
    p = await practice(services)
    service = p.channel.service
    doomed_id, _code = await service.start(p.org.id, 90, Mode.ANONYMOUS, "Weg")
    kept_id, _kept = await service.start(p.org.id, 90, Mode.ANONYMOUS, "Blijft")
    store = p.channel.store
    async with services.engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT public_key, code_wrapped_key, receipt_lookup FROM conversation WHERE id = :c"),
                {"c": doomed_id if database_url.startswith("postgres") else doomed_id.hex},
            )
        ).one()
    secrets = [
        row[1],
        row[2],
        await store.share(doomed_id, p.counsellor_id),
        (await store.messages(doomed_id))[0].ciphertext,
    ]
    kept = [await store.share(kept_id, p.counsellor_id)]
    await service.delete(p.org.id, doomed_id)
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        raw = b"".join(f.read_bytes() for f in (path, Path(f"{path}-wal")) if f.exists())
        assert kept[0][:64] in raw  # what is still there can be found
        for blob in secrets:
            assert blob[:64] not in raw
            assert blob[-64:] not in raw
    else:
        dump = await _all_rows(services)
        assert kept[0].hex()[:64] in dump
        for blob in secrets:
            assert blob.hex()[:64] not in dump


async def _all_rows(services: Services) -> str:
    async with services.engine.connect() as connection:
        names = await connection.run_sync(lambda sync: sync.dialect.get_table_names(sync))
        parts = []
        for name in names:
            rows = (await connection.execute(text(f'SELECT * FROM "{name}"'))).all()  # noqa: S608
            parts.append(" ".join(v.hex() if isinstance(v, bytes) else str(v) for r in rows for v in r))
    return "\n".join(parts)


def test_payloads_are_padded_so_sizes_say_little() -> None:
    from bot.domain.conversations import PAD_TO, decode_payload, encode_payload

    short, longer = encode_payload(MessageKind.TEXT, "Ja."), encode_payload(MessageKind.TEXT, "Ja. " * 100)
    assert len(short) == PAD_TO
    assert len(longer) % PAD_TO == 0
    assert len(encode_payload(MessageKind.TEXT, "x" * 300)) == len(short)
    assert decode_payload(short) == (MessageKind.TEXT, "Ja.")
    assert decode_payload(encode_payload(MessageKind.IDENTITY, "Zoë\n")) == (MessageKind.IDENTITY, "Zoë\n")


async def test_a_shorter_retention_of_the_organisation_applies_at_once(
    services: Services, clock: FixedClock
) -> None:
    p = await practice(services)
    service = p.channel.service
    old_id, _ = await service.start(p.org.id, 90, Mode.ANONYMOUS, "Oud")
    clock.advance(timedelta(days=20))
    fresh_id, _ = await service.start(p.org.id, 90, Mode.ANONYMOUS, "Nieuw")
    async with services.engine.begin() as connection:
        await connection.execute(text("UPDATE organisation SET retention_days = 14"))
    clock.advance(timedelta(days=1))
    assert await p.channel.expire() == 1
    with pytest.raises(ConversationNotFoundError):
        await p.channel.store.get(p.org.id, old_id)
    assert (await p.channel.store.get(p.org.id, fresh_id)).expires_on == date(2026, 3, 22) + timedelta(
        days=14
    )
