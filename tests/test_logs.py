from __future__ import annotations

import io
import json
import logging

from bot.logs import configure_logging, get_logger


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


def test_stdlib_arguments_are_not_interpolated() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("aiohttp.server").error("Error handling request %s", "CANARY-ARG")
    assert "CANARY" not in stream.getvalue()
    assert "Error handling request" in stream.getvalue()
