"""Structured logging with redaction.

Every record — ours and the libraries' — passes the same redaction before it is written, so message bodies,
tokens and secrets cannot reach a log line through a careless `extra=` or a library's debug output.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
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
_CHATTY_LIBRARIES = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "msrest", "aiohttp.client")


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


def _drop_stdlib_extras(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Lift `extra=` fields of stdlib records into the event so the redaction sees them."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_KEYS and not key.startswith("_"):
                event_dict.setdefault(key, value)
        if event_dict.get("_from_structlog") is False:
            # A library's %-arguments could carry anything (payloads, addresses): keep its template only.
            event_dict["event"] = scrub_text(str(record.msg))
    return event_dict


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
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    stream = stream or sys.stderr
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if resolve_format(fmt, stream) == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            _drop_stdlib_extras,
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
