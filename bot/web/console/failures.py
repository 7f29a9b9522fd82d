"""Why a delivery failed, in words a counsellor can act on.

The outbox keeps the technical reason for operators (`vipbot schedule status` shows it): Slack's method and error
code, the Teams connector's answer, or the worker's own reason. The console never shows that text. At display
time `explain(reason)` maps the reasons the gateways and the worker write to a locale key under
`console.schedule.failure`, and anything else to a generic sentence that names at most a short platform error
code ("is_archived", "HTTP 400", "BotDisabledByAdmin"), never the stored text itself.

The reasons recognised here are written in bot/adapters/slack/gateway.py, bot/adapters/teams/gateway.py and
scheduler/worker.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

PREFIX = "console.schedule.failure."

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


@dataclass(frozen=True, slots=True)
class Explained:
    """A locale key under `console.schedule.failure` and the values for its placeholders."""

    key: str
    params: tuple[tuple[str, str], ...] = ()

    def text(self, t: Callable[..., str]) -> str:
        return t(PREFIX + self.key, **dict(self.params))


def _gave_up(reason: str) -> Explained | None:
    # Only transient failures are tried again, so what gave up was a platform outage of some kind.
    if not (found := _GAVE_UP.fullmatch(reason)):
        return None
    if "outcome is unknown" in found.group(2):
        return Explained("outcome_unknown")
    return Explained("gave_up", (("count", found.group(1)),))


def _server_error(reason: str) -> Explained | None:
    found = _HTTP.search(reason)
    return Explained("transient") if found and found.group(1).startswith("5") else None


def _fixed(reason: str) -> Explained | None:
    for start, key in FIXED:
        if reason.startswith(start):
            return Explained(key)
    return Explained("transient") if _NOT_CONFIGURED.fullmatch(reason) else None


def _teams_removed(reason: str) -> Explained | None:
    if not (found := _TEAMS_REMOVED.fullmatch(reason)):
        return None
    return Explained(TEAMS_REMOVED_CODES.get(found.group(1), "teams_gone"))  # a 404 says the chat is gone


def _slack(reason: str) -> Explained | None:
    if not (found := _SLACK.fullmatch(reason)):
        return None
    error = found.group(2)
    if "outcome is unknown" in error:
        return Explained("outcome_unknown")
    if error.startswith(("Slack answered", "Slack kept answering", "no answer from Slack")):
        return Explained("transient")
    if error in SLACK_CODES:
        return Explained(SLACK_CODES[error])
    return Explained("other_code", (("code", error),)) if _SLACK_CODE.fullmatch(error) else None


def _http_code(reason: str) -> Explained | None:
    found = _HTTP.search(reason)
    return Explained("other_code", (("code", f"HTTP {found.group(1)}"),)) if found else None


_READERS: tuple[Callable[[str], Explained | None], ...] = (
    _gave_up,
    _server_error,
    _fixed,
    _teams_removed,
    _slack,
    _http_code,
)


def explain(reason: str) -> Explained:
    """What a stored failure reason means for a counsellor. Pure; never returns any of `reason`'s free text."""
    reason = reason.strip()
    for read in _READERS:
        if (found := read(reason)) is not None:
            return found
    return Explained("other")


def explain_all(reasons: Iterable[str], t: Callable[..., str]) -> tuple[str, ...]:
    """The sentences for several reasons, each once and in the order first seen."""
    sentences: list[str] = []
    for reason in reasons:
        sentence = explain(reason).text(t)
        if sentence not in sentences:
            sentences.append(sentence)
    return tuple(sentences)
