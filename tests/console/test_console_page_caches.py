"""The pages a counsellor reloads all day are read from memory between changes: what the counsellor saves shows
on the very next page, and one organisation's remembered rows never reach another organisation's page."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from bot.storage.accounts import SqlAccountRepository
from tests.console.helpers import csrf_from, make_person, sign_in


async def _post(client: TestClient, path: str, data: dict[str, str], page: str) -> None:
    token = csrf_from(await (await client.get(page)).text())
    response = await client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)
    assert response.status == 303, await response.text()


async def _counsellor_of(
    services: Services, clock: FixedClock, client: TestClient, *orgs: Organisation
) -> None:
    person = await make_person(services, Role.COUNSELLOR, "vp@praktijk.test", orgs[0].id)
    for org in orgs[1:]:
        await SqlAccountRepository(services.sessions).assign_counsellor(person.account.id, org.id)
    await sign_in(client, person, clock)


async def test_settings_saved_show_at_once_and_stay_with_their_organisation(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    org_b: Organisation,
) -> None:
    await _counsellor_of(console_services, clock, client, org_a, org_b)
    page_a, page_b = "/console/o/de-linde/settings", "/console/o/noord/settings"
    assert "Hanna (HR)" not in await (await client.get(page_a)).text()  # now remembered
    assert "Hanna (HR)" not in await (await client.get(page_b)).text()

    await _post(
        client,
        page_a + "/viewers",
        {"name": "Hanna (HR)", "email": "hanna@linde.test", "platform": "", "platform_user_id": ""},
        page_a,
    )
    await _post(
        client,
        page_a + "/management",
        {"platform": "slack", "workspace": "T0LINDE", "channel": "C0MT"},
        page_a,
    )
    entry = {"entry": "", "entry_id": "", "name_nl": "Bedrijfsarts De Linde", "name_en": "", "phone": "0101"}
    await _post(client, page_a + "/social", entry, page_a)

    shown_a = await (await client.get(page_a)).text()
    assert "Hanna (HR)" in shown_a
    assert "C0MT" in shown_a
    assert "Bedrijfsarts De Linde" in shown_a
    shown_b = await (await client.get(page_b)).text()
    assert "Hanna (HR)" not in shown_b
    assert "C0MT" not in shown_b
    assert "Bedrijfsarts De Linde" not in shown_b


async def test_a_renamed_organisation_is_named_anew_on_the_home_page_at_once(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    await _counsellor_of(console_services, clock, client, org_a)
    assert "Zorggroep De Linde" in await (await client.get("/console/")).text()  # the list is remembered
    page = "/console/o/de-linde/settings"
    general = {"name": "Linde Zorg", "locale": "nl", "timezone": "Europe/Amsterdam", "retention_days": "90"}
    await _post(client, page, general, page)
    assert "Linde Zorg" in await (await client.get("/console/")).text()


async def test_the_profile_saved_shows_at_once(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    await _counsellor_of(console_services, clock, client, org_a)
    assert "Ik luister, zonder oordeel." not in await (await client.get("/console/me")).text()  # remembered
    await _post(
        client,
        "/console/me/introduction",
        {"intro_nl": "Ik luister, zonder oordeel.", "intro_en": "I listen."},
        "/console/me",
    )
    assert "Ik luister, zonder oordeel." in await (await client.get("/console/me")).text()


async def test_the_audit_log_shows_what_was_just_done_and_names_it_anew(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    admin = await make_person(console_services, Role.ADMIN, "beheer@praktijk.test")
    await sign_in(client, admin, clock)
    before = await (await client.get("/console/audit")).text()  # rendered once, remembered
    assert "Zorggroep De Linde" in before
    assert before.count("<tr>") == 2  # the header and the sign-in
    page = "/console/o/de-linde/settings"
    general = {"name": "Linde Zorg", "locale": "nl", "timezone": "Europe/Amsterdam", "retention_days": "90"}
    await _post(client, page, general, page)
    after = await (await client.get("/console/audit")).text()
    assert after.count("<tr>") == 3  # the change is listed
    assert "Linde Zorg" in after
    assert "Zorggroep De Linde" not in after
