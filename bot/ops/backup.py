"""A consistent snapshot of the database in one archive, and restoring it — the secret key always kept apart.

The archive holds `manifest.json` (format, time, backend, schema revisions, the fingerprint of the secret key)
and the database: `database.sqlite` made with SQLite's online backup API (then vacuumed, so that pages freed by
deleted conversations do not travel along), or `database.pgdump` from `pg_dump --format=custom`. The secret key is
never in it: conversations, tokens and vaults in the database are sealed under that key, so a stolen backup
without the key reveals nothing, and a restore with another key would give a database nobody can read. Restore
therefore refuses a key whose fingerprint differs.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot import __version__
from bot.errors import ConfigError, VipbotError
from bot.ops.keys import KeySource, key_info
from bot.settings import Settings

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PGDUMP_MEMBER = "database.pgdump"
PG_ADVICE = (
    "install the PostgreSQL client tools of the server's major version or newer "
    "(Debian/Ubuntu: apt-get install postgresql-client) so that pg_dump and pg_restore are on PATH"
)


class BackupError(VipbotError):
    """A backup or restore could not be made; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Manifest:
    format: int
    created: str
    vipbot_version: str
    backend: str  # "sqlite" | "postgresql"
    key_fingerprint: str | None
    schema: list[str]

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "format": self.format,
                "created": self.created,
                "vipbot_version": self.vipbot_version,
                "backend": self.backend,
                "key_fingerprint": self.key_fingerprint,
                "schema": self.schema,
            },
            indent=2,
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BackupError("this is not a vipbot backup this version can read")
        return cls(
            format=FORMAT,
            created=str(raw["created"]),
            vipbot_version=str(raw["vipbot_version"]),
            backend=str(raw["backend"]),
            key_fingerprint=raw.get("key_fingerprint"),
            schema=[str(s) for s in raw.get("schema", [])],
        )


def backend_of(settings: Settings) -> str:
    return make_url(settings.effective_database_url).get_backend_name()


def sqlite_path(settings: Settings) -> Path:
    database = make_url(settings.effective_database_url).database
    if not database:
        raise ConfigError("VIPBOT_DATABASE_URL", "an in-memory SQLite database cannot be backed up")
    return Path(database)


# -- making a backup ---------------------------------------------------------------------------------------


def make_backup(settings: Settings, schema: list[str], output: Path) -> Manifest:
    """Write the archive to `output` (mode 0600) and return its manifest. Blocking: run it in a thread."""
    info = key_info(settings)
    backend = backend_of(settings)
    manifest = Manifest(
        format=FORMAT,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        vipbot_version=__version__,
        backend=backend,
        key_fingerprint=info.fingerprint,
        schema=sorted(schema),
    )
    with tempfile.TemporaryDirectory(prefix="vipbot-backup-") as scratch:
        work = Path(scratch)
        if backend == "sqlite":
            member, snapshot = SQLITE_MEMBER, work / SQLITE_MEMBER
            _sqlite_snapshot(sqlite_path(settings), snapshot)
        else:
            member, snapshot = PGDUMP_MEMBER, work / PGDUMP_MEMBER
            _pg_dump(settings, snapshot)
        partial = output.with_name(output.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
            _add_bytes(archive, MANIFEST, manifest.to_json())
            archive.add(snapshot, arcname=member)
        partial.replace(output)
    return manifest


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    item = tarfile.TarInfo(name)
    item.size = len(data)
    item.mode = 0o600
    archive.addfile(item, io.BytesIO(data))


def _sqlite_snapshot(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"there is no database at {source} to back up")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # a consistent copy even while `vipbot serve` writes
        dst.execute("VACUUM")  # drop free pages: what was deleted stays deleted in the copy
        dst.commit()
    finally:
        dst.close()
        src.close()


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password, and the environment that carries it (never on the command line)."""
    url: URL = make_url(settings.effective_database_url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed here: {PG_ADVICE}")
    return path


def _pg_dump(settings: Settings, target: Path) -> None:
    url, env = _libpq(settings)
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", url]
    _run(command, env, "pg_dump")


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].strip() if lines else f"exit code {result.returncode}"
        raise BackupError(f"{what} failed: {reason}")


# -- restoring ---------------------------------------------------------------------------------------------


def read_manifest(archive_path: Path) -> Manifest:
    try:
        with tarfile.open(archive_path, mode="r:gz") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise BackupError(f"{archive_path} has no {MANIFEST}: not a vipbot backup")
            return Manifest.from_json(member.read())
    except (tarfile.TarError, KeyError, OSError, ValueError) as exc:
        raise BackupError(f"cannot read {archive_path} as a vipbot backup ({type(exc).__name__})") from None


def key_problem(settings: Settings, manifest: Manifest) -> str | None:
    """Why the key at hand cannot open this backup, or None when it is the right one."""
    if manifest.key_fingerprint is None:
        return None
    info = key_info(settings)
    if info.source is KeySource.NONE:
        return (
            f"no secret key here: this backup needs the key with fingerprint {manifest.key_fingerprint}; "
            f"set VIPBOT_SECRET_KEY or put the kept key file at {info.path}, then restore again"
        )
    if info.fingerprint != manifest.key_fingerprint:
        return (
            f"the secret key here (fingerprint {info.fingerprint}) is not the one this backup was made with "
            f"(fingerprint {manifest.key_fingerprint}); nothing was changed"
        )
    return None


def restore_sqlite(archive_path: Path, target: Path) -> None:
    """Replace the SQLite file with the backup's, checked for integrity before it takes the old one's place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".vipbot-restore-", dir=target.parent) as scratch:
        staged = Path(scratch) / SQLITE_MEMBER
        _extract(archive_path, SQLITE_MEMBER, staged)
        check = sqlite3.connect(staged)
        try:
            verdict = check.execute("PRAGMA integrity_check").fetchone()
        finally:
            check.close()
        if not verdict or verdict[0] != "ok":
            raise BackupError("the database in the backup is damaged; nothing was changed")
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.chmod(staged, 0o600)
        staged.replace(target)


def restore_postgresql(settings: Settings, archive_path: Path) -> None:
    url, env = _libpq(settings)
    tool = _tool("pg_restore")
    with tempfile.TemporaryDirectory(prefix="vipbot-restore-") as scratch:
        dump = Path(scratch) / PGDUMP_MEMBER
        _extract(archive_path, PGDUMP_MEMBER, dump)
        command = [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            f"--dbname={url}",
            str(dump),
        ]
        _run(command, env, "pg_restore")


def _extract(archive_path: Path, name: str, target: Path) -> None:
    with tarfile.open(archive_path, mode="r:gz") as archive:
        try:
            member = archive.extractfile(name)
        except KeyError:
            member = None
        if member is None:
            raise BackupError(f"{archive_path} has no {name}: was it made from another kind of database?")
        with target.open("wb") as handle:
            shutil.copyfileobj(member, handle)
