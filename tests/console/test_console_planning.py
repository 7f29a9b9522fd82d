"""The planning pages over HTTP: confirmation steps that say what they affect, schedules edited in place with
Dutch errors next to the field, the live preview, and pulses closed with the same refusals as `vipbot pulse`."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from bot.errors import VipbotError
from bot.usecases.pulses import open_round
from bot.web.console.outreach_bridge import outreach_of
from tests.console.helpers import Seeded, csrf_from, form_token, seed_organisation, sign_in
from tests.outreach.test_cli import Cli


@pytest.fixture
async def seeded(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> Seeded:
    made = await seed_organisation(console_services, org_a, "vp@linde.test")
    await sign_in(client, made.counsellor, clock)
    return made


async def test_cancelling_a_session_first_says_how_many_signed_up_and_who_is_told(
    client: TestClient, console_services: Services, seeded: Seeded
) -> None:
    outreach = outreach_of(console_services)
    org = seeded.organisation
    for person in ("U1", "U2", "U3"):
        await outreach.team_sessions.sign_up(org.id, UUID(seeded.session), person)
    path = f"/console/o/{org.slug}/sessions/{seeded.session}/cancel"
    token = await form_token(client, f"/console/o/{org.slug}/sessions")
    asked = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
    assert asked.status == 303
    assert asked.headers["Location"] == path
    assert not (await outreach.team_sessions.get(org.id, UUID(seeded.session))).cancelled  # type: ignore[union-attr]
    page = await (await client.get(path)).text()
    assert "3 mensen hebben zich aangemeld." in page
    assert "De bot laat het weten aan #zorg" in page
    done = await client.post(
        path, data={"csrf_token": csrf_from(page), "confirm": "1"}, allow_redirects=False
    )
    assert done.headers["Location"].endswith("notice=cancelled")
    assert (await outreach.team_sessions.get(org.id, UUID(seeded.session))).cancelled  # type: ignore[union-attr]


async def test_a_schedule_is_edited_in_the_console_keeping_what_was_typed_on_a_refusal(
    client: TestClient, console_services: Services, seeded: Seeded
) -> None:
    org = seeded.organisation
    outreach = outreach_of(console_services)
    before = await outreach.schedules.get(org, "maandagcolumn")
    path = f"/console/o/{org.slug}/schedules/maandagcolumn/edit"
    page = await (await client.get(path)).text()
    # "every monday at 09:30" opens in the pickers
    assert '<option value="weekly" selected>' in page
    assert 'name="days" value="mon" checked' in page
    assert 'name="at" type="time" value="09:30"' in page
    assert "maandag 9 maart 2026, 09:30" in page  # the next five, on the page itself
    form = {
        "csrf_token": csrf_from(page),
        "what": "column",
        "item": f"own:{seeded.item}",
        "groups": "zorg",
        "name": "Dinsdagcolumn",
        "frequency": "weekly",
        "days": "tue",
        "interval": "1",
        "at": "",
        "when_blocked": "defer",
        "action": "schedule",
    }
    refused = await client.post(path, data=form, allow_redirects=False)
    assert refused.status == 400
    html = await refused.text()
    assert '<p class="field-error" id="e-at">Vul een tijd in, zoals 09:30.</p>' in html
    assert 'value="Dinsdagcolumn"' in html  # what was typed stays
    assert 'name="days" value="tue" checked' in html
    saved = await client.post(path, data={**form, "at": "10:00"}, allow_redirects=False)
    assert saved.status == 303
    assert "saved=Dinsdagcolumn" in saved.headers["Location"]
    after = await outreach.schedules.get(org, "Dinsdagcolumn")
    assert after.id == before.id
    assert after.recurrence.text == "elke dinsdag om 10:00"
    calendar = await (await client.get(saved.headers["Location"])).text()
    assert "Schema &#39;Dinsdagcolumn&#39; is opgeslagen." in calendar


async def test_the_preview_lists_the_next_five_times_in_dutch(client: TestClient, seeded: Seeded) -> None:
    org = seeded.organisation
    token = await form_token(client, f"/console/o/{org.slug}/schedules/new")
    shown = await client.post(
        f"/console/o/{org.slug}/schedules/preview",
        data={
            "csrf_token": token,
            "frequency": "weekly",
            "days": ["tue", "thu"],
            "interval": "2",
            "at": "10:15",
        },
    )
    html = await shown.text()
    assert html.count("<li") == 5
    assert "dinsdag 3 maart 2026, 10:15" in html
    assert "donderdag 5 maart 2026, 10:15" in html
    assert "dinsdag 17 maart 2026, 10:15" in html  # every other week
    nothing = await client.post(
        f"/console/o/{org.slug}/schedules/preview",
        data={"csrf_token": token, "frequency": "weekly", "interval": "1", "at": "10:15"},
    )
    assert "Kies minstens één dag van de week." in await nothing.text()


async def test_a_round_is_closed_in_the_console_with_the_refusals_of_vipbot_pulse(
    client: TestClient, console_services: Services, seeded: Seeded, database_url: str, tmp_path: Path
) -> None:
    org = seeded.organisation
    pulses = console_services.pulses
    from bot.reporting.service import build_pulses

    pulses = pulses or build_pulses(console_services)
    tree = await console_services.organisations.group_tree(org.id)
    pulse = await open_round(
        pulses.service, console_services.content.catalog, org.id, tree, "wekelijkse-check-in"
    )
    page = await (await client.get(f"/console/o/{org.slug}/pulses")).text()
    assert "staat open" in page
    close = f"/console/o/{org.slug}/pulses/close"
    token = csrf_from(page)
    asked = await client.post(
        close, data={"csrf_token": token, "round": str(pulse.id)}, allow_redirects=False
    )
    assert asked.headers["Location"] == f"{close}?round={pulse.id}"
    assert (await pulses.store.get_pulse(org.id, pulse.id)).closed_at is None
    confirm = await (await client.get(asked.headers["Location"])).text()
    assert "geen antwoorden meer aangenomen" in confirm
    data = {"csrf_token": token, "round": str(pulse.id), "confirm": "1"}
    closed = await client.post(close, data=data, allow_redirects=False)
    assert closed.headers["Location"].endswith("notice=closed")
    assert (await pulses.store.get_pulse(org.id, pulse.id)).closed_at is not None
    again = await client.post(close, data=data, allow_redirects=False)
    assert again.headers["Location"].endswith("problem=closed_already")
    assert "Deze ronde is al gesloten." in await (await client.get(again.headers["Location"])).text()
    # the command line refuses it with the same code, in its own words
    cli = Cli(database_url, tmp_path)
    with pytest.raises(VipbotError, match="closed already"):
        await cli("pulse", "close", org.slug, str(pulse.id))
    with pytest.raises(VipbotError, match="no round"):
        await cli("pulse", "close", org.slug, "not-a-round")


async def test_days_off_are_picked_as_dates_and_the_country_is_chosen(
    client: TestClient, console_services: Services, seeded: Seeded
) -> None:
    org = seeded.organisation
    page = await (await client.get(f"/console/o/{org.slug}/calendar")).text()
    assert '<option value="NL" selected>Nederland</option>' in page  # Europe/Amsterdam's country by default
    assert "Koningsdag" not in page  # the days are listed by date, in Dutch
    assert "maandag 27 april 2026" in page
    data = {
        "csrf_token": csrf_from(page),
        "quiet_start": "20:00",
        "quiet_end": "07:00",
        "skip_weekends": "1",
        "country": "BE",
        "holiday": ["2026-06-12", "", "2026-12-31"],
    }
    saved = await client.post(f"/console/o/{org.slug}/calendar/settings", data=data, allow_redirects=False)
    assert saved.headers["Location"].endswith("settings=saved")
    calendar = await outreach_of(console_services).schedules.calendar(org.id)
    assert calendar.country == "BE"
    assert sorted(d.isoformat() for d in calendar.holidays) == ["2026-06-12", "2026-12-31"]
    page = await (await client.get(f"/console/o/{org.slug}/calendar")).text()
    assert 'name="holiday" value="2026-06-12"' in page
    assert "dinsdag 21 juli 2026" in page  # Belgium's national day
    data = {**data, "holiday": ["2026-06-12", ""], "country": "XX"}
    refused = await client.post(f"/console/o/{org.slug}/calendar/settings", data=data, allow_redirects=False)
    assert refused.headers["Location"].endswith("settings=invalid")
