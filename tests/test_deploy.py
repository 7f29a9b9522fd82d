"""The Dockerfile and docker-compose.yml stay consistent with the CLI and the settings (no Docker engine here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from bot.__main__ import build_parser
from bot.settings import PROJECT_ROOT, Settings, load_settings

DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
KNOWN = {field.alias for field in Settings.model_fields.values()}


def _dockerfile_env() -> dict[str, str]:
    block = re.search(r"^ENV (.+?)(?=^\S)", DOCKERFILE, flags=re.MULTILINE | re.DOTALL)
    assert block is not None
    return dict(re.findall(r"(\w+)=(\S+)", block.group(1)))


def _substitute(value: str) -> str:
    samples = {
        "POSTGRES_PASSWORD": "pw",
        "VIPBOT_SECRET_KEY": "Zq7-compose-sample-Lw3xR9tP2mV8nB4cY6hJ1sD5gF0k",  # production refuses a weak one
        "VIPBOT_BASE_URL": "https://vp.example",
    }

    def one(match: re.Match[str]) -> str:
        return samples.get(match.group(1), "")

    return re.sub(r"\$\{(\w+)[^}]*\}", one, value)


def test_every_variable_the_image_and_compose_set_is_a_setting() -> None:
    assert {k for k in _dockerfile_env() if not k.startswith("PYTHON")} <= KNOWN
    for name in ("vipbot", "migrate"):
        assert set(COMPOSE["services"][name]["environment"]) <= KNOWN, name


def test_compose_settings_are_valid_production_settings() -> None:
    for name in ("vipbot", "migrate"):
        environ = {k: _substitute(str(v)) for k, v in COMPOSE["services"][name]["environment"].items()}
        settings = load_settings({**_dockerfile_env(), **environ}, dotenv_path=None)
        assert settings.is_production
        assert settings.effective_database_url.startswith("postgresql+asyncpg://vipbot:pw@db:5432/")


def test_image_and_compose_commands_are_real_commands() -> None:
    parser = build_parser()
    entrypoint = re.search(r'^ENTRYPOINT \["(\w+)"\]', DOCKERFILE, flags=re.MULTILINE)
    cmd = re.search(r"^CMD (\[.*\])", DOCKERFILE, flags=re.MULTILINE)
    assert entrypoint is not None
    assert cmd is not None
    assert (
        entrypoint.group(1)
        in tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    )
    parser.parse_args(yaml.safe_load(cmd.group(1)))
    for service in ("vipbot", "migrate"):
        parser.parse_args(COMPOSE["services"][service]["command"])


def test_image_runs_as_a_user_with_a_health_check_on_healthz() -> None:
    user = re.search(r"^USER (\S+)", DOCKERFILE, flags=re.MULTILINE)
    assert user is not None
    assert user.group(1) not in {"root", "0"}
    port = _dockerfile_env()["VIPBOT_PORT"]
    assert re.search(rf"HEALTHCHECK .*127\.0\.0\.1:{port}/healthz", DOCKERFILE, flags=re.DOTALL)
    assert f"EXPOSE {port}" in DOCKERFILE
    assert Path(PROJECT_ROOT / _dockerfile_env()["VIPBOT_CONTENT_DIR"].removeprefix("/app/")).is_dir()


def test_the_distribution_ships_every_template_and_static_file() -> None:
    """The image installs a wheel, not the source tree: a page template or stylesheet left out of the package
    data stops `vipbot serve` there at start."""
    package_data: dict[str, list[str]] = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]["package-data"]
    root = PROJECT_ROOT / "bot"
    data_files = [
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    ]
    assert data_files, "expected templates and static files under bot/"
    missing = []
    for path in data_files:
        relative = path.relative_to(PROJECT_ROOT)
        shipped = any(
            relative.is_relative_to(Path(*package.split(".")))
            and any(
                path.relative_to(PROJECT_ROOT / Path(*package.split("."))).match(pattern)
                for pattern in patterns
            )
            for package, patterns in package_data.items()
        )
        if not shipped:
            missing.append(str(relative))
    assert missing == [], f"add these to [tool.setuptools.package-data]: {missing}"
