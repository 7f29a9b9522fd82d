"""Every Adaptive Card the bot sends, checked with Microsoft's `adaptivecards` package (the parser Teams' clients
use): card version 1.5 or lower, no parse or validation events, and a `summary` on every message that carries a
card (without one Teams' chat list says "sent a card"). Runs `tests/js/validate-cards.js` under Node (one
process per test process, kept running and asked once per check: tests/support/node_checker.py); the packages
come from `tests/js/package-lock.json` (`scripts/ensure-node-tools`, called by `make test`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.support.node_checker import node_checker

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


def entries_of_invoke_answer(where: str, answer: Any) -> list[dict[str, Any]]:
    """The card of an invoke's answer (an `Action.Execute` or a card's `refresh`): shown to the clicker instead of
    the card they clicked, so it must render like a sent one (it is no message: it needs no `summary`)."""
    if not isinstance(answer, dict) or answer.get("type") != ADAPTIVE_CARD:
        return []
    return [{"where": where, "card": answer.get("value"), "summary": None, "message": False}]


class InvokeAnswers:
    """Every card the bot answered an invoke with, gathered by an aiohttp middleware on the bot's own application
    (`middleware`), and checked like sent cards (`check`): the test helpers that start the bot add it, so no test
    that clicks a card can forget."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path == "/api/messages" and isinstance(response, web.Response) and response.body:
            try:
                answer = json.loads(bytes(response.body))  # type: ignore[arg-type]
            except ValueError:
                return response
            self.entries += entries_of_invoke_answer(f"invoke answer #{len(self.entries)}", answer)
        return response

    def check(self) -> None:
        problems = card_problems(self.entries)
        assert not problems, "cards answered to invokes that Teams would not render:\n" + "\n".join(problems)


def card_problems(entries: list[dict[str, Any]]) -> list[str]:
    if not entries:
        return []
    node_tools()
    # one validator per test process, kept running between tests (tests/support/node_checker.py)
    problems: list[str] = node_checker(VALIDATOR).ask(entries)
    return problems
