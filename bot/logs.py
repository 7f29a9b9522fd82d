"""Structured logging with redaction: the one logging API of vipbot (`get_logger`, `log_failure`).

Every record — ours and the libraries' — passes the same redaction before it is written, so message bodies,
tokens and secrets cannot reach a log line through a careless keyword or a library's debug output. Library
messages are rendered with their arguments (APScheduler's `Added job "outreach-sync"`, Alembic's
`Running upgrade …`), except those of loggers whose arguments carry request data: there each argument is
replaced by a marker.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"

# Field names whose values never belong in a log line, whatever they hold.
SENSITIVE_KEYS = frozenset(
    {
        "text",
        "body",
        "message_text",
        "content",
        "plaintext",
        "token",
        "bot_token",
        "user_token",
        "access_token",
        "refresh_token",
        "secret",
        "client_secret",
        "signing_secret",
        "password",
        "passphrase",
        "code",
        "receipt",
        "receipt_code",
        "authorization",
        "cookie",
        "set-cookie",
        "payload",
        "user",
        "user_id",
        "email",
        "ip",
        "remote",
        "user_agent",
    }
)

# Values that look like credentials are masked wherever they appear, even inside free text.
_CREDENTIAL_PATTERNS = (
    re.compile(r"xox[abposer]-[A-Za-z0-9-]+"),
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
)

# Libraries that log request payloads at DEBUG: never let them below WARNING.
# alembic.runtime.plugins: one "setup plugin …" line per autogenerate plugin at every start that migrates, seven
# lines of nothing for an operator above the migrations that matter.
_CHATTY_LIBRARIES = ("slack_bolt", "slack_sdk", "aiohttp.client", "alembic.runtime.plugins")
# Libraries that put identifiers (conversation ids, service URLs, tokens' claims) into their lines at every level,
# errors included: silenced; the code that calls them logs what happened in its own words.
# PIL and pypdf log the metadata of the files they read (a photo's camera and GPS position) at debug level.
_IDENTIFYING_LIBRARIES = ("microsoft_agents", "PIL", "pypdf")


# Libraries whose %-arguments can hold request data (payloads, client addresses): their messages keep the template,
# with each argument replaced by REDACTED.
_ARGUMENTS_WITHHELD = (
    "aiohttp.server",
    "aiohttp.access",
    "aiohttp.web",
    "aiohttp.client",
    "slack_bolt",
    "slack_sdk",
    "botbuilder",
    "botframework",
    "microsoft_agents",
    "msrest",
)

# A %-placeholder: `%s`, `%r`, `%d`, `%(name)s`, `%-5.2f` …
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")


def scrub_text(value: str) -> str:
    for pattern in _CREDENTIAL_PATTERNS:
        value = pattern.sub(REDACTED, value)
    return value


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in SENSITIVE_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask sensitive keys and credential-shaped values."""
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _withhold_request_arguments(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """For a library record: keep its arguments for rendering, unless its logger's arguments carry request data."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord) and record.name.startswith(_ARGUMENTS_WITHHELD):
        event_dict["event"] = _PLACEHOLDER.sub(REDACTED, str(record.msg)).replace("%%", "%")
        event_dict.pop("positional_args", None)
    return event_dict


def _drop_stdlib_extras(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift `extra=` fields of stdlib records into the event so the redaction sees them."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_KEYS and not key.startswith("_"):
                event_dict.setdefault(key, value)
    return event_dict


def _render_positional_arguments(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """`PositionalArgumentsFormatter`, tolerant of a library's broken format string (kept as it is)."""
    try:
        return _POSITIONAL(logger, method, event_dict)
    except (TypeError, ValueError, KeyError):
        event_dict.pop("positional_args", None)
        return event_dict


_POSITIONAL = structlog.stdlib.PositionalArgumentsFormatter()


_STANDARD_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def resolve_format(fmt: str, stream: TextIO) -> str:
    """`auto`: readable lines for a person at a terminal, JSON for a log collector (anything that is not one)."""
    if fmt != "auto":
        return fmt
    isatty = getattr(stream, "isatty", None)
    return "console" if callable(isatty) and isatty() else "json"


def configure_logging(level: str = "INFO", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Route stdlib logging and structlog through one redacting formatter."""
    stream = stream or sys.stderr
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            _withhold_request_arguments,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            _render_positional_arguments,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        use_get_message=False,
        pass_foreign_args=True,
        processors=[
            _drop_stdlib_extras,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            make_renderer(resolve_format(fmt, stream)),
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in _IDENTIFYING_LIBRARIES:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    route_structlog_to_stdlib()


def route_structlog_to_stdlib() -> None:
    """Make every structlog call a plain stdlib record: the message rendered, the keywords as record attributes.

    So there is one pipeline (the handler's formatter above) and whatever listens to stdlib logging — pytest's
    log capture included — sees our lines like any library's. Idempotent; tests call it before anything logs.
    """
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,  # a disabled level costs one check, as with stdlib loggers
            structlog.contextvars.merge_contextvars,
            _render_positional_arguments,
            _keep_record_attributes,
            structlog.stdlib.render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _keep_record_attributes(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A keyword named like a LogRecord attribute (`name`, `module` …) would make logging raise: prefix it."""
    for key in [k for k in event_dict if k in _STANDARD_RECORD_KEYS and k not in _LOG_KWARGS]:
        event_dict[f"field_{key}"] = event_dict.pop(key)
    return event_dict


_LOG_KWARGS = frozenset({"exc_info", "stack_info", "stacklevel"})


def make_renderer(fmt: str) -> Any:
    """The last processor: one JSON object per line, or a readable line for a terminal."""
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """The logger of a module: `log = get_logger(__name__)`, then `log.info("event", key=value)`."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def failure_fields(error: BaseException) -> dict[str, Any]:
    """What a log line may say about a failure: its type and where it happened, never its message.

    An exception's text can hold bound SQL values, a payload or a token; its type and frames cannot.
    """
    frames = traceback.extract_tb(error.__traceback__)
    return {
        "error": type(error).__name__,
        "frames": [f"{_short_path(frame.filename)}:{frame.lineno} in {frame.name}" for frame in frames],
    }


def log_failure(logger: Any, event: str, error: BaseException | None = None, **fields: Any) -> None:
    """Log at ERROR that `event` failed, with the failure's type and frames (see `failure_fields`).

    Inside an `except` block `error` may be left out: the exception being handled is used.
    """
    failure = error if error is not None else sys.exception()
    details = failure_fields(failure) if failure is not None else {}
    logger.error(event, **details, **fields)


def _short_path(filename: str) -> str:
    """`bot/storage/outbox.py` rather than a machine's absolute path; libraries by their package path."""
    parts = Path(filename).parts
    for anchor in ("site-packages", "bot", "scheduler"):
        if anchor in parts:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[index + 1 :] if anchor == "site-packages" else parts[index:])
    return Path(filename).name
