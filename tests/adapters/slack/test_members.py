"""The Slack member source: a linked workspace's members reach the directory with no manual step (the sync job
pages through users.list), events keep it current, and deactivated accounts, bots and guests stay out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from sqlmodel import col, select

from bot.app import Services
from bot.security.secret import Secret
from bot.storage.slack_installations import SqlSlackInstallations
from bot.storage.tables_outreach import OutreachMemberRow
from tests.adapters.slack.support import add_org, slack_services, start_service, stop_service
from tests.conftest import TEST_SECRET_KEY
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator

PEOPLE = 450  # three pages of 200


async def directory(services: Services) -> dict[str, tuple[bool, str | None]]:
    async with services.sessions() as session:
        rows = await session.exec(select(OutreachMemberRow).where(col(OutreachMemberRow.platform) == "slack"))
        return {r.address: (r.active, r.locale) for r in rows}


async def active(services: Services) -> set[str]:
    return {a for a, (on, _) in (await directory(services)).items() if on}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


async def test_a_linked_workspace_fills_the_directory_and_deactivated_members_leave_it(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    for i in range(PEOPLE):
        slack_api.add_user(f"U{i:05d}", locale="en-US" if i % 3 == 0 else "nl-NL")
    slack_api.add_user("UBOT", is_bot=True)
    slack_api.add_user("UGUEST", guest="multi")
    slack_api.add_user("USINGLE", guest="single")
    slack_api.add_user("UGONE")
    slack_api.deactivate_user("UGONE")
    slack_api.add_user("UOTHERTEAM", team_id="T0002")
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    org = await add_org(configured, "Zorggroep De Linde", "linde")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )

    running = await start_service(configured)
    try:
        # No command, no pasted ids: the service's sync job reads the linked workspace by itself.
        await until(lambda: _count_is(configured, PEOPLE))
        people = await directory(configured)
        assert set(people) == {f"U{i:05d}" for i in range(PEOPLE)}
        assert people["U00000"] == (True, "en-US")
        assert people["U00001"] == (True, "nl-NL")
        listed = slack_api.calls_to("users.list")
        assert len(listed) == 3  # 200 + 200 + 50, following the cursor
        assert [bool(c.params.get("cursor")) for c in listed] == [False, True, True]

        # Deactivation arrives as user_change: the person leaves the directory.
        slack_api.deactivate_user("U00007")
        response = await running.post_signed(_event(slack_api.user_event("user_change", "U00007")))
        assert response.status == 200
        await until(lambda: _is_active(configured, "U00007", expected=False))

        # A newcomer (team_join) joins, with their language from one users.info.
        slack_api.add_user("UNEW", locale="en-GB")
        await running.post_signed(_event(slack_api.user_event("team_join", "UNEW")))
        await until(lambda: _is_active(configured, "UNEW", expected=True))
        assert (await directory(configured))["UNEW"] == (True, "en-GB")

        # Becoming a guest takes someone out too (guests are excluded unless configured).
        slack_api.users["U00008"]["is_restricted"] = True
        await running.post_signed(_event(slack_api.user_event("user_change", "U00008")))
        await until(lambda: _is_active(configured, "U00008", expected=False))
    finally:
        await stop_service(running)
    assert not (await directory(configured)).keys() & {"UBOT", "UGUEST", "USINGLE", "UGONE", "UOTHERTEAM"}


async def test_stopping_the_service_lets_a_member_event_in_flight_finish_its_write(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    """bolt acknowledges an event and runs its listener in a task nothing awaits: a stop in that moment must wait
    for it, or the newcomer never reaches the directory and the listener's connection outlives the database."""
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured.settings = configured.settings.model_copy(update={"scheduler_enabled": False})
    org = await add_org(configured, "Zorggroep De Linde", "linde")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    slack_api.add_user("UNEW", locale="en-GB")
    slack_api.slow("users.info", seconds=0.5)  # the newcomer's language is looked up before the write
    running = await start_service(configured)
    try:
        response = await running.post_signed(_event(slack_api.user_event("team_join", "UNEW")))
        assert response.status == 200
        await until(lambda: _called(slack_api, "users.info"))
    finally:
        await stop_service(running)
    assert (await directory(configured)).get("UNEW") == (True, "en-GB")


async def _called(slack_api: SlackApiSimulator, method: str) -> bool:
    return bool(slack_api.calls_to(method))


async def test_a_resync_removes_whoever_slack_no_longer_lists_and_brings_back_the_reactivated(
    services: Services, slack_api: SlackApiSimulator
) -> None:
    from bot.adapters.slack.members import MEMBER_SYNC

    for i in range(5):
        slack_api.add_user(f"U{i}")
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured.settings = configured.settings.model_copy(update={"scheduler_enabled": False})
    org = await add_org(configured, "Zorggroep De Linde", "linde")
    await SqlSlackInstallations(configured.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        org.id, DEFAULT_TEAM
    )
    running = await start_service(configured)
    try:
        sync = running.server.app[MEMBER_SYNC]
        assert await sync.sync_workspace(org.id, DEFAULT_TEAM) == (5, 0)
        slack_api.deactivate_user("U1")
        del slack_api.users["U2"]  # gone from the listing altogether
        assert await sync.sync_workspace(org.id, DEFAULT_TEAM) == (3, 2)
        assert await active(configured) == {"U0", "U3", "U4"}
        slack_api.users["U1"]["deleted"] = False
        assert await sync.sync_workspace(org.id, DEFAULT_TEAM) == (4, 0)
        assert await active(configured) == {"U0", "U1", "U3", "U4"}
    finally:
        await stop_service(running)


def _event(event: dict[str, object]) -> tuple[bytes, str]:
    from tests.adapters.slack.support import event_body

    return event_body(DEFAULT_TEAM, event)


async def _count_is(services: Services, n: int) -> bool:
    return len(await active(services)) == n


async def _is_active(services: Services, user: str, *, expected: bool) -> bool:
    found = (await directory(services)).get(user)
    return found is not None and found[0] is expected
