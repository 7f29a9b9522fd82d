"""Helpers of the Slack adapter tests: payload builders. Signing, the configured service and the running app
are the shared builders of tests/support/slack.py (re-exported here)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.support.slack import (  # noqa: F401  (re-exported)
    SIGNING_SECRET,
    RunningService,
    add_org,
    bot_channel,
    link_workspace,
    linked_org,
    sign,
    signed_headers,
    slack_services,
    start_service,
    stop_service,
)
from tests.support.waiting import eventually  # noqa: F401  (the one polling helper, re-exported)


def event_body(team: str, event: dict[str, Any], *, api_app: str = "A0SIM") -> tuple[bytes, str]:
    body = {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": api_app,
        "event": {"event_ts": f"{time.time():.6f}", **event},
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": f"UB{team}", "is_bot": True}],
    }
    return json.dumps(body).encode(), "application/json"


def command_body(team: str, user: str, text: str = "", *, channel: str = "C0GENERAL") -> tuple[bytes, str]:
    form = {
        "token": "legacy-verification-token",
        "team_id": team,
        "team_domain": "acme",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user,
        "user_name": "someone",
        "command": "/vp",
        "text": text,
        "api_app_id": "A0SIM",
        "response_url": "https://hooks.slack.test/commands/1/2/3",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }
    return urlencode(form).encode(), "application/x-www-form-urlencoded"


def action_body(team: str, user: str, action_id: str = "vp_door_open") -> tuple[bytes, str]:
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0SIM",
        "token": "legacy-verification-token",
        "container": {"type": "view", "view_id": "V1"},
        "trigger_id": "1.2.3",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "b1",
                "type": "button",
                "text": {"type": "plain_text", "text": "x"},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded"


def sqlite_file_bytes(database_url: str) -> bytes:
    """The SQLite database file with its write-ahead log and journal, as they are on disk."""
    path = Path(database_url.split("///", 1)[1])
    files = [path, Path(f"{path}-wal"), Path(f"{path}-journal")]
    return b"".join(f.read_bytes() for f in files if f.exists())
