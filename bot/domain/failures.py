"""Why a delivery failed, as a code: what the outbox stores beside the technical reason, and the console shows.

The outbox keeps the technical reason for operators (`vipbot schedule status` shows it): Slack's method and error
code, the Teams connector's answer, or the worker's own reason. When a delivery fails, `classify(reason)` turns
that reason into a `FailureCode` (and at most a short platform error code or an attempt count as its detail),
stored in the row; the console maps the code to a locale key and never reads the reason.

The reasons recognised here are written in bot/adapters/slack/gateway.py, bot/adapters/teams/gateway.py and
scheduler/worker.py. Classifying where the failure is recorded keeps the parsing in one place; a gateway that
knows its code can later hand it over directly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class FailureCode(StrEnum):
    """What went wrong with a delivery, for the people who can act on it (locale keys use the same words)."""

    CHANNEL_ARCHIVED = "channel_archived"
    CHANNEL_NOT_FOUND = "channel_not_found"
    NOT_IN_CHANNEL = "not_in_channel"
    PERSON_GONE = "person_gone"
    NOT_A_PERSON = "not_a_person"
    SLACK_REMOVED = "slack_removed"
    SLACK_PERMISSION = "slack_permission"
    SLACK_RESTRICTED = "slack_restricted"
    CONTENT_REJECTED = "content_rejected"
    TRANSIENT = "transient"
    TEAMS_REMOVED = "teams_removed"
    TEAMS_DISABLED = "teams_disabled"
    TEAMS_GONE = "teams_gone"
    TEAMS_CREDENTIALS = "teams_credentials"
    NOTHING_TO_POST = "nothing_to_post"
    INTERNAL = "internal"
    OUTCOME_UNKNOWN = "outcome_unknown"
    GAVE_UP = "gave_up"  # detail: the number of attempts
    OTHER_CODE = "other_code"  # detail: the platform's short error code ("is_archived", "HTTP 400")
    OTHER = "other"


# Slack's error code (after "<method>: ") → what it means for the counsellor.
SLACK_CODES: dict[str, str] = {
    "is_archived": "channel_archived",
    "channel_not_found": "channel_not_found",
    "not_in_channel": "not_in_channel",
    "user_not_found": "person_gone",
    "users_not_found": "person_gone",
    "user_disabled": "person_gone",
    "cannot_dm_bot": "not_a_person",
    "account_inactive": "slack_removed",  # with a bot token: the workspace or the app's bot user is gone
    "invalid_auth": "slack_removed",
    "not_authed": "slack_removed",
    "token_revoked": "slack_removed",
    "token_expired": "slack_removed",
    "app_uninstalled": "slack_removed",
    "missing_scope": "slack_permission",
    "team_access_not_granted": "slack_permission",
    "restricted_action": "slack_restricted",
    "ekm_access_denied": "slack_restricted",
    "msg_too_long": "content_rejected",
    "invalid_blocks": "content_rejected",
    "no_text": "content_rejected",
    "rate limited": "transient",
}
# The Teams connector's error code in "the bot was removed from the conversation (<code>)".
TEAMS_REMOVED_CODES: dict[str, str] = {
    "BotNotInConversationRoster": "teams_removed",
    "BotDisabledByAdmin": "teams_disabled",
}
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


DETAIL_MAX = 64


@dataclass(frozen=True, slots=True)
class Failure:
    """A failure's code and its detail (a short platform code or an attempt count; never free text)."""

    code: FailureCode
    detail: str | None = None


def _gave_up(reason: str) -> Failure | None:
    # Only transient failures are tried again, so what gave up was a platform outage of some kind.
    if not (found := _GAVE_UP.fullmatch(reason)):
        return None
    if "outcome is unknown" in found.group(2):
        return Failure(FailureCode("outcome_unknown"))
    return Failure(FailureCode.GAVE_UP, found.group(1))


def _server_error(reason: str) -> Failure | None:
    found = _HTTP.search(reason)
    return Failure(FailureCode("transient")) if found and found.group(1).startswith("5") else None


def _fixed(reason: str) -> Failure | None:
    for start, key in FIXED:
        if reason.startswith(start):
            return Failure(FailureCode(key))
    return Failure(FailureCode("transient")) if _NOT_CONFIGURED.fullmatch(reason) else None


def _teams_removed(reason: str) -> Failure | None:
    if not (found := _TEAMS_REMOVED.fullmatch(reason)):
        return None
    return Failure(
        FailureCode(TEAMS_REMOVED_CODES.get(found.group(1), "teams_gone"))
    )  # a 404 says the chat is gone


def _slack(reason: str) -> Failure | None:
    if not (found := _SLACK.fullmatch(reason)):
        return None
    error = found.group(2)
    if "outcome is unknown" in error:
        return Failure(FailureCode("outcome_unknown"))
    if error.startswith(("Slack answered", "Slack kept answering", "no answer from Slack")):
        return Failure(FailureCode("transient"))
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
