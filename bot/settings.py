"""Settings, validated once at start.

Only `bot.__main__` reads the process environment; it hands the mapping to `load_settings`, so tests and the
composition root can build settings from any mapping.
"""

from __future__ import annotations

import base64
import os
import secrets
import tempfile
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.errors import ConfigError
from bot.logs import get_logger
from bot.security.secret import key_weakness

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

log = get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CONTENT = PROJECT_ROOT / "content"
SECRET_KEY_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
MIN_SECRET_KEY_LENGTH = 32
DATA_FOLDER_KEY_WARNING = (
    "the secret key lies in the data folder, so any copy or backup of that folder holds every key: "
    "for anything but local development set VIPBOT_SECRET_KEY_FILE to a file outside it (or VIPBOT_SECRET_KEY)"
)
GENERATED_KEY_WARNING = "generated a secret key into the data directory; " + DATA_FOLDER_KEY_WARNING
GENERATE_KEY_HINT = "generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
# The async drivers vipbot ships with; the plain schemes people paste are mapped onto them.
DATABASE_DRIVERS = frozenset({"sqlite+aiosqlite", "postgresql+asyncpg"})


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    AUTO = "auto"  # readable on a terminal, JSON otherwise
    JSON = "json"
    CONSOLE = "console"


Port = Annotated[int, Field(ge=1, le=65535)]


class Settings(BaseModel):
    """Every setting vipbot knows, keyed by the environment variable that sets it."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    env: Environment = Field(Environment.DEVELOPMENT, alias="VIPBOT_ENV")
    data_dir: Path = Field(Path("data"), alias="VIPBOT_DATA_DIR")
    content_dir: Path = Field(BUNDLED_CONTENT, alias="VIPBOT_CONTENT_DIR")
    database_url: str | None = Field(None, alias="VIPBOT_DATABASE_URL")
    host: str = Field("127.0.0.1", alias="VIPBOT_HOST")
    port: Port = Field(8080, alias="VIPBOT_PORT")
    # Prometheus metrics: their own listener, never beside the portal; loopback unless told otherwise.
    metrics: bool = Field(True, alias="VIPBOT_METRICS")
    metrics_host: str = Field("127.0.0.1", alias="VIPBOT_METRICS_HOST")
    metrics_port: Port = Field(9464, alias="VIPBOT_METRICS_PORT")
    base_url: str | None = Field(None, alias="VIPBOT_BASE_URL")
    portal_url: str | None = Field(None, alias="VIPBOT_PORTAL_URL")
    secret_key: SecretStr | None = Field(None, alias="VIPBOT_SECRET_KEY")
    # A file holding the key, kept outside the data folder so a copy of that folder does not carry it.
    secret_key_file: Path | None = Field(None, alias="VIPBOT_SECRET_KEY_FILE")
    log_level: str = Field("INFO", alias="VIPBOT_LOG_LEVEL")
    log_format: LogFormat = Field(LogFormat.AUTO, alias="VIPBOT_LOG_FORMAT")
    default_timezone: str = Field("Europe/Amsterdam", alias="VIPBOT_DEFAULT_TIMEZONE")
    retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(90, alias="VIPBOT_RETENTION_DAYS")
    audit_retention_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        365, alias="VIPBOT_AUDIT_RETENTION_DAYS"
    )
    scheduler_enabled: bool = Field(True, alias="VIPBOT_SCHEDULER")
    outreach_rate: Annotated[float, Field(gt=0, le=1000)] = Field(4.0, alias="VIPBOT_OUTREACH_RATE")
    outreach_in_flight: Annotated[int, Field(ge=1, le=500)] = Field(16, alias="VIPBOT_OUTREACH_IN_FLIGHT")
    outreach_lease_seconds: Annotated[int, Field(ge=5, le=3600)] = Field(60, alias="VIPBOT_OUTREACH_LEASE")
    outreach_max_attempts: Annotated[int, Field(ge=1, le=50)] = Field(8, alias="VIPBOT_OUTREACH_MAX_ATTEMPTS")
    outreach_sync_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(30.0, alias="VIPBOT_OUTREACH_SYNC")

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    slack_member_sync_hours: Annotated[float, Field(gt=0, le=168)] = Field(
        12.0, alias="VIPBOT_SLACK_MEMBER_SYNC_HOURS"
    )
    slack_members_guests: bool = Field(False, alias="VIPBOT_SLACK_MEMBERS_GUESTS")

    microsoft_app_id: str | None = Field(None, alias="MICROSOFT_APP_ID")
    microsoft_app_password: SecretStr | None = Field(None, alias="MICROSOFT_APP_PASSWORD")
    microsoft_app_tenant_id: str | None = Field(None, alias="MICROSOFT_APP_TENANT_ID")
    microsoft_app_type: str = Field("MultiTenant", alias="MICROSOFT_APP_TYPE")
    # Teams on/off; unset: on when MICROSOFT_APP_ID is set, and in development (unauthenticated local traffic).
    teams: bool | None = Field(None, alias="VIPBOT_TEAMS")
    teams_login_url: str = Field("https://login.microsoftonline.com", alias="VIPBOT_TEAMS_LOGIN_URL")
    teams_openid_metadata_url: str | None = Field(None, alias="VIPBOT_TEAMS_OPENID_METADATA_URL")

    smtp_host: str | None = Field(None, alias="VIPBOT_SMTP_HOST")
    smtp_port: Port = Field(587, alias="VIPBOT_SMTP_PORT")
    smtp_username: str | None = Field(None, alias="VIPBOT_SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="VIPBOT_SMTP_PASSWORD")
    smtp_from: str | None = Field(None, alias="VIPBOT_SMTP_FROM")
    smtp_starttls: bool = Field(True, alias="VIPBOT_SMTP_STARTTLS")

    portal_pow_bits: Annotated[int, Field(ge=0, le=24)] = Field(16, alias="VIPBOT_PORTAL_POW_BITS")
    digest_hours: Annotated[int, Field(ge=1, le=168)] = Field(24, alias="VIPBOT_DIGEST_HOURS")
    # Files in portal conversations (PDFs and images), both ways: the largest one taken, in MB.
    portal_file_mb: Annotated[int, Field(ge=1, le=25)] = Field(5, alias="VIPBOT_PORTAL_FILE_MB")
    # What the portal says a counsellor usually answers within, in working days.
    portal_reply_days: Annotated[int, Field(ge=1, le=30)] = Field(3, alias="VIPBOT_PORTAL_REPLY_DAYS")
    # A reply notice goes out after a random delay between these bounds (minutes), so its time says little.
    notice_delay_min_minutes: Annotated[int, Field(ge=0, le=1440)] = Field(
        20, alias="VIPBOT_NOTICE_DELAY_MIN_MINUTES"
    )
    notice_delay_max_minutes: Annotated[int, Field(ge=1, le=2880)] = Field(
        180, alias="VIPBOT_NOTICE_DELAY_MAX_MINUTES"
    )
    # Web Push: host names (or suffixes) of the push services a browser's subscription may point at.
    push_hosts: str = Field(
        "fcm.googleapis.com,updates.push.services.mozilla.com,push.services.mozilla.com,notify.windows.com,"
        "push.apple.com",
        alias="VIPBOT_PUSH_HOSTS",
    )
    # Who push services may contact about this sender (a `mailto:` or `https:` URL); by default the mail sender
    # address or the service's public address.
    push_contact: str | None = Field(None, alias="VIPBOT_PUSH_CONTACT")
    inbox_unlock_minutes: Annotated[int, Field(ge=5, le=480)] = Field(30, alias="VIPBOT_INBOX_UNLOCK_MINUTES")

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        # SQLAlchemy's own parser decides what it accepts; imported only when a URL is given, so that a start
        # on the embedded default that fails on another setting reports it without loading SQLAlchemy.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        # The messages never repeat the value: a database URL may carry a password.
        try:
            parsed = make_url(normalise_database_url(value))
        except (ArgumentError, ValueError):
            raise ValueError(
                "is not a database URL such as postgresql://user:password@host:5432/vipbot"
            ) from None
        if parsed.drivername not in DATABASE_DRIVERS:
            raise ValueError(
                "must start with postgresql:// (postgresql+asyncpg://) or sqlite:// (sqlite+aiosqlite://)"
            )
        return value

    @field_validator(
        "base_url", "portal_url", "slack_api_url", "teams_login_url", "teams_openid_metadata_url"
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known IANA time zone such as Europe/Amsterdam") from exc
        return value

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'vipbot.db').resolve()}"

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def teams_enabled(self) -> bool:
        if self.teams is None:
            return bool(self.microsoft_app_id) or not self.is_production
        return self.teams

    @property
    def public_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def public_portal_url(self) -> str:
        return (self.portal_url or f"{self.public_base_url}/portal").rstrip("/")


def normalise_database_url(url: str) -> str:
    """Accept the plain scheme people paste from their provider and pick the async driver for them."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def load_settings(environ: Mapping[str, str], dotenv_path: Path | None = Path(".env")) -> Settings:
    """Build settings from a `.env` file (if present) overlaid by `environ`; raise ConfigError on the first problem."""
    values: dict[str, Any] = {}
    if dotenv_path is not None and dotenv_path.is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update({k: v for k, v in environ.items() if k.startswith(("VIPBOT_", "SLACK_", "MICROSOFT_APP_"))})
    values = {k: v for k, v in values.items() if v != ""}
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise _first_problem(exc) from None
    settings = _read_secret_key_file(settings)
    _check_consistency(settings)
    return settings


def _read_secret_key_file(settings: Settings) -> Settings:
    """Settings carrying the key from VIPBOT_SECRET_KEY_FILE, when that is set; ConfigError naming it otherwise."""
    path = settings.secret_key_file
    if path is None:
        return settings
    if settings.secret_key is not None:
        raise ConfigError(
            "VIPBOT_SECRET_KEY_FILE", "set either VIPBOT_SECRET_KEY or VIPBOT_SECRET_KEY_FILE, not both"
        )
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not readable as text"
        raise ConfigError("VIPBOT_SECRET_KEY_FILE", f"cannot read {path} ({reason})") from None
    if not key:
        raise ConfigError("VIPBOT_SECRET_KEY_FILE", f"{path} is empty")
    if _inside(path, settings.data_dir):
        log.warning(
            "the secret key file is inside the data folder: a copy or backup of that folder holds every key; "
            "move it elsewhere and point VIPBOT_SECRET_KEY_FILE at it",
            path=str(path),
        )
    return settings.model_copy(update={"secret_key": SecretStr(key)})


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _first_problem(exc: ValidationError) -> ConfigError:
    error = exc.errors()[0]
    variable = str(error["loc"][0]) if error["loc"] else "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    return ConfigError(variable, message)


def _check_consistency(settings: Settings) -> None:
    key = settings.secret_key
    if settings.is_production and key is None:
        raise ConfigError(
            "VIPBOT_SECRET_KEY", "is required when VIPBOT_ENV=production (or VIPBOT_SECRET_KEY_FILE)"
        )
    variable = "VIPBOT_SECRET_KEY_FILE" if settings.secret_key_file is not None else "VIPBOT_SECRET_KEY"
    if key is not None and len(key.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(variable, f"must be at least {MIN_SECRET_KEY_LENGTH} characters")
    if settings.is_production and key is not None:
        weakness = key_weakness(key.get_secret_value())
        if weakness is not None:
            raise ConfigError(variable, f"is too weak for production: {weakness}; {GENERATE_KEY_HINT}")
    if settings.is_production and settings.base_url is None:
        raise ConfigError("VIPBOT_BASE_URL", "is required when VIPBOT_ENV=production")
    if settings.notice_delay_max_minutes < settings.notice_delay_min_minutes:
        raise ConfigError(
            "VIPBOT_NOTICE_DELAY_MAX_MINUTES", "must be at least VIPBOT_NOTICE_DELAY_MIN_MINUTES"
        )
    if settings.slack_client_id and not settings.slack_client_secret:
        raise ConfigError("SLACK_CLIENT_SECRET", "is required when SLACK_CLIENT_ID is set")
    slack_configured = settings.slack_bot_token or settings.slack_client_id
    if slack_configured and not settings.slack_signing_secret:
        raise ConfigError("SLACK_SIGNING_SECRET", "is required to accept requests from Slack")
    if settings.microsoft_app_id and not settings.microsoft_app_password:
        raise ConfigError("MICROSOFT_APP_PASSWORD", "is required when MICROSOFT_APP_ID is set")
    if settings.is_production and settings.teams and not settings.microsoft_app_id:
        raise ConfigError(
            "MICROSOFT_APP_ID",
            "is required for Teams when VIPBOT_ENV=production (unauthenticated traffic is for development only); "
            "set VIPBOT_TEAMS=false to run without Teams",
        )


def describe_database(url: str) -> str:
    """Where a database URL points, for messages: backend, host, port and database, never user or password."""
    from sqlalchemy.engine import make_url

    parsed: URL = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"the SQLite file {parsed.database}"
    socket = parsed.query.get("host")
    host = parsed.host or (socket if isinstance(socket, str) else None) or "localhost"
    where = f"{host}:{parsed.port}" if parsed.port else host
    return f"{backend} on {where}, database {parsed.database or '(default)'}"


def prepare_data_dir(settings: Settings) -> Path:
    """The data directory, created when missing and checked to take files; ConfigError naming VIPBOT_DATA_DIR."""
    path = settings.data_dir
    if path.exists() and not path.is_dir():
        raise ConfigError("VIPBOT_DATA_DIR", f"{path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError("VIPBOT_DATA_DIR", f"cannot create the folder {path} ({reason})") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".vipbot-write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError("VIPBOT_DATA_DIR", f"cannot write into the folder {path} ({reason})") from None
    return path


def require_content_dir(settings: Settings) -> Path:
    """The content folder, which must exist; ConfigError naming VIPBOT_CONTENT_DIR otherwise."""
    path = settings.content_dir
    if not path.exists():
        raise ConfigError("VIPBOT_CONTENT_DIR", f"the folder {path} does not exist")
    if not path.is_dir():
        raise ConfigError("VIPBOT_CONTENT_DIR", f"{path} is a file, not a folder")
    return path


def ensure_secret_key(settings: Settings) -> Settings:
    """Return settings that carry a secret key, generating one into the data directory for the embedded default."""
    if settings.secret_key is not None:
        return settings
    path = settings.data_dir / SECRET_KEY_FILE
    if path.is_file():
        key = path.read_text(encoding="ascii").strip()
        log.warning(DATA_FOLDER_KEY_WARNING, path=str(path))
    else:
        prepare_data_dir(settings)
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        log.warning(GENERATED_KEY_WARNING, path=str(path))
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            "VIPBOT_SECRET_KEY", f"the key in {path} is shorter than {MIN_SECRET_KEY_LENGTH} characters"
        )
    return settings.model_copy(update={"secret_key": SecretStr(key)})
