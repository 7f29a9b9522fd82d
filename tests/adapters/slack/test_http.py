"""The Slack endpoints of the running service, over HTTP, with requests signed the way Slack signs them."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlmodel import select

from bot.adapters import slack
from bot.app import Services, build_app
from bot.domain.outreach import Audience
from bot.domain.team_sessions import TeamSession
from bot.domain.tenancy import Platform
from bot.logs import configure_logging
from bot.storage.slack_installations import SqlSlackInstallations
from bot.storage.tables import CounsellorRow, OrganisationCounsellorRow, PracticeRow
from scheduler import service as outreach_feature
from tests.adapters.slack.support import (
    RunningService,
    action_body,
    add_org,
    command_body,
    event_body,
    eventually,
    slack_services,
    sqlite_file_bytes,
    start_service,
    stop_service,
)
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator


@pytest.fixture
async def running(services: Services, slack_api: SlackApiSimulator) -> AsyncIterator[RunningService]:
    """The service in single-workspace mode, its workspace linked to the organisation 'acme'."""
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    organisation = await add_org(configured, "Acme Zorg", "acme")
    from bot.security.secret import Secret

    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        organisation.id, DEFAULT_TEAM
    )
    slack_api.add_user("UNL", locale="nl-NL")
    slack_api.add_user("UEN", locale="en-GB")
    service = await start_service(configured)
    yield service
    await stop_service(service)


async def test_url_verification_is_answered(running: RunningService) -> None:
    body = json.dumps(
        {
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    )
    response = await running.post_signed((body.encode(), "application/json"))
    assert response.status == 200
    assert (await response.json())["challenge"] == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


async def test_bad_signature_and_stale_timestamp_get_401_and_change_nothing(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    services = running.services
    organisation = await services.organisations.get_organisation("acme")
    await services.organisations.bind_channel(
        organisation.id, "acme", Platform.SLACK, DEFAULT_TEAM, "C1", "team-a"
    )

    async def channel_names() -> list[str | None]:
        return [b.channel_name for b in await services.organisations.bindings(organisation.id)]

    home = event_body(
        DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "channel": "DNL", "tab": "home"}
    )
    forged = await running.post_signed(home, secret="not-the-signing-secret-0000000000")
    assert forged.status == 401
    stale = await running.post_signed(home, age=6 * 60)
    assert stale.status == 401
    unsigned = await running.session.post(f"{running.url}/slack/events", data=home[0])
    assert unsigned.status == 401

    def rename(name: str) -> tuple[bytes, str]:
        return event_body(
            DEFAULT_TEAM, {"type": "channel_rename", "channel": {"id": "C1", "name": name, "created": 1}}
        )

    assert (await running.post_signed(rename("forged"), secret="x" * 32)).status == 401
    assert (await running.post_signed(rename("stale"), age=6 * 60)).status == 401
    assert (await running.post_signed(rename("future"), age=-6 * 60)).status == 401
    body, content_type = rename("unsigned")
    unsigned = await running.session.post(
        f"{running.url}/slack/events", data=body, headers={"Content-Type": content_type}
    )
    assert unsigned.status == 401
    # A valid request afterwards does reach Slack: the refusals above did not just go unanswered.
    assert (await running.post_signed(home)).status == 200
    await eventually(lambda: bool(slack_api.calls_to("views.publish")))
    assert len(slack_api.calls_to("views.publish")) == 1
    assert await channel_names() == ["team-a"]
    # The control: the same rename, signed and on time, does change the name.
    assert (await running.post_signed(rename("team-alpha"))).status == 200
    await _until_names(channel_names, ["team-alpha"])


async def _until_names(read: Callable[[], Awaitable[list[str | None]]], expected: list[str | None]) -> None:
    async def reached() -> bool:
        return await read() == expected

    await eventually(reached, 5.0, f"the channel names {expected}")


async def test_app_home_opened_publishes_the_home_view(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    response = await running.post_signed(
        event_body(DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "channel": "DNL", "tab": "home"})
    )
    assert response.status == 200
    await eventually(lambda: "UNL" in slack_api.views)
    view = slack_api.views["UNL"]
    dumped = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home"
    assert "De vertrouwenspersoon van Acme Zorg" in dumped
    assert "http://vipbot.test/portal/acme" in dumped
    assert "Sociale kaart" in dumped
    assert slack_api.calls_to("views.publish")[0].token == DEFAULT_TOKEN
    # English when the reader's Slack is in English.
    await running.post_signed(
        event_body(DEFAULT_TEAM, {"type": "app_home_opened", "user": "UEN", "channel": "DEN", "tab": "home"})
    )
    await eventually(lambda: "UEN" in slack_api.views)
    assert "The confidential counsellor of Acme Zorg" in json.dumps(slack_api.views["UEN"])
    # The messages tab is not the Home tab: nothing is published for it.
    slack_api.views.clear()
    await running.post_signed(
        event_body(
            DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "channel": "DNL", "tab": "messages"}
        )
    )
    assert (
        await running.post_signed(
            event_body(DEFAULT_TEAM, {"type": "app_home_opened", "user": "UEN", "tab": "home"})
        )
    ).status == 200
    await eventually(lambda: "UEN" in slack_api.views)
    assert "UNL" not in slack_api.views


async def test_home_shows_the_counsellors_and_the_upcoming_sessions_from_the_database(  # noqa: PLR0915
    services: Services, slack_api: SlackApiSimulator
) -> None:
    """The Home tab end to end with the outreach feature installed, as `vipbot serve` mounts them."""
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured = Services(
        settings=configured.settings.model_copy(update={"scheduler_enabled": False}),
        clock=configured.clock,
        engine=configured.engine,
        content=configured.content,
    )
    org = await add_org(configured, "Acme Zorg", "acme")
    other = await add_org(configured, "Bouwbedrijf Noord", "noord")
    from bot.security.secret import Secret

    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    slack_api.add_user("UNL", locale="nl-NL")
    slack_api.add_user("UEN", locale="en-GB")
    async with configured.sessions() as db:
        practice = (await db.exec(select(PracticeRow))).first()
        assert practice is not None
        anna = CounsellorRow(
            practice_id=practice.id,
            display_name="Anna de Vries",
            intro_nl="Ik luister, zonder oordeel.",
            intro_en="I listen, without judgement.",
            photo_url="https://photos.example/anna.jpg",
            email="anna@vp.example",
        )
        bram = CounsellorRow(practice_id=practice.id, display_name="Bram Jansen")
        elsewhere = CounsellorRow(practice_id=practice.id, display_name="Carla Elders")
        db.add_all([anna, bram, elsewhere])
        await db.flush()
        db.add_all(
            [
                OrganisationCounsellorRow(organisation_id=org.id, counsellor_id=anna.id, role="primary"),
                OrganisationCounsellorRow(organisation_id=org.id, counsellor_id=bram.id, role="deputy"),
                OrganisationCounsellorRow(
                    organisation_id=other.id, counsellor_id=elsewhere.id, role="primary"
                ),
            ]
        )
        await db.commit()

    app = build_app(configured, features=[slack.install, outreach_feature.install])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    running = RunningService(server=server, session=aiohttp.ClientSession(), services=configured)
    try:
        outreach = configured.outreach
        assert outreach is not None
        now = configured.clock.now()

        def team_session(title: str, organisation_id: uuid.UUID, starts_in: timedelta) -> TeamSession:
            starts = now + starts_in
            return TeamSession(
                id=uuid.uuid4(),
                organisation_id=organisation_id,
                title=title,
                description="Een uur samen oefenen.",
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                place="Vergaderzaal 2",
                online_url="https://meet.example/abc",
                audience=Audience(groups=(), members=True),
                locale=None,
            )

        await outreach.team_sessions.add(
            team_session("Intervisie: grenzen aangeven", org.id, timedelta(days=3))
        )
        await outreach.team_sessions.add(team_session("Gisteren geweest", org.id, -timedelta(days=1)))
        await outreach.team_sessions.add(team_session("Sessie van Noord", other.id, timedelta(days=2)))

        response = await running.post_signed(
            event_body(
                DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "channel": "DNL", "tab": "home"}
            )
        )
        assert response.status == 200
        await eventually(lambda: "UNL" in slack_api.views)
        view = slack_api.views["UNL"]
        dumped = json.dumps(view, ensure_ascii=False)
        assert view["type"] == "home"
        # The counsellors, the primary first, with intro, photo and address.
        assert dumped.index("Anna de Vries") < dumped.index("Bram Jansen")
        assert "Ik luister, zonder oordeel." in dumped
        assert "anna@vp.example" in dumped
        photos = [b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("type") == "image"]
        assert [p["image_url"] for p in photos] == ["https://photos.example/anna.jpg"]
        assert "Anna de Vries" in photos[0]["alt_text"]
        # The session to come, not the one that has been, and nothing of the other organisation.
        assert "Intervisie: grenzen aangeven" in dumped
        assert "Vergaderzaal 2" in dumped
        assert "https://meet.example/abc" in dumped
        assert "Gisteren geweest" not in dumped
        assert "Sessie van Noord" not in dumped
        assert "Carla Elders" not in dumped
        assert configured.content.translator.t("nl", "slack.home.no_sessions") not in dumped
        # In English for an English reader: the English intro.
        await running.post_signed(
            event_body(
                DEFAULT_TEAM, {"type": "app_home_opened", "user": "UEN", "channel": "DEN", "tab": "home"}
            )
        )
        await eventually(lambda: "UEN" in slack_api.views)
        english = json.dumps(slack_api.views["UEN"], ensure_ascii=False)
        assert "I listen, without judgement." in english
        assert "Ik luister" not in english
        assert "Intervisie: grenzen aangeven" in english
    finally:
        await stop_service(running)


async def test_slash_command_answers_well_within_three_seconds(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    started = time.monotonic()
    response = await running.post_signed(command_body(DEFAULT_TEAM, "UNL", ""))
    elapsed = time.monotonic() - started
    assert response.status == 200
    assert elapsed < 1.0
    answer = await response.json()
    assert answer["response_type"] == "ephemeral"
    dumped = json.dumps(answer, ensure_ascii=False)
    assert "Zo werkt /vp" in dumped
    assert "http://vipbot.test/portal/acme" in dumped

    social = await (await running.post_signed(command_body(DEFAULT_TEAM, "UEN", "map"))).json()
    titles = [b.get("text", {}).get("text") for b in social["blocks"]]
    assert "Sociale kaart" in titles
    names = {entry.name.en for entry in running.services.content.catalog.social_map}
    assert any(name in json.dumps(social) for name in names)

    door = await (await running.post_signed(command_body(DEFAULT_TEAM, "UNL", "gesprek"))).json()
    assert any(
        e.get("url") == "http://vipbot.test/portal/acme"
        for b in door["blocks"]
        for e in b.get("elements", [])
    )

    unknown = await (
        await running.post_signed(command_body(DEFAULT_TEAM, "UNL", "mijn leidinggevende xq7"))
    ).json()
    assert "Die opdracht ken ik niet" in json.dumps(unknown, ensure_ascii=False)
    assert "xq7" not in json.dumps(unknown)
    assert not slack_api.traffic_contains("xq7")


async def _database_contains(services: Services, database_url: str, needle: str) -> bool:
    """Whether `needle` is anywhere in the database: in the SQLite file (and WAL), or in any PostgreSQL row."""
    if database_url.startswith("sqlite"):
        await services.engine.dispose()  # close connections: the WAL is checkpointed into the file
        return needle.encode() in sqlite_file_bytes(database_url)
    async with services.engine.connect() as connection:
        tables = (
            (await connection.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
            .scalars()
            .all()
        )
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).all()  # noqa: S608
            if needle in repr(rows):
                return True
    return False


async def test_a_dm_gets_the_door_and_its_text_is_kept_nowhere(
    running: RunningService,
    slack_api: SlackApiSimulator,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    caplog.set_level(logging.DEBUG)
    canary = "CANARY-7f3e9b1c-mijn-manager-intimideert-mij"
    response = await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "channel": "DNL",
                "channel_type": "im",
                "user": "UNL",
                "text": canary,
                "ts": "1.1",
            },
        )
    )
    assert response.status == 200
    await eventually(lambda: bool(slack_api.messages.get("DNL")))
    reply = slack_api.messages["DNL"][0]
    dumped = json.dumps(reply, ensure_ascii=False)
    assert "http://vipbot.test/portal/acme" in dumped
    assert "Wat je hier typt, bewaar of lees ik niet" in dumped
    # Where the canary must not be: Slack traffic, the logs, the database.
    assert not slack_api.traffic_contains(canary)
    assert canary not in stream.getvalue()
    printed = capsys.readouterr()
    assert canary not in printed.out + printed.err
    assert all(
        canary not in record.getMessage() and canary not in repr(record.__dict__) for record in caplog.records
    )
    assert not await _database_contains(running.services, database_url, canary)
    # The check itself can find things: the organisation's name is in the database.
    assert await _database_contains(running.services, database_url, "Acme Zorg")
    logging.getLogger().handlers.clear()


async def test_bot_messages_and_edits_in_the_dm_get_no_reply(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "subtype": "message_changed",
                "channel": "DNL",
                "channel_type": "im",
                "ts": "1.2",
            },
        )
    )
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "channel": "C0GENERAL",
                "channel_type": "channel",
                "user": "UNL",
                "text": "hi",
                "ts": "1.3",
            },
        )
    )
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "channel": "DEN",
                "channel_type": "im",
                "user": "UEN",
                "text": "hello",
                "ts": "1.4",
            },
        )
    )
    await eventually(lambda: bool(slack_api.messages.get("DEN")))
    # A second message right after (or Slack delivering the same one again) gets no second reply.
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "channel": "DEN",
                "channel_type": "im",
                "user": "UEN",
                "text": "again",
                "ts": "1.5",
            },
        )
    )
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "channel": "DNL",
                "channel_type": "im",
                "user": "UNL",
                "text": "hoi",
                "ts": "1.6",
            },
        )
    )
    await eventually(lambda: bool(slack_api.messages.get("DNL")))
    # A file sent to the bot is someone writing to it too: it gets the door (and the file is not fetched).
    slack_api.add_user("UFILE")
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "message",
                "subtype": "file_share",
                "channel": "DFILE",
                "channel_type": "im",
                "user": "UFILE",
                "files": [{"id": "F1", "name": "verslag.pdf"}],
                "ts": "1.7",
            },
        )
    )
    await eventually(lambda: bool(slack_api.messages.get("DFILE")))
    assert [c.params["channel"] for c in slack_api.calls_to("chat.postMessage")] == ["DEN", "DNL", "DFILE"]
    assert not [c for c in slack_api.calls if c.method.startswith("files.")]
    assert "This chat is not confidential" in json.dumps(slack_api.calls_to("chat.postMessage")[0].params)


async def test_link_button_clicks_are_acknowledged_only_when_signed(
    running: RunningService, slack_api: SlackApiSimulator
) -> None:
    for action in ("vp_door_open", "vp_link_map_3"):
        response = await running.post_signed(action_body(DEFAULT_TEAM, "UNL", action))
        assert response.status == 200
        assert await response.text() == ""
    assert (await running.post_signed(action_body(DEFAULT_TEAM, "UNL"), secret="f" * 32)).status == 401
    assert (await running.post_signed(action_body(DEFAULT_TEAM, "UNL"), age=301)).status == 401
    # Any other action goes through bolt's listeners; one nobody registered is answered 404 there.
    assert (await running.post_signed(action_body(DEFAULT_TEAM, "UNL", "not_ours"))).status == 404
    assert not slack_api.calls_to("chat.postMessage")


async def test_channel_events_keep_bindings_right(running: RunningService) -> None:
    services = running.services
    organisation = await services.organisations.get_organisation("acme")
    await services.organisations.bind_channel(
        organisation.id, "acme", Platform.SLACK, DEFAULT_TEAM, "C1", "team-a"
    )

    async def binding() -> tuple[str | None, bool]:
        (found,) = await services.organisations.bindings(organisation.id)
        return found.channel_name, found.archived

    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {"type": "channel_rename", "channel": {"id": "C1", "name": "team-alpha", "created": 1}},
        )
    )
    await _until(binding, ("team-alpha", False))
    await running.post_signed(
        event_body(DEFAULT_TEAM, {"type": "channel_archive", "channel": "C1", "user": "UNL"})
    )
    await _until(binding, ("team-alpha", True))
    await running.post_signed(
        event_body(DEFAULT_TEAM, {"type": "channel_unarchive", "channel": "C1", "user": "UNL"})
    )
    await _until(binding, ("team-alpha", False))
    # Somebody else leaving changes nothing; the bot being removed makes the binding unusable.
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "member_left_channel",
                "channel": "C1",
                "user": "UNL",
                "channel_type": "C",
                "team": DEFAULT_TEAM,
            },
        )
    )
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "member_left_channel",
                "channel": "C1",
                "user": f"UB{DEFAULT_TEAM}",
                "channel_type": "C",
                "team": DEFAULT_TEAM,
            },
        )
    )
    await _until(binding, ("team-alpha", True))
    await running.post_signed(
        event_body(
            DEFAULT_TEAM,
            {
                "type": "member_joined_channel",
                "channel": "C1",
                "user": f"UB{DEFAULT_TEAM}",
                "channel_type": "C",
                "team": DEFAULT_TEAM,
            },
        )
    )
    await _until(binding, ("team-alpha", False))
    # Removed from the channel by someone: Slack tells the bot with channel_left.
    await running.post_signed(
        event_body(DEFAULT_TEAM, {"type": "channel_left", "channel": "C1", "actor_id": "UNL"})
    )
    await _until(binding, ("team-alpha", True))


async def _until(read: object, expected: tuple[str | None, bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    async def reached() -> bool:
        return await read() == expected  # type: ignore[operator,no-any-return]

    await eventually(reached, timeout, f"the binding {expected}")


async def test_an_unlinked_workspace_gets_no_door(services: Services, slack_api: SlackApiSimulator) -> None:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    slack_api.add_user("UNL", locale="nl-NL")
    service = await start_service(configured)
    try:
        response = await service.post_signed(command_body(DEFAULT_TEAM, "UNL", ""))
        assert "nog niet gekoppeld" in (await response.text())
        await service.post_signed(
            event_body(DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "tab": "home"})
        )
        await eventually(lambda: "UNL" in slack_api.views)
        assert "/portal/" not in json.dumps(slack_api.views["UNL"])
    finally:
        await stop_service(service)


async def test_socket_mode_serves_the_same_listeners(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    configured = slack_services(
        services, slack_api, slack_bot_token=DEFAULT_TOKEN, slack_app_token="xapp-1-test"
    )
    organisation = await add_org(configured, "Acme Zorg", "acme")
    from bot.security.secret import Secret

    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        organisation.id, DEFAULT_TEAM
    )
    slack_api.add_user("UNL")
    slack_api.add_app_token("xapp-1-test")
    service = await start_service(configured)
    try:
        await eventually(lambda: bool(slack_api.sockets))
        body = json.loads(
            event_body(DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "tab": "home"})[0]
        )
        await slack_api.socket_send(
            {"envelope_id": "env-1", "type": "events_api", "accepts_response_payload": False, "payload": body}
        )
        await eventually(lambda: "UNL" in slack_api.views)
        assert "De vertrouwenspersoon van Acme Zorg" in json.dumps(slack_api.views["UNL"])
        await eventually(lambda: any(a.get("envelope_id") == "env-1" for a in slack_api.socket_acks))
    finally:
        await stop_service(service)


class _BrokenCalendar:
    async def upcoming(self, organisation_id: object, now: object, limit: int) -> list[object]:
        raise RuntimeError("calendar detail CANARY-42")


async def test_failures_become_an_apology_and_a_log_line_without_details(
    services: Services,
    slack_api: SlackApiSimulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    organisation = await add_org(configured, "Acme Zorg", "acme")
    from bot.security.secret import Secret

    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        organisation.id, DEFAULT_TEAM
    )
    configured.session_calendar = _BrokenCalendar()
    slack_api.add_user("UNL")
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    caplog.set_level(logging.INFO)
    seen: list[str] = []

    def logs() -> str:
        captured = capsys.readouterr()
        seen.append(captured.out + captured.err)
        return "".join(seen) + stream.getvalue() + caplog.text

    service = await start_service(configured)
    try:
        await service.post_signed(
            event_body(DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "tab": "home"})
        )
        await eventually(lambda: "slack listener failed" in logs())
        assert "RuntimeError" in logs()
        assert "CANARY-42" not in logs()
        assert not slack_api.calls_to("views.publish")
        async with configured.engine.begin() as connection:
            await connection.execute(text("DROP TABLE platform_connection"))
        # A workspace not looked up before (its organisation is not cached) now meets a broken database.
        response = await service.post_signed(command_body("T0OTHER", "UNL", ""))
        assert response.status == 200
        answer = await response.json()
        assert answer["text"] == "Er ging iets mis aan onze kant. Probeer het over een paar minuten opnieuw."
        assert "slack /vp failed" in logs()
    finally:
        await stop_service(service)
        logging.getLogger().handlers.clear()
        logging.getLogger().handlers.clear()
