from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.settings import ensure_secret_key, load_settings


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


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"VIPBOT_DATA_DIR": str(tmp_path)}, dotenv_path=None)
    first = ensure_secret_key(settings)
    second = ensure_secret_key(settings)
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
