"""The audit log: every console action listed in the issue is recorded, with who and where, never content."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlmodel import select

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.conversations import Mode
from bot.storage.tables_console import ConsoleAuditRow
from bot.usecases.audit import (
    CONVERSATION_ACTIONS,
    AuditAction,
    AuditLog,
    AuditQuery,
    MemoryAuditStore,
)
from bot.web.portal.maintenance import run_once
from tests.console.helpers import csrf_from, make_person, sign_in
from tests.inbox.support import INBOX, counsellor_with_key, unlock

CANARY = "kanarie-7f3a9c-geheim"


async def audit_rows(services: Services) -> list[ConsoleAuditRow]:
    async with services.sessions() as session:
        return list((await session.exec(select(ConsoleAuditRow).order_by(ConsoleAuditRow.id))).all())


async def test_every_console_action_is_recorded_and_no_content(
    client: TestClient, services: Services, clock: FixedClock, database_url: str
) -> None:
    admin = await make_person(services, Role.ADMIN, "beheer@vp.test")
    person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    conversation_id, _code = await channel.service.start(
        org.id, 90, Mode.PSEUDONYMOUS, f"Er wordt gepest. {CANARY}", f"Sam {CANARY}"
    )

    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde") == 200
    here = f"{INBOX('de-linde')}/{conversation_id}"
    html = await (await client.get(here)).text()
    token = csrf_from(html)
    after = re.search(r'name="after" value="(\d+)"', html)
    assert after
    await client.post(
        f"{here}/reply", data={"csrf_token": token, "text": f"Vertel. {CANARY}", "after": after.group(1)}
    )
    await client.post(
        f"{here}/classify",
        data={"csrf_token": token, "category": "bullying", "contact_type": "advice", "follow_up": ""},
    )
    await client.post(f"{here}/label", data={"csrf_token": token, "label": f"pesten {CANARY}"})
    await client.post(f"{here}/whistleblowing", data={"csrf_token": token, "duty": "acknowledge"})
    await client.post(f"{here}/status", data={"csrf_token": token, "status": "closed"})
    report = await client.get("/console/o/de-linde/report.pdf")
    assert report.status == 200
    page = await client.get("/console/o/de-linde")
    await client.post(
        "/console/o/de-linde/groups",
        data={"csrf_token": csrf_from(await page.text()), "name": "Zorg", "kind": "department"},
    )
    logout = await client.get("/console/")
    await client.post("/console/logout", data={"csrf_token": csrf_from(await logout.text())})

    await sign_in(client, admin, clock)
    accounts = await client.get("/console/accounts")
    invited = await client.post(
        "/console/accounts/invite",
        data={
            "csrf_token": csrf_from(await accounts.text()),
            "email": "hr@linde.test",
            "role": "viewer",
            "organisation": str(org.id),
        },
    )
    assert invited.status == 200
    new_form = await client.get("/console/organisations/new")
    created = await client.post(
        "/console/organisations/new",
        data={
            "csrf_token": csrf_from(await new_form.text()),
            "name": "Nieuwe Klant",
            "slug": "",
            "timezone": "Europe/Amsterdam",
            "locale": "nl",
        },
    )
    assert created.status == 200

    rows = await audit_rows(services)
    done = [(r.actor_account_id, r.action, r.organisation_id) for r in rows]
    mira, beheer = person.account.id, admin.account.id
    for action in (
        AuditAction.SIGNED_IN,
        AuditAction.UNLOCKED,
        AuditAction.REPLIED,
        AuditAction.CLASSIFIED,
        AuditAction.CONVERSATION_LABELLED,
        AuditAction.CONVERSATION_STATUS,
        AuditAction.WHISTLEBLOWING_DUTY,
        AuditAction.EXPORTED,
        AuditAction.SETTINGS_CHANGED,
        AuditAction.SIGNED_OUT,
    ):
        expected_org = None if action in {AuditAction.SIGNED_IN, AuditAction.SIGNED_OUT} else org.id
        assert (mira, action.value, expected_org) in done, action
    assert (beheer, AuditAction.SIGNED_IN.value, None) in done
    assert (beheer, AuditAction.INVITED.value, org.id) in done
    assert [r.subject for r in rows if r.action == AuditAction.ORGANISATION_CREATED.value] == ["organisation"]
    # Conversations are named by kind only; times are kept to the minute, and to the day for conversations.
    assert {r.subject for r in rows if r.action == AuditAction.REPLIED.value} == {"conversation"}
    assert all(r.at.second == 0 and r.at.microsecond == 0 for r in rows)
    for row in rows:
        if AuditAction(row.action) in CONVERSATION_ACTIONS:
            assert (row.at.hour, row.at.minute) == (0, 0), row.action
    assert str(conversation_id) not in {r.subject for r in rows}

    # No content anywhere in the table, nor in the database file (SQLite: the file and its write-ahead log).
    for row in rows:
        assert CANARY not in repr(row.model_dump())
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                assert CANARY.encode() not in part.read_bytes()


async def test_the_audit_page_is_for_administrators_filters_and_pages(
    client: TestClient, services: Services, clock: FixedClock
) -> None:
    admin = await make_person(services, Role.ADMIN, "beheer@vp.test")
    person, _channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    other = await services.organisations.add_organisation("Noord", "noord", "Europe/Amsterdam", "nl", 90)
    for _ in range(60):  # replies are kept once a day: one a day for 60 days
        await services.audit.record(person.account.id, AuditAction.REPLIED, org.id, "conversation")
        clock.advance(timedelta(days=1))
    await services.audit.record(person.account.id, AuditAction.EXPORTED, other.id, "report:2026-h1")

    await sign_in(client, person, clock)
    assert (await client.get("/console/audit", allow_redirects=False)).status == 403
    await sign_in(client, admin, clock)
    first = await (await client.get("/console/audit")).text()
    assert "rapportage gedownload" in first  # newest first
    assert 'rel="next"' in first
    replies = await (await client.get("/console/audit?action=replied")).text()
    assert replies.count("antwoord verstuurd</td>") == 50
    assert replies.count("(per dag)") == 50  # a day, no time: the day entries of conversations
    assert " UTC</time>" not in replies
    second = await (await client.get("/console/audit?action=replied&page=2")).text()
    assert second.count("antwoord verstuurd</td>") == 10
    assert 'rel="next"' not in second
    assert 'rel="prev"' in second
    only = await (await client.get(f"/console/audit?action=exported&organisation={other.id}")).text()
    assert only.count("<tr>") == 2  # the head and one entry
    assert "Noord" in only
    wrong = await client.get("/console/audit?action=nonsense&organisation=x&page=-3")
    assert wrong.status == 200


async def test_a_subject_is_an_id_or_a_kind_never_text(services: Services) -> None:
    with pytest.raises(ValueError, match="never text"):
        await services.audit.record(None, AuditAction.REPLIED, None, "Er wordt gepest in mijn team")
    assert await audit_rows(services) == []


async def test_entries_older_than_the_retention_are_purged(services: Services, clock: FixedClock) -> None:
    log = AuditLog(services.audit.store, clock, retention_days=30)
    await log.record(None, AuditAction.SIGNED_IN)
    clock.advance(timedelta(days=20))
    await log.record(None, AuditAction.SIGNED_OUT)
    clock.advance(timedelta(days=11))
    assert await log.purge() == 1
    assert [r.action for r in await audit_rows(services)] == ["signed_out"]
    assert await log.purge() == 0


async def test_the_memory_fake_behaves_like_the_table(clock: FixedClock) -> None:
    log = AuditLog(MemoryAuditStore(), clock, retention_days=1)
    await log.record(None, AuditAction.SIGNED_IN)
    await log.record(None, AuditAction.INVITED)
    page = await log.list(AuditQuery(action=AuditAction.INVITED))
    assert [e.action for e in page.entries] == [AuditAction.INVITED]
    clock.advance(timedelta(days=2))
    assert await log.purge() == 2


def database_files(database_url: str) -> list[bytes]:
    """SQLite: the database file and its write-ahead log, as a copy of the data folder would hold them."""
    if not database_url.startswith("sqlite"):
        return []
    path = Path(database_url.split("///", 1)[1])
    return [part.read_bytes() for part in (path, path.with_name(path.name + "-wal")) if part.exists()]


async def test_actions_on_a_conversation_do_not_outlive_its_retention(
    client: TestClient, services: Services, clock: FixedClock, database_url: str
) -> None:
    """A reply logged with its organisation and minute for a year would date the conversation long after it is
    gone. Kept by day, once, and purged with the organisation's conversation retention, it leaves nothing."""
    person, channel, org = await counsellor_with_key(services, "de-linde", "mira@vp.test")
    async with services.engine.begin() as connection:
        await connection.execute(text("UPDATE organisation SET retention_days = 30 WHERE slug = 'de-linde'"))
    conversation_id, _code = await channel.service.start(org.id, 30, Mode.ANONYMOUS, "Er wordt gepest.", None)
    clock.advance(timedelta(hours=13, minutes=37))
    await sign_in(client, person, clock)
    assert await unlock(client, "de-linde") == 200
    here = f"{INBOX('de-linde')}/{conversation_id}"
    for answer in ("Vertel.", "Ben je er nog?"):
        html = await (await client.get(here)).text()
        after = re.search(r'name="after" value="(\d+)"', html)
        assert after
        replied = await client.post(
            f"{here}/reply", data={"csrf_token": csrf_from(html), "text": answer, "after": after.group(1)}
        )
        assert replied.status == 200
        clock.advance(timedelta(minutes=7))
    html = await (await client.get(here)).text()
    await client.post(f"{here}/label", data={"csrf_token": csrf_from(html), "label": "pesten"})

    rows = await audit_rows(services)
    day = clock.now().replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    replies = [r for r in rows if r.action == AuditAction.REPLIED.value]
    assert [(r.at.replace(tzinfo=None), r.organisation_id, r.subject) for r in replies] == [
        (day, org.id, "conversation")
    ]  # two replies, one entry, by day
    assert {r.action for r in rows} >= {"signed_in", "unlocked", "replied", "conversation_labelled"}

    # Past the organisation's retention (30 days, the audit log's is 365): the conversation expires, and with it
    # every trace in the audit log that something happened in one that day; the sign-in stays.
    clock.advance(timedelta(days=31))
    await run_once(services)
    async with services.engine.connect() as connection:
        left = (await connection.execute(text("SELECT count(*) FROM conversation"))).scalar_one()
    assert left == 0
    rows = await audit_rows(services)
    assert [r.action for r in rows if AuditAction(r.action) in CONVERSATION_ACTIONS] == []
    assert [r.action for r in rows] == ["signed_in"]
    for content in database_files(database_url):
        for action in ("replied", "conversation_labelled"):
            assert action.encode() not in content, action


async def test_a_conversation_action_names_a_kind_and_an_organisation(
    services: Services, clock: FixedClock
) -> None:
    org = await services.organisations.add_organisation("Linde", "linde", "Europe/Amsterdam", "nl", 90)
    with pytest.raises(ValueError, match="never an id"):
        await services.audit.record(None, AuditAction.REPLIED, org.id, "3f1c2a9e-5b7d-4e0a-9c1b-2d3e4f5a6b7c")
    with pytest.raises(ValueError, match="never an id"):
        await services.audit.record(None, AuditAction.CLASSIFIED, None, "conversation")
    assert await audit_rows(services) == []


async def test_conversation_actions_follow_each_organisations_retention(clock: FixedClock) -> None:
    short, long, gone = uuid4(), uuid4(), uuid4()
    log = AuditLog(MemoryAuditStore(), clock, retention_days=60)
    for organisation in (short, long, gone):
        await log.record(None, AuditAction.REPLIED, organisation, "conversation")
        await log.record(None, AuditAction.SETTINGS_CHANGED, organisation, "groups")
    clock.advance(timedelta(days=10))
    retention = {short: 10, long: 400}
    assert await log.purge(retention) == 2  # the short organisation's reply, and every one of an erased one
    assert await log.purge(retention) == 0
    clock.advance(timedelta(days=49))  # day 59: the audit retention (60) caps the longer one minus a day
    assert await log.purge(retention) == 1
    left = (await log.list(AuditQuery())).entries
    assert sorted(e.action.value for e in left) == ["settings_changed"] * 3
    clock.advance(timedelta(days=2))
    assert await log.purge(retention) == 3
