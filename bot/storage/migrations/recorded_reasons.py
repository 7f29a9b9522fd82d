"""Reading the reason text of deliveries that failed before failure codes existed: used by the migration
`outreach_0002` only, once, to give each such row its code. Nothing at runtime reads reason text: the gateways
and the outbox worker hand over a `Failure` with every failure (bot/domain/failures.py).

The reasons recognised here are the ones bot/adapters/slack/gateway.py, bot/adapters/teams/gateway.py and
scheduler/worker.py wrote at the time; keep them as they are, since old rows hold exactly these words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.domain.failures import DETAIL_MAX, SLACK_CODES, TEAMS_REMOVED_CODES, Failure, FailureCode

# Whole reasons, or their fixed beginnings, from the worker and the gateways.
FIXED: tuple[tuple[str, str], ...] = (
    ("nothing to post (item removed or cancelled)", "nothing_to_post"),
    ("internal error:", "internal"),
    ("no Slack installation for workspace", "slack_removed"),
    ("the bot is not installed in this Teams conversation", "teams_removed"),
    ("the Teams connector refused the bot's token", "teams_credentials"),
    ("the Microsoft login endpoint refused the bot's credentials", "teams_credentials"),
    ("the Teams connector failed", "transient"),
    ("the Teams connector is unreachable", "transient"),
    ("the Microsoft login endpoint is unreachable", "transient"),
    ("Teams throttled the bot", "transient"),
)
_GAVE_UP = re.compile(r"gave up after (\d+) attempts: (.*)", re.DOTALL)
_SLACK = re.compile(r"([a-z]+\.[A-Za-z0-9]+): (.*)", re.DOTALL)
_SLACK_CODE = re.compile(r"[a-z][a-z0-9_]{1,60}")
_TEAMS_REMOVED = re.compile(r"the bot was removed from the conversation \((\w*)\)")
_HTTP = re.compile(r"\bHTTP (\d{3})\b")
_NOT_CONFIGURED = re.compile(r"(slack|teams) not configured")


def _gave_up(reason: str) -> Failure | None:
    # Only transient failures are tried again, so what gave up was a platform outage of some kind.
    if not (found := _GAVE_UP.fullmatch(reason)):
        return None
    if "outcome is unknown" in found.group(2):
        return Failure(FailureCode.OUTCOME_UNKNOWN)
    return Failure(FailureCode.GAVE_UP, found.group(1))


def _server_error(reason: str) -> Failure | None:
    found = _HTTP.search(reason)
    return Failure(FailureCode.TRANSIENT) if found and found.group(1).startswith("5") else None


def _fixed(reason: str) -> Failure | None:
    for start, key in FIXED:
        if reason.startswith(start):
            return Failure(FailureCode(key))
    return Failure(FailureCode.TRANSIENT) if _NOT_CONFIGURED.fullmatch(reason) else None


def _teams_removed(reason: str) -> Failure | None:
    if not (found := _TEAMS_REMOVED.fullmatch(reason)):
        return None
    # a 404 says the chat is gone
    return Failure(FailureCode(TEAMS_REMOVED_CODES.get(found.group(1), "teams_gone")))


def _slack(reason: str) -> Failure | None:
    if not (found := _SLACK.fullmatch(reason)):
        return None
    error = found.group(2)
    if "outcome is unknown" in error:
        return Failure(FailureCode.OUTCOME_UNKNOWN)
    if error.startswith(("Slack answered", "Slack kept answering", "no answer from Slack")):
        return Failure(FailureCode.TRANSIENT)
    if error in SLACK_CODES:
        return Failure(FailureCode(SLACK_CODES[error]))
    return Failure(FailureCode.OTHER_CODE, error[:DETAIL_MAX]) if _SLACK_CODE.fullmatch(error) else None


def _http_code(reason: str) -> Failure | None:
    found = _HTTP.search(reason)
    return Failure(FailureCode.OTHER_CODE, f"HTTP {found.group(1)}") if found else None


_READERS: tuple[Callable[[str], Failure | None], ...] = (
    _gave_up,
    _server_error,
    _fixed,
    _teams_removed,
    _slack,
    _http_code,
)


def classify(reason: str) -> Failure:
    """What a recorded failure reason means. Pure; the detail is never any of `reason`'s free text."""
    reason = reason.strip()
    for read in _READERS:
        if (found := read(reason)) is not None:
            return found
    return Failure(FailureCode.OTHER)
