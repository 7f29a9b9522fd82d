"""Organisation settings in the console, and offboarding: the reports exported, then the organisation erased
with its keys — checked against every table, generically, so a table added later is checked too."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from uuid import UUID

from aiohttp.test_utils import TestClient
from sqlalchemy import Table, and_, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.content import SocialMapEntry, Text
from bot.domain.conversations import Mode
from bot.domain.tenancy import Organisation
from bot.security import INSECURE_TEST_ARGON2_PARAMS
from bot.security.secret import Secret
from bot.storage.metadata import target_metadata
from bot.storage.practice import SqlPracticeStore
from bot.storage.slack_installations import SqlSlackInstallations
from bot.usecases.audit import AuditAction, AuditQuery
from bot.web.portal.channel import ConfidentialChannel
from tests.conftest import TEST_SECRET_KEY
from tests.console.helpers import csrf_from, make_person, seed_organisation, seed_pulse_round, sign_in


async def form(client: TestClient, path: str, data: dict[str, str], page: str) -> str:
    token = csrf_from(await (await client.get(page)).text())
    response = await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)
    assert response.status == 303, await response.text()
    return response.headers["Location"]


async def test_settings_change_the_organisation_and_write_management_viewers(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@linde.test", org_a.id)
    channel = ConfidentialChannel(
        console_services.engine, console_services.settings, clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    await channel.add_counsellor(org_a.id, "VP", "vp@linde.test", Secret("een wachtwoordzin voor de test"))
    conversation, _code = await channel.service.start(org_a.id, 90, Mode.ANONYMOUS, "Hallo")
    assert (await channel.store.get(org_a.id, conversation)).expires_on == clock.now().date() + timedelta(
        days=90
    )
    await sign_in(client, counsellor, clock)
    page = "/console/o/de-linde/settings"
    html = await (await client.get(page)).text()
    assert 'href="/console/o/de-linde/settings"' in html  # in the organisation's menu

    general = {
        "name": "Zorggroep De Linde BV",
        "locale": "en",
        "timezone": "Europe/Brussels",
        "retention_days": "120",
    }
    assert await form(client, page, general, page) == page + "?done=general"
    changed = await console_services.organisations.get_organisation("de-linde")
    assert (changed.name, changed.locale, changed.timezone, changed.retention_days) == (
        "Zorggroep De Linde BV",
        "en",
        "Europe/Brussels",
        120,
    )
    assert "Zorggroep De Linde BV" in await (await client.get(page)).text()  # not a stale cached name
    # the new retention holds for the conversation there is, counted from its last activity
    assert (await channel.store.get(org_a.id, conversation)).expires_on == clock.now().date() + timedelta(
        days=120
    )
    for wrong, code in (
        ({**general, "timezone": "Mars/Olympus"}, "timezone_unknown"),
        ({**general, "retention_days": "3"}, "retention_range"),
        ({**general, "name": " "}, "name_missing"),
    ):
        location = await form(client, page, wrong, page)
        assert location == f"{page}?error={code}"
        assert 'role="alert"' in await (await client.get(location)).text()
    assert (await console_services.organisations.get_organisation("de-linde")).retention_days == 120

    viewers = page + "/viewers"
    await form(
        client,
        viewers,
        {
            "name": "Hanna (HR)",
            "email": "hanna@linde.test",
            "platform": "slack",
            "platform_user_id": "U0HANNA",
        },
        page,
    )
    await form(
        client, viewers, {"name": "OR-voorzitter", "email": "", "platform": "", "platform_user_id": ""}, page
    )
    store = SqlPracticeStore(console_services.sessions)
    found = await store.viewers(org_a.id)
    assert [(v.display_name, v.platform, v.platform_user_id) for v in found] == [
        ("Hanna (HR)", "slack", "U0HANNA"),
        ("OR-voorzitter", None, None),
    ]
    await form(
        client, page + "/management", {"platform": "slack", "workspace": "T0LINDE", "channel": "C0MT"}, page
    )
    assert [
        (c.platform, c.workspace_id, c.channel_id) for c in await store.management_channels(org_a.id)
    ] == [("slack", "T0LINDE", "C0MT")]
    # the management DMs and channel now reach these people (the pulses feature reads the same rows)
    from bot.storage.pulses import SqlPulseStore, master_key_from

    await SqlSlackInstallations(console_services.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org_a.id, "T0LINDE"
    )
    targets = await SqlPulseStore(
        console_services.engine, master_key_from(TEST_SECRET_KEY)
    ).management_targets(org_a.id)
    assert {t.address for t in targets} == {"C0MT", "U0HANNA"}
    await form(client, viewers + "/remove", {"viewer": str(found[0].id)}, page)
    assert [v.display_name for v in await store.viewers(org_a.id)] == ["OR-voorzitter"]
    logged = (await console_services.audit.list(AuditQuery(action=AuditAction.SETTINGS_CHANGED))).entries
    assert [e.subject for e in reversed(logged)] == [
        "general",
        "management_viewers",
        "management_viewers",
        "management_channel",
        "management_viewers",
    ]
    assert {(e.actor_account_id, e.organisation_id) for e in logged} == {(counsellor.account.id, org_a.id)}


async def _rows_of(engine: AsyncEngine, table: Table, organisation_id: UUID) -> int:
    async with engine.connect() as connection:
        return int(
            (
                await connection.execute(
                    select(func.count()).select_from(table).where(table.c.organisation_id == organisation_id)
                )
            ).scalar_one()
        )


async def _dangling(engine: AsyncEngine) -> list[str]:
    """Rows whose foreign key points at a row that is gone, in every table of the schema."""
    found = []
    async with engine.connect() as connection:
        for table in target_metadata().sorted_tables:
            for fk in table.foreign_keys:
                target = fk.column.table.alias("target").c[fk.column.name]  # an alias: self-references too
                child = fk.parent
                missing = (
                    select(func.count())
                    .select_from(table)
                    .where(
                        and_(
                            child.is_not(None),
                            ~select(target).where(target == child).exists(),
                        )
                    )
                )
                if (await connection.execute(missing)).scalar_one():
                    found.append(f"{table.name}.{child.name}")
    return found


async def _cells(engine: AsyncEngine) -> str:
    """Every value in every table as one text, to look for anything that names the organisation."""
    parts = []
    async with engine.connect() as connection:
        for table in target_metadata().sorted_tables:
            for row in (await connection.execute(select(table))).all():
                for value in row:
                    parts.append(value.hex if isinstance(value, UUID) else repr(value))
    return "\n".join(parts)


async def test_offboarding_exports_the_reports_then_leaves_nothing_of_the_organisation(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    services = console_services
    leaving = await seed_organisation(services, org_a, "vp@linde.test")
    staying = await seed_organisation(services, org_b, "vp@noord.test")
    for org in (org_a, org_b):
        await seed_pulse_round(services, org.id, {"team-noord": 6}, clock.now() - timedelta(days=20))
        await SqlSlackInstallations(services.sessions, Secret(TEST_SECRET_KEY.encode())).link(
            org.id, f"T-{org.slug}"
        )
        store = SqlPracticeStore(services.sessions)
        await store.add_viewer(org.id, f"MT {org.slug}", f"mt@{org.slug}.test", "slack", f"U-{org.slug}")
        await store.save_social_entry(
            org.id, SocialMapEntry("hr", "internal", Text("HR", "HR"), Text("", ""), phone="0201234567")
        )
        await make_person(services, Role.VIEWER, f"viewer@{org.slug}.test", org.id)
    tables = [t for t in target_metadata().sorted_tables if "organisation_id" in t.columns]
    assert len(tables) > 20
    before_other = {t.name: await _rows_of(services.engine, t, org_b.id) for t in tables}
    before = {t.name: await _rows_of(services.engine, t, org_a.id) for t in tables}
    assert sum(1 for count in before.values() if count) >= 14, before  # the seed reaches most tables

    admin = await make_person(services, Role.ADMIN, "beheer@praktijk.test")
    await sign_in(client, admin, clock)
    page = await (await client.get("/console/o/de-linde/offboarding")).text()
    assert "gesprek, met berichten en sleutels" in page  # the confirmation names what goes
    assert "de koppeling van 1 vertrouwenspersoon" in page

    export = await client.get("/console/o/de-linde/reports.zip")
    assert export.status == 200
    assert export.headers["Content-Disposition"] == 'attachment; filename="vipbot-de-linde-reports.zip"'
    with zipfile.ZipFile(io.BytesIO(await export.read())) as archive:
        names = archive.namelist()
        assert "vipbot-de-linde-2026-H1.pdf" in names
        assert all(archive.read(n).startswith(b"%PDF") for n in names)

    token = csrf_from(page)
    wrong = await client.post(
        "/console/o/de-linde/offboarding",
        data={"csrf_token": token, "confirm": "noord"},
        allow_redirects=False,
    )
    assert wrong.headers["Location"] == "/console/o/de-linde/offboarding?error=confirm"
    assert (await services.organisations.get_organisation("de-linde")).id == org_a.id
    erased = await client.post(
        "/console/o/de-linde/offboarding",
        data={"csrf_token": token, "confirm": "de-linde"},
        allow_redirects=False,
    )
    assert erased.status == 303
    assert erased.headers["Location"] == "/console/"

    # nothing of the organisation is left: no row carries its id, nothing points at a row that went, and no
    # value anywhere names it (its id, handle, name, workspace, conversation)
    assert {t.name: await _rows_of(services.engine, t, org_a.id) for t in tables} == dict.fromkeys(
        (t.name for t in tables), 0
    )
    assert await _dangling(services.engine) == []
    cells = await _cells(services.engine)
    for trace in (
        org_a.id.hex,
        str(org_a.id),
        "'de-linde'",
        "Zorggroep De Linde",
        "T-de-linde",
        leaving.conversation,
    ):
        assert trace not in cells, trace
    # the other organisation is untouched
    assert {t.name: await _rows_of(services.engine, t, org_b.id) for t in tables} == before_other
    assert staying.conversation.replace("-", "") in cells
    # the audit log keeps who exported and who erased, without naming the organisation
    logged = (await services.audit.list(AuditQuery())).entries
    assert [(e.action, e.organisation_id, e.subject) for e in logged[:2]] == [
        (AuditAction.ORGANISATION_ERASED, None, "organisation"),
        (AuditAction.EXPORTED, None, "reports"),
    ]
    assert {e.actor_account_id for e in logged[:2]} == {admin.account.id}
    assert (await client.get("/console/o/de-linde")).status == 404


async def test_only_an_administrator_erases(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@linde.test", org_a.id)
    await sign_in(client, counsellor, clock)
    page = await (await client.get("/console/o/de-linde/offboarding")).text()
    assert "Alleen een beheerder" in page
    refused = await client.post(
        "/console/o/de-linde/offboarding",
        data={"csrf_token": csrf_from(page), "confirm": "de-linde"},
        allow_redirects=False,
    )
    assert refused.status == 403
    assert (await console_services.organisations.get_organisation("de-linde")).id == org_a.id
