"""`vipbot admin`: the first administrator from the command line, refusals, listing, resetting the authenticator."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.domain.accounts import Role
from bot.security import Secret, verify_password
from bot.storage.accounts import SqlAccountRepository
from bot.storage.db import create_engine, session_factory


def _vipbot(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIPBOT_", "SLACK_", "MICROSOFT_APP_"))}
    env["VIPBOT_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, "-m", "bot", "admin", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


async def test_admin_create_list_and_reset(tmp_path: Path) -> None:
    short = _vipbot(
        tmp_path, "create", "--email", "a@p.test", "--name", "A", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    made = _vipbot(
        tmp_path,
        "create",
        "--email",
        "Beheer@P.test",
        "--name",
        "Bea",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert made.returncode == 0, made.stderr
    assert "Created administrator beheer@p.test" in made.stdout
    again = _vipbot(
        tmp_path,
        "create",
        "--email",
        "beheer@p.test",
        "--name",
        "Bea",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert again.returncode == 1
    assert "exists already" in again.stderr
    listed = _vipbot(tmp_path, "list")
    assert "beheer@p.test" in listed.stdout
    assert "2FA not set up" in listed.stdout

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
    new_password = _vipbot(
        tmp_path,
        "reset-password",
        "--email",
        "beheer@p.test",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert new_password.returncode == 0, new_password.stderr
    reset = _vipbot(tmp_path, "reset-2fa", "--email", "beheer@p.test")
    assert reset.returncode == 0, reset.stderr
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

    assert _vipbot(tmp_path, "list").returncode == 0  # creates the database
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vipbot.db'}")
    try:
        org = await SqlOrganisationRepository(session_factory(engine)).add_organisation(
            "Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
        )
    finally:
        await engine.dispose()
    required = _vipbot(tmp_path, "require-2fa", "--organisation", "de-linde")
    assert required.returncode == 0, required.stderr
    assert "now need a second factor" in required.stdout
    unknown = _vipbot(tmp_path, "require-2fa", "--organisation", "nobody")
    assert unknown.returncode == 1
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vipbot.db'}")
    try:
        assert await SqlConsolePolicy(engine).requires_totp(org.id)
        off = _vipbot(tmp_path, "require-2fa", "--organisation", "de-linde", "--off")
        assert off.returncode == 0, off.stderr
        assert not await SqlConsolePolicy(engine).requires_totp(org.id)
    finally:
        await engine.dispose()
