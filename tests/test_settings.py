from __future__ import annotations

import logging
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import describe_database, ensure_secret_key, load_settings
from tests.support.net import free_port, wait_for_http
from tests.support.process import seed_migrated_database, start_vipbot, stop, vipbot_env

# A password that must never be printed, whatever goes wrong with the URL that carries it.
PASSWORD = "pw-9c41e7d2-never-print"


def test_defaults_are_the_embedded_service(tmp_path: Path) -> None:
    settings = load_settings({"VIPBOT_DATA_DIR": str(tmp_path)}, dotenv_path=None)
    assert settings.uses_embedded_database
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'vipbot.db'}"
    assert settings.port == 8080
    assert settings.public_base_url == "http://127.0.0.1:8080"
    assert settings.default_timezone == "Europe/Amsterdam"


def test_plain_postgres_url_gets_the_async_driver() -> None:
    settings = load_settings({"VIPBOT_DATABASE_URL": "postgres://u:p@db/vipbot"}, dotenv_path=None)
    assert settings.effective_database_url == "postgresql+asyncpg://u:p@db/vipbot"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"VIPBOT_PORT": "eighty"}, "VIPBOT_PORT"),
        ({"VIPBOT_PORT": "70000"}, "VIPBOT_PORT"),
        ({"VIPBOT_ENV": "staging"}, "VIPBOT_ENV"),
        ({"VIPBOT_DATABASE_URL": "mysql://x"}, "VIPBOT_DATABASE_URL"),
        ({"VIPBOT_DATABASE_URL": "postgresql+psycopg2://u@db/vipbot"}, "VIPBOT_DATABASE_URL"),
        ({"VIPBOT_DATABASE_URL": "postgresql://u:p@db:five/vipbot"}, "VIPBOT_DATABASE_URL"),
        ({"VIPBOT_DATABASE_URL": "not a url"}, "VIPBOT_DATABASE_URL"),
        ({"VIPBOT_BASE_URL": "vipbot.example"}, "VIPBOT_BASE_URL"),
        ({"VIPBOT_DEFAULT_TIMEZONE": "Mars/Olympus"}, "VIPBOT_DEFAULT_TIMEZONE"),
        ({"VIPBOT_ENV": "production", "VIPBOT_BASE_URL": "https://vp.example"}, "VIPBOT_SECRET_KEY"),
        ({"VIPBOT_SECRET_KEY": "short"}, "VIPBOT_SECRET_KEY"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"MICROSOFT_APP_ID": "abc"}, "MICROSOFT_APP_PASSWORD"),
    ],
)
def test_a_bad_setting_names_its_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ, dotenv_path=None)
    assert caught.value.variable == variable


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("VIPBOT_PORT=9000\nVIPBOT_HOST=0.0.0.0\n", encoding="utf-8")
    settings = load_settings({"VIPBOT_PORT": "9100"}, dotenv_path=dotenv)
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"  # noqa: S104


def test_accepted_database_urls() -> None:
    for url in (
        "postgresql://u:p@db:5432/vipbot",
        "postgresql+asyncpg://u@db/vipbot",
        "sqlite:////var/lib/vipbot/vipbot.db",
        "sqlite+aiosqlite:///vipbot.db",
        "postgresql://postgres@/postgres?host=/run/postgresql",
    ):
        assert load_settings({"VIPBOT_DATABASE_URL": url}, dotenv_path=None).database_url == url


def test_a_database_is_described_without_user_or_password() -> None:
    described = describe_database(f"postgresql+asyncpg://vipbot:{PASSWORD}@db.internal:6543/vp")
    assert described == "postgresql on db.internal:6543, database vp"
    assert describe_database("postgresql+asyncpg://postgres@/postgres?host=/run/pg") == (
        "postgresql on /run/pg, database postgres"
    )


def test_secret_key_is_generated_once_into_the_data_dir(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({"VIPBOT_DATA_DIR": str(tmp_path)}, dotenv_path=None)
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        first = ensure_secret_key(settings)
        second = ensure_secret_key(settings)
    warnings = [r for r in caplog.records if r.name == "bot.settings" and r.levelno == logging.WARNING]
    # Loud: every start on the generated key says where it lies and what to do instead, not only the first.
    assert len(warnings) == 2
    assert "generated a secret key" in warnings[0].getMessage()
    for warning in warnings:
        assert "data folder" in warning.getMessage()
        assert "VIPBOT_SECRET_KEY_FILE" in warning.getMessage()
        assert warning.__dict__["path"] == str(tmp_path / "secret_key")
    assert first.secret_key is not None
    assert second.secret_key is not None
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()
    assert len(first.secret_key.get_secret_value()) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first.secret_key.get_secret_value() not in repr(first)


def test_cli_reports_a_bad_setting_in_one_line_with_exit_code_2(tmp_path: Path) -> None:
    env = {**os.environ, "VIPBOT_PORT": "not-a-port", "VIPBOT_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "VIPBOT_PORT" in lines[0]
    assert not (tmp_path / "vipbot.db").exists()


def _bad_data_dir_file(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    return {"VIPBOT_DATA_DIR": str(tmp_path / "a-file")}


def _data_dir_under_a_file(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    return {"VIPBOT_DATA_DIR": str(tmp_path / "a-file" / "data")}


def _unreachable_postgres(_tmp_path: Path) -> dict[str, str]:
    # A loopback port nobody listens on: refused at once, even as root.
    return {"VIPBOT_DATABASE_URL": f"postgresql://vipbot:{PASSWORD}@127.0.0.1:{free_port()}/vipbot"}


BAD_STARTS: list[tuple[str, Callable[[Path], dict[str, str]], str]] = [
    ("port out of range", lambda _p: {"VIPBOT_PORT": "70000"}, "VIPBOT_PORT"),
    ("data dir is a file", _bad_data_dir_file, "VIPBOT_DATA_DIR"),
    ("data dir cannot be created", _data_dir_under_a_file, "VIPBOT_DATA_DIR"),
    # /proc exists and is a folder, but nobody can create files in it, root included.
    ("data dir unwritable", lambda _p: {"VIPBOT_DATA_DIR": "/proc"}, "VIPBOT_DATA_DIR"),
    ("content dir missing", lambda p: {"VIPBOT_CONTENT_DIR": str(p / "no-content")}, "VIPBOT_CONTENT_DIR"),
    (
        "database url with an unknown scheme",
        lambda _p: {"VIPBOT_DATABASE_URL": f"mysql://vipbot:{PASSWORD}@db/vipbot"},
        "VIPBOT_DATABASE_URL",
    ),
    (
        "database url that does not parse",
        lambda _p: {"VIPBOT_DATABASE_URL": f"postgresql://vipbot:{PASSWORD}@db:port/vipbot"},
        "VIPBOT_DATABASE_URL",
    ),
    ("database unreachable", _unreachable_postgres, "VIPBOT_DATABASE_URL"),
    (
        "production without a secret key",
        lambda _p: {"VIPBOT_ENV": "production", "VIPBOT_BASE_URL": "https://vp.example"},
        "VIPBOT_SECRET_KEY",
    ),
    (
        "production with a key of one repeated character",
        lambda _p: {
            "VIPBOT_ENV": "production",
            "VIPBOT_BASE_URL": "https://vp.example",
            "VIPBOT_SECRET_KEY": "a" * 32,
        },
        "VIPBOT_SECRET_KEY",
    ),
    (
        "production with a weak key in a key file",
        lambda p: _key_file(p, "changeme" * 5, VIPBOT_ENV="production", VIPBOT_BASE_URL="https://vp.example"),
        "VIPBOT_SECRET_KEY_FILE",
    ),
    (
        "key file missing",
        lambda p: {"VIPBOT_SECRET_KEY_FILE": str(p / "no-such-key")},
        "VIPBOT_SECRET_KEY_FILE",
    ),
]


def _key_file(folder: Path, key: str, **extra: str) -> dict[str, str]:
    path = folder / "keys" / "vipbot.key"
    path.parent.mkdir(exist_ok=True)
    path.write_text(key + "\n", encoding="utf-8")
    return {"VIPBOT_SECRET_KEY_FILE": str(path), **extra}


def _run_vipbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _assert_one_line_naming(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"vipbot: configuration error: {variable}: "), lines[0]
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr
    assert PASSWORD not in result.stdout


@pytest.mark.parametrize(("make_env", "variable"), [pytest.param(m, v, id=name) for name, m, v in BAD_STARTS])
def test_serve_stops_on_a_bad_setting_with_one_line_and_exit_code_2(
    tmp_path: Path, make_env: Callable[[Path], dict[str, str]], variable: str
) -> None:
    data = tmp_path / "data"
    env = vipbot_env(data, free_port(), **make_env(tmp_path))
    result = _run_vipbot(["serve"], env, tmp_path)
    _assert_one_line_naming(result, variable)
    # Nothing was written on the way to the refusal: no secret key generated, no database created.
    assert not (data / "secret_key").exists()
    assert not (data / "vipbot.db").exists()


@pytest.mark.parametrize(
    "args", [["db", "upgrade"], ["db", "current"], ["org", "list"], ["admin", "list"]], ids=" ".join
)
def test_other_commands_report_an_unreachable_database_the_same_way(tmp_path: Path, args: list[str]) -> None:
    env = vipbot_env(tmp_path / "data", free_port(), **_unreachable_postgres(tmp_path))
    _assert_one_line_naming(_run_vipbot(args, env, tmp_path), "VIPBOT_DATABASE_URL")


@pytest.mark.parametrize("args", [["db", "upgrade"], ["org", "list"]], ids=" ".join)
def test_other_commands_report_an_unusable_data_dir_the_same_way(tmp_path: Path, args: list[str]) -> None:
    env = vipbot_env(tmp_path / "data", free_port(), **_data_dir_under_a_file(tmp_path))
    _assert_one_line_naming(_run_vipbot(args, env, tmp_path), "VIPBOT_DATA_DIR")


@pytest.mark.postgres
async def test_a_database_missing_on_a_running_server_is_a_configuration_error(
    tmp_path: Path, postgres_server: str
) -> None:
    from tests.support.databases import create_database, drop_database

    url, name = await create_database(postgres_server)
    await drop_database(postgres_server, name)  # the server answers, the database is gone
    env = vipbot_env(tmp_path / "data", free_port(), VIPBOT_DATABASE_URL=url)
    result = _run_vipbot(["db", "upgrade"], env, tmp_path)
    _assert_one_line_naming(result, "VIPBOT_DATABASE_URL")
    assert name in result.stderr  # says which database, so the operator can tell a typo from an outage


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_serve_stops_on_a_taken_port_before_starting_anything(tmp_path: Path, taken_port: int) -> None:
    data = tmp_path / "data"
    result = _run_vipbot(["serve"], vipbot_env(data, taken_port), tmp_path)
    _assert_one_line_naming(result, "VIPBOT_PORT")
    assert str(taken_port) in result.stderr
    assert not (data / "vipbot.db").exists()
    assert not (data / "secret_key").exists()


PRODUCTION = {"VIPBOT_ENV": "production", "VIPBOT_BASE_URL": "https://vp.example", "VIPBOT_TEAMS": "false"}


@pytest.mark.parametrize(
    "key",
    [
        "a" * 32,
        "ab" * 20,
        "changeme" * 4,
        "abcdefghijklmnopqrstuvwxyz012345",
        "0123456789012345678901234567890123456789",
        "x" * 31 + "Q",
        "aaaabbbbaaaabbbbaaaacccc" + "ddddaaaa",
    ],
)
def test_production_refuses_a_weak_key(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**PRODUCTION, "VIPBOT_SECRET_KEY": key}, dotenv_path=None)
    assert caught.value.variable == "VIPBOT_SECRET_KEY"
    assert "too weak" in caught.value.problem
    assert key not in str(caught.value)


def test_production_accepts_generated_keys_and_development_keeps_a_weak_one() -> None:
    for key in (secrets.token_urlsafe(32), secrets.token_urlsafe(48), secrets.token_hex(32)):
        settings = load_settings({**PRODUCTION, "VIPBOT_SECRET_KEY": key}, dotenv_path=None)
        assert settings.secret_key is not None
        assert settings.secret_key.get_secret_value() == key
    assert load_settings({"VIPBOT_SECRET_KEY": "a" * 32}, dotenv_path=None).secret_key is not None


def test_the_key_file_outside_the_data_folder_provides_the_key(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(48)
    environ = {**PRODUCTION, **_key_file(tmp_path, key), "VIPBOT_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(environ, dotenv_path=None)
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == key
    assert ensure_secret_key(settings) is settings  # nothing generated into the data folder
    assert not (tmp_path / "data" / "secret_key").exists()
    assert key not in repr(settings)


def test_a_key_file_inside_the_data_folder_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "keys").mkdir()
    with caplog.at_level(logging.WARNING, logger="bot.settings"):
        load_settings(
            {**_key_file(tmp_path, secrets.token_urlsafe(48)), "VIPBOT_DATA_DIR": str(tmp_path)},
            dotenv_path=None,
        )
    assert any("inside the data folder" in r.getMessage() for r in caplog.records)


def test_key_and_key_file_together_are_refused(tmp_path: Path) -> None:
    environ = {
        **_key_file(tmp_path, secrets.token_urlsafe(48)),
        "VIPBOT_SECRET_KEY": secrets.token_urlsafe(48),
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(environ, dotenv_path=None)
    assert caught.value.variable == "VIPBOT_SECRET_KEY_FILE"


async def test_serve_on_the_generated_key_says_so_in_its_log(tmp_path: Path, sqlite_template: Path) -> None:
    data = tmp_path / "data"
    seed_migrated_database(data, sqlite_template)  # a database, but no key yet
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = start_vipbot(["serve"], vipbot_env(data, port), tmp_path, log)
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
        finally:
            stop(process)
    text = log_path.read_text(encoding="utf-8")
    assert "the secret key lies in the data folder" in text
    assert "VIPBOT_SECRET_KEY_FILE" in text
