"""Channel pickers from the platforms' own lists: Slack `conversations.list` (paged; public channels and the
private ones the bot is in) through the Slack Web API double, Teams channels of a team (`GET /v3/teams/{id}/
conversations`) through the Bot Connector double. The organisation page names workspaces and teams, binds a
picked channel with the name the platform lists, keeps the lists a minute on the injected clock, and says in one
line when a platform answers 429/500 or cannot be reached — the page itself still works."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from bot.adapters.slack.channels import SlackChannelDirectory
from bot.adapters.slack.oauth import StaticToken
from bot.adapters.teams.channels import TeamsChannelDirectory
from bot.adapters.teams.clients import ConnectorClients
from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.channels import ChannelListError, ChannelListProblem
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation, Platform
from bot.security.secret import Secret
from bot.storage.slack_installations import SqlSlackInstallations
from bot.storage.teams_references import TeamsReference, TeamsReferenceStore, TeamsScope, master_key_from
from bot.web.console.channels import PICK_SEPARATOR
from tests.conftest import TEST_SECRET_KEY
from tests.console.helpers import csrf_from, make_person, sign_in
from tests.doubles.bf_connector import BotConnectorDouble
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator


def _slack(slack_api: SlackApiSimulator) -> SlackChannelDirectory:
    return SlackChannelDirectory(slack_api.api_url, StaticToken(Secret(DEFAULT_TOKEN)))


async def test_slack_lists_every_page_public_and_private_where_the_bot_is(
    slack_api: SlackApiSimulator, org_a: Organisation
) -> None:
    slack_api.add_workspace(DEFAULT_TEAM, DEFAULT_TOKEN, team_name="Zorggroep De Linde")
    for i in range(205):  # more than one page of 200
        slack_api.add_channel(f"C{i:04d}", f"kanaal-{i:03d}")
    slack_api.add_channel("CPRIV", "vertrouwelijk-team", private=True)
    slack_api.add_channel("CHIDDEN", "niet-voor-de-bot", private=True, member=False)
    slack_api.add_channel("COLD", "oud-kanaal", archived=True)
    directory = _slack(slack_api)
    [space] = await directory.spaces(org_a.id, [DEFAULT_TEAM])
    assert space.name == "Zorggroep De Linde"
    listed = await directory.channels(space)
    names = {c.name for c in listed}
    assert len(listed) == 206
    assert {"kanaal-000", "kanaal-204", "vertrouwelijk-team"} <= names
    assert not names & {"niet-voor-de-bot", "oud-kanaal"}
    assert len(slack_api.calls_to("conversations.list")) == 2
    assert next(c for c in listed if c.name == "vertrouwelijk-team").private


@pytest.mark.parametrize(
    ("status", "code"), [(429, ChannelListProblem.RATE_LIMITED), (500, ChannelListProblem.UNAVAILABLE)]
)
async def test_slack_refusals_are_codes(
    slack_api: SlackApiSimulator, org_a: Organisation, status: int, code: ChannelListProblem
) -> None:
    directory = _slack(slack_api)
    [space] = await directory.spaces(org_a.id, [DEFAULT_TEAM])
    slack_api.fail_next("conversations.list", status=status)
    with pytest.raises(ChannelListError) as raised:
        await directory.channels(space)
    assert raised.value.code is code
    unreachable = SlackChannelDirectory("http://127.0.0.1:9/api/", StaticToken(Secret(DEFAULT_TOKEN)))
    with pytest.raises(ChannelListError) as raised:
        await unreachable.spaces(org_a.id, [DEFAULT_TEAM])
    assert raised.value.code is ChannelListProblem.UNREACHABLE


async def _teams_store(services: Services, org: Organisation, service_url: str) -> TeamsReferenceStore:
    store = TeamsReferenceStore(services.sessions, master_key_from(TEST_SECRET_KEY))
    await store.connect_tenant(org.id, "tenant-1")
    await store.save(
        org.id,
        TeamsReference(
            scope=TeamsScope.CHANNEL,
            tenant_id="tenant-1",
            service_url=service_url,
            bot_id="28:bot",
            conversation_id="19:general@thread.tacv2",
            team_id="19:team@thread.tacv2",
            team_name="Wijkteams Noord",
        ),
    )
    return store


async def test_teams_lists_the_channels_of_each_team(
    bf_connector: BotConnectorDouble, console_services: Services, org_a: Organisation
) -> None:
    store = await _teams_store(console_services, org_a, bf_connector.url)
    bf_connector.set_team_channels(
        "19:team@thread.tacv2",
        [
            {"id": "19:general@thread.tacv2", "name": None},
            {"id": "19:wijk3@thread.tacv2", "name": "Wijk 3"},
        ],
    )
    clients = ConnectorClients(None)
    try:
        directory = TeamsChannelDirectory(store, clients)
        [space] = await directory.spaces(org_a.id, [])
        assert (space.name, space.workspace_id, space.space_id) == (
            "Wijkteams Noord",
            "tenant-1",
            "19:team@thread.tacv2",
        )
        listed = await directory.channels(space)
        assert [(c.channel_id, c.name) for c in listed] == [
            ("19:general@thread.tacv2", ""),  # General: Teams gives it no name
            ("19:wijk3@thread.tacv2", "Wijk 3"),
        ]
        assert [r.path for r in bf_connector.requests if r.kind == "team_channels"] == [
            "/v3/teams/19:team@thread.tacv2/conversations"
        ]
        bf_connector.fail_next(1, 429, retry_after=1)
        with pytest.raises(ChannelListError) as raised:
            await directory.channels(space)
        assert raised.value.code is ChannelListProblem.RATE_LIMITED
        bf_connector.fail_next(1, 500)
        with pytest.raises(ChannelListError) as raised:
            await directory.channels(space)
        assert raised.value.code is ChannelListProblem.UNAVAILABLE
    finally:
        await clients.close()


async def _organisation_page(client: TestClient) -> str:
    answer = await client.get("/console/o/de-linde")
    assert answer.status == 200
    return await answer.text()


async def test_the_organisation_page_names_workspaces_and_binds_a_picked_channel(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    slack_api: SlackApiSimulator,
) -> None:
    slack_api.add_workspace(DEFAULT_TEAM, DEFAULT_TOKEN, team_name="Zorggroep De Linde (Slack)")
    slack_api.add_channel("C0WIJK3", "wijkteam-3")
    slack_api.add_channel("C0PRIV", "kernteam", private=True)
    installations = SqlSlackInstallations(console_services.sessions, Secret(TEST_SECRET_KEY.encode()))
    await installations.link(org_a.id, DEFAULT_TEAM)
    console_services.platforms[Platform.SLACK].channels = _slack(slack_api)
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)

    page = await _organisation_page(client)
    assert "Zorggroep De Linde (Slack)" in page
    assert f">{DEFAULT_TEAM}<" not in page  # the name, not "geïnstalleerd T0001"
    assert "wijkteam-3" in page
    assert "kernteam" in page
    assert "Koppelen met ids (geavanceerd)" in page  # the raw ids stay as a fallback

    pick = PICK_SEPARATOR.join(("slack", DEFAULT_TEAM, DEFAULT_TEAM, "C0WIJK3"))
    answer = await client.post(
        "/console/o/de-linde/bindings",
        data={
            "csrf_token": csrf_from(page),
            "group": "de-linde",
            "pick": pick,
            "name": "sent by the browser",
        },
        allow_redirects=False,
    )
    assert answer.status == 303
    assert "error" not in answer.headers["Location"]
    [binding] = await console_services.organisations.bindings(org_a.id)
    assert (binding.platform, binding.workspace_id, binding.channel_id, binding.channel_name) == (
        Platform.SLACK,
        DEFAULT_TEAM,
        "C0WIJK3",
        "wijkteam-3",  # as Slack lists it
    )
    # a channel that is not in the list (or another organisation's workspace) is refused
    forged = PICK_SEPARATOR.join(("slack", "T0OTHER", "T0OTHER", "C0ELSE"))
    answer = await client.post(
        "/console/o/de-linde/bindings",
        data={"csrf_token": csrf_from(page), "group": "de-linde", "pick": forged},
        allow_redirects=False,
    )
    assert answer.headers["Location"].endswith("?error=pick")

    # the lists are kept a minute (the injected clock), then asked again
    listed = len(slack_api.calls_to("conversations.list"))
    await _organisation_page(client)
    assert len(slack_api.calls_to("conversations.list")) == listed
    clock.advance(timedelta(seconds=61))
    await _organisation_page(client)
    assert len(slack_api.calls_to("conversations.list")) == listed + 1

    # Slack says 429, then 500: one line each, and the page still works
    clock.advance(timedelta(seconds=61))
    slack_api.fail_next("conversations.list", status=429)
    page = await _organisation_page(client)
    assert "Zorggroep De Linde (Slack) vraagt om even te wachten" in page
    assert "Traceback" not in page
    assert "wijkteam-3" in page  # the binding is still shown
    clock.advance(timedelta(seconds=61))
    slack_api.fail_next("conversations.list", status=500)
    page = await _organisation_page(client)
    assert "heeft een storing" in page
    # unreachable: the workspace name and lists are gone, the id form is open
    clock.advance(timedelta(seconds=61))
    console_services.platforms[Platform.SLACK].channels = SlackChannelDirectory(
        "http://127.0.0.1:9/api/", StaticToken(Secret(DEFAULT_TOKEN))
    )
    page = await _organisation_page(client)
    assert "Slack is niet bereikbaar" in page
    assert "<details open>" in page


async def test_a_teams_channel_is_picked_by_team_and_channel_name(
    client: TestClient,
    console_services: Services,
    clock: FixedClock,
    org_a: Organisation,
    bf_connector: BotConnectorDouble,
) -> None:
    store = await _teams_store(console_services, org_a, bf_connector.url)
    bf_connector.set_team_channels(
        "19:team@thread.tacv2",
        [{"id": "19:general@thread.tacv2", "name": None}, {"id": "19:wijk3@thread.tacv2", "name": "Wijk 3"}],
    )
    clients = ConnectorClients(None)
    console_services.platforms[Platform.TEAMS].channels = TeamsChannelDirectory(store, clients)
    try:
        counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
        await sign_in(client, counsellor, clock)
        page = await _organisation_page(client)
        assert "Wijkteams Noord" in page
        assert ">Algemeen<" in page  # Teams' nameless General channel, in the reader's words
        assert ">Wijk 3<" in page
        pick = PICK_SEPARATOR.join(("teams", "tenant-1", "19:team@thread.tacv2", "19:wijk3@thread.tacv2"))
        answer = await client.post(
            "/console/o/de-linde/bindings",
            data={"csrf_token": csrf_from(page), "group": "de-linde", "pick": pick},
            allow_redirects=False,
        )
        assert "error" not in answer.headers["Location"]
        [binding] = await console_services.organisations.bindings(org_a.id)
        assert (binding.platform, binding.workspace_id, binding.channel_id, binding.channel_name) == (
            Platform.TEAMS,
            "tenant-1",
            "19:wijk3@thread.tacv2",
            "Wijk 3",
        )
        # Teams unreachable: one line, the page works
        clock.advance(timedelta(seconds=61))
        bf_connector.fail_next(1, 503)
        page = await _organisation_page(client)
        assert "Wijkteams Noord heeft een storing" in page
    finally:
        await clients.close()
