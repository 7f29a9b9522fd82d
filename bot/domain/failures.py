"""Why a delivery failed, as a code: what the outbox stores beside the technical reason, and the console shows.

Each gateway raises its `DeliveryError` with the `Failure` it knows (the Slack gateway from Slack's error code,
the Teams gateway from the connector's status and error code), and the outbox worker adds its own (nothing to
post, internal error, gave up after N attempts). The outbox stores the code (and at most a short platform error
code or an attempt count as its detail); the console maps the code to a locale key and never reads the reason,
which is kept for operators only (`vipbot schedule status`).

Reasons recorded before codes existed were given their code once, by the migration `outreach_0002`
(`bot/storage/migrations/recorded_reasons.py`); nothing reads reason text at runtime.
"""

from __future__ import annotations

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
    "msg_blocks_too_long": "content_rejected",
    "invalid_blocks": "content_rejected",
    "no_text": "content_rejected",
    "rate limited": "transient",
}
# The Teams connector's error code on a 403/404 that says the bot can no longer post there.
TEAMS_REMOVED_CODES: dict[str, str] = {
    "BotNotInConversationRoster": "teams_removed",
    "BotDisabledByAdmin": "teams_disabled",
}

DETAIL_MAX = 64


@dataclass(frozen=True, slots=True)
class Failure:
    """A failure's code and its detail (a short platform code or an attempt count; never free text)."""

    code: FailureCode
    detail: str | None = None
