"""Slack installations and OAuth states in the database (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.app import Services
from bot.domain.clock import FixedClock
from bot.errors import ConflictError
from bot.security.errors import DecryptionError
from bot.security.secret import Secret
from bot.storage.slack_installations import SlackInstallation, SqlSlackInstallations, SqlSlackOAuthStates
from tests.adapters.slack.support import add_org
from tests.conftest import TEST_SECRET_KEY

KEY = Secret(TEST_SECRET_KEY.encode())


def _installation(organisation_id: object, team: str, token: str, clock: FixedClock) -> SlackInstallation:
    return SlackInstallation(
        organisation_id=organisation_id,  # type: ignore[arg-type]
        workspace_key=team,
        team_id=team,
        enterprise_id=None,
        is_enterprise_install=False,
        app_id="A1",
        bot_id=f"B{team}",
        bot_user_id=f"UB{team}",
        bot_scopes="chat:write,commands",
        bot_token=Secret(token),
        installed_at=clock.now(),
    )


async def test_states_are_single_use_and_expire(services: Services, clock: FixedClock) -> None:
    acme = await add_org(services, "Acme", "acme")
    states = SqlSlackOAuthStates(services.sessions)
    state = await states.issue(acme.id, clock.now())
    assert len(state) >= 40
    assert await states.consume(state, clock.now()) == acme.id
    assert await states.consume(state, clock.now()) is None
    late = await states.issue(acme.id, clock.now())
    assert await states.consume(late, clock.now() + timedelta(minutes=11)) is None
    assert await states.consume("made-up", clock.now()) is None
    async with services.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT digest FROM slack_oauth_state"))).scalars().all()
    assert state not in stored  # only digests are kept


async def test_tokens_are_sealed_to_their_row_and_organisations_stay_apart(
    services: Services, clock: FixedClock
) -> None:
    acme = await add_org(services, "Acme", "acme")
    beta = await add_org(services, "Beta", "beta")
    installations = SqlSlackInstallations(services.sessions, KEY)
    await installations.save(_installation(acme.id, "TA", "xoxb-aaaa", clock))
    await installations.save(_installation(beta.id, "TB", "xoxb-bbbb", clock))
    with pytest.raises(ConflictError):
        await installations.save(_installation(beta.id, "TA", "xoxb-steal", clock))
    found = await installations.find("TA")
    assert found is not None
    assert found.organisation_id == acme.id
    assert found.bot_token.reveal() == "xoxb-aaaa"
    assert "xoxb" not in repr(found)
    # A sealed token copied onto another workspace's row does not open there.
    async with services.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE slack_installation SET bot_token = "
                "(SELECT bot_token FROM slack_installation WHERE workspace_key = 'TA') WHERE workspace_key = 'TB'"
            )
        )
    with pytest.raises(DecryptionError):
        await installations.find("TB")
    # Another master key opens nothing.
    with pytest.raises(DecryptionError):
        await SqlSlackInstallations(services.sessions, Secret(b"another-master-key-0123456789abcdef")).find(
            "TA"
        )
    assert await installations.delete("TA")
    assert await installations.find("TA") is None
    assert await installations.organisation_for("TA") == acme.id  # the link stays for a reinstall
