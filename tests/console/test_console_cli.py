"""`vipbot admin`: the first administrator from the command line, refusals, listing, resetting the authenticator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.accounts import Role
from bot.security import Secret, verify_password
from bot.storage.accounts import SqlAccountRepository
from bot.storage.db import create_engine, session_factory
from tests.ops.cli import Outcome, run_vipbot_in_process
from tests.support.process import seed_migrated_database


@pytest.fixture(autouse=True)
def _migrated_data_dir(tmp_path: Path, sqlite_template: Path) -> None:
    """The embedded database as a first start leaves it (these tests are about accounts, not migrations)."""
    seed_migrated_database(tmp_path / "data", sqlite_template)


async def _vipbot(tmp_path: Path, *args: str, stdin: str = "") -> Outcome:
    """`vipbot admin ARGS` on the embedded database in tmp_path/data (through `main`, in this process)."""
    return await run_vipbot_in_process(["admin", *args], tmp_path / "data", stdin=stdin, cwd=tmp_path)


async def test_admin_create_list_and_reset(tmp_path: Path) -> None:
    short = await _vipbot(
        tmp_path, "create", "--email", "a@p.test", "--name", "A", "--password-stdin", stdin="short\n"
    )
    assert short.code == 2
    assert "at least 12 characters" in short.err
    made = await _vipbot(
        tmp_path,
        "create",
        "--email",
        "Beheer@P.test",
        "--name",
        "Bea",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert made.code == 0, made.err
    assert "Created administrator beheer@p.test" in made.out
    again = await _vipbot(
        tmp_path,
        "create",
        "--email",
        "beheer@p.test",
        "--name",
        "Bea",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert again.code == 1
    assert "exists already" in again.err
    listed = await _vipbot(tmp_path, "list")
    assert "beheer@p.test" in listed.out
    assert "2FA not set up" in listed.out

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vipbot.db'}")
    try:
        repo = SqlAccountRepository(session_factory(engine))
        credentials = await repo.credentials("beheer@p.test")
        assert credentials is not None
        assert credentials.account.role is Role.ADMIN
        assert credentials.password_hash.startswith("$argon2id$")
        assert verify_password(credentials.password_hash, Secret("a long enough password"))
        await repo.set_totp(credentials.account.id, b"sealed", 1)
        await repo.record_failure(credentials.account.id, datetime.now(UTC))
    finally:
        await engine.dispose()
    new_password = await _vipbot(
        tmp_path,
        "reset-password",
        "--email",
        "beheer@p.test",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert new_password.code == 0, new_password.err
    reset = await _vipbot(tmp_path, "reset-2fa", "--email", "beheer@p.test")
    assert reset.code == 0, reset.err
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vipbot.db'}")
    try:
        credentials = await SqlAccountRepository(session_factory(engine)).credentials("beheer@p.test")
        assert credentials is not None
        assert credentials.totp_secret is None
        assert credentials.failed_attempts == 0
        assert verify_password(credentials.password_hash, Secret("another long password"))
        assert not verify_password(credentials.password_hash, Secret("a long enough password"))
    finally:
        await engine.dispose()


async def test_an_organisation_requires_a_second_factor_of_its_viewers(tmp_path: Path) -> None:
    from bot.storage.console_policy import SqlConsolePolicy
    from bot.storage.organisations import SqlOrganisationRepository

    assert (await _vipbot(tmp_path, "list")).code == 0
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vipbot.db'}")
    try:
        org = await SqlOrganisationRepository(session_factory(engine)).add_organisation(
            "Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
        )
    finally:
        await engine.dispose()
    required = await _vipbot(tmp_path, "require-2fa", "--organisation", "de-linde")
    assert required.code == 0, required.err
    assert "now need a second factor" in required.out
    unknown = await _vipbot(tmp_path, "require-2fa", "--organisation", "nobody")
    assert unknown.code == 1
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vipbot.db'}")
    try:
        assert await SqlConsolePolicy(engine).requires_totp(org.id)
        off = await _vipbot(tmp_path, "require-2fa", "--organisation", "de-linde", "--off")
        assert off.code == 0, off.err
        assert not await SqlConsolePolicy(engine).requires_totp(org.id)
    finally:
        await engine.dispose()
