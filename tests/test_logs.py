from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging, get_logger, log_failure


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_sensitive_fields_and_credentials_never_reach_the_log() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    log = get_logger("test")
    log.info("received", text="CANARY-TEXT", token="xoxb-123-456", team="T1")
    log.info("leaked into free text: xoxb-999-888 and Bearer abc.def.ghi")
    logging.getLogger("some.library").warning("payload", extra={"body": "CANARY-BODY", "status": 200})
    out = stream.getvalue()
    assert "CANARY" not in out
    assert "xoxb-" not in out
    assert "abc.def.ghi" not in out
    records = _lines(stream)
    assert records[0]["team"] == "T1"
    assert records[2]["status"] == 200


def test_library_debug_output_is_silenced() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream)
    logging.getLogger("slack_bolt.App").debug("request body: %s", "CANARY")
    logging.getLogger("microsoft_agents.hosting.core").info("activity %s", "CANARY")
    logging.getLogger("microsoft_agents.hosting.core.connector").error("v3/conversations/%s failed", "CANARY")
    assert "CANARY" not in stream.getvalue()


def test_a_migrating_start_shows_its_migrations_not_alembics_plugin_setup() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("alembic.runtime.plugins").info("setup plugin %s", "alembic.autogenerate.schemas")
    logging.getLogger("alembic.runtime.migration").info(
        "Running upgrade %s -> %s, %s", None, "0001", "tenancy"
    )
    logging.getLogger("alembic.runtime.plugins").warning("plugin %s failed", "x")
    assert [record["event"] for record in _lines(stream)] == [
        "Running upgrade None -> 0001, tenancy",
        "plugin x failed",
    ]


def test_stdlib_arguments_are_not_interpolated() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("aiohttp.server").error("Error handling request %s", "CANARY-ARG")
    assert "CANARY" not in stream.getvalue()
    assert "Error handling request" in stream.getvalue()


def test_library_messages_are_rendered_with_their_arguments() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("apscheduler.scheduler").info(
        'Added job "%s" to job store "%s"', "outreach-sync", "default"
    )
    logging.getLogger("alembic.runtime.migration").info(
        "Running upgrade %s -> %s, %s", None, "0001", "tenancy"
    )
    logging.getLogger("some.library").info(
        "%d%% done by %(who)s", 50
    )  # a broken template is kept, not raised
    events = [record["event"] for record in _lines(stream)]
    assert events[:2] == [
        'Added job "outreach-sync" to job store "default"',
        "Running upgrade None -> 0001, tenancy",
    ]
    assert len(events) == 3


def test_arguments_of_request_loggers_are_replaced_by_a_marker() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("aiohttp.server").error("Error handling request from %s (%d bytes)", "CANARY-ADDR", 12)
    assert _lines(stream)[0]["event"] == "Error handling request from [redacted] ([redacted] bytes)"


def test_our_positional_arguments_are_rendered_too() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    get_logger("bot.test").info("synced %d schedules", 3)
    assert _lines(stream)[0]["event"] == "synced 3 schedules"


def test_a_failure_is_logged_by_type_and_frames_without_its_message() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    log = get_logger("bot.test")

    def fail() -> None:
        raise ValueError("CANARY-VALUE in the bound parameters")

    try:
        fail()
    except ValueError:
        log_failure(log, "something failed", delivery="d-1")
    (record,) = _lines(stream)
    assert "CANARY" not in stream.getvalue()
    assert record["event"] == "something failed"
    assert record["level"] == "error"
    assert record["error"] == "ValueError"
    assert record["delivery"] == "d-1"
    frames = record["frames"]
    assert isinstance(frames, list)
    assert frames[-1].endswith(" in fail")
    assert frames[-1].startswith("test_logs.py:")
