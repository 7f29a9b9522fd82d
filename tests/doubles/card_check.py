"""Every Adaptive Card the bot sends, checked with Microsoft's `adaptivecards` package (the parser Teams' clients
use): card version 1.5 or lower, no parse or validation events, and a `summary` on every message that carries a
card (without one Teams' chat list says "sent a card"). Runs `tests/js/validate-cards.js` under Node; the packages
come from `tests/js/package-lock.json` (`scripts/ensure-node-tools`, called by `make test`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent.parent / "js"
VALIDATOR = TOOLS / "validate-cards.js"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def node_tools() -> Path:
    """The installed Node tools; a clear failure (never a skip) when they are missing."""
    if shutil.which("node") is None or not (TOOLS / "node_modules" / "adaptivecards").is_dir():
        raise AssertionError("Node and tests/js/node_modules are needed: run scripts/ensure-node-tools")
    return TOOLS


def entries_of_activity(where: str, activity: Any) -> list[dict[str, Any]]:
    """The cards of one activity the bot sent (a message, or an update of one)."""
    if not isinstance(activity, dict):
        return []
    return [
        {
            "where": where,
            "card": attachment.get("content"),
            "summary": activity.get("summary"),
            "message": activity.get("type") == "message",
        }
        for attachment in activity.get("attachments") or []
        if isinstance(attachment, dict) and attachment.get("contentType") == ADAPTIVE_CARD
    ]


def card_problems(entries: list[dict[str, Any]]) -> list[str]:
    if not entries:
        return []
    node_tools()
    done = subprocess.run(
        ["node", str(VALIDATOR)],
        input=json.dumps(entries),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    problems: list[str] = json.loads(done.stdout)
    return problems
