"""Failure codes become sentences a counsellor can act on; reasons recorded before codes existed are read once, by
the migration outreach_0002, into the same codes the gateways now hand over."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

import scheduler.worker
from bot.adapters.slack import gateway as slack_gateway
from bot.adapters.slack.gateway import PERMANENT_ERRORS, TRANSIENT_ERRORS, delivery_error
from bot.adapters.teams import gateway as teams_gateway
from bot.catalog.loader import ContentLibrary
from bot.domain.i18n import Translator
from bot.storage.migrations.recorded_reasons import FIXED, classify
from bot.web.console.failures import PREFIX, Explained, explain_all, explain_failure


def _in(translator: Translator, locale: str) -> Callable[..., str]:
    def t(key: str, /, **params: object) -> str:
        return translator.t(locale, key, **params)

    return t


def explain(reason: str) -> Explained:
    """What a reason recorded before codes existed comes to, once the migration has given it its code."""
    return explain_failure(classify(reason))


def _slack(error: str | None, status: int = 200, method: str = "chat.postMessage") -> str:
    """The reason the Slack gateway records for an answer with this error code and HTTP status."""
    data: dict[str, object] = {"ok": False}
    if error is not None:
        data["error"] = error
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url=f"https://slack.test/api/{method}",
        req_args={},
        data=data,
        headers={"Retry-After": "3"} if status == 429 else {},
        status_code=status,
    )
    return delivery_error(SlackApiError("failed", response), method).reason


# Every error code the Slack gateway knows as permanent, and what the counsellor is told.
SLACK_PERMANENT = {
    "is_archived": "channel_archived",
    "channel_not_found": "channel_not_found",
    "not_in_channel": "not_in_channel",
    "user_not_found": "person_gone",
    "users_not_found": "person_gone",
    "cannot_dm_bot": "not_a_person",
    "account_inactive": "slack_removed",
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
    # Not from a post to a channel or person (ephemeral messages, updates): the code is enough.
    "user_not_in_channel": "other_code",
    "message_not_found": "other_code",
    "cant_update_message": "other_code",
}

# Reasons written by the worker and the gateways, word for word, and their key.
RECORDED = {
    # the outbox worker
    "nothing to post (item removed or cancelled)": Explained("nothing_to_post"),
    "internal error: KeyError": Explained("internal"),
    "internal error: OperationalError": Explained("internal"),
    "gave up after 5 attempts: chat.postMessage: Slack answered 503 service_unavailable": Explained(
        "gave_up", (("count", "5"),)
    ),
    "gave up after 6 attempts: the Teams connector failed (HTTP 502)": Explained(
        "gave_up", (("count", "6"),)
    ),
    "gave up after 5 attempts: the Teams connector is unreachable": Explained("gave_up", (("count", "5"),)),
    "gave up after 5 attempts: chat.postMessage: server error and the outcome is unknown; not posted again to "
    "avoid a double post": Explained("outcome_unknown"),
    "slack not configured": Explained("transient"),
    "teams not configured": Explained("transient"),
    # Slack
    "no Slack installation for workspace T0123": Explained("slack_removed"),
    "chat.postMessage: user_disabled": Explained("person_gone"),
    "chat.postMessage: Slack kept answering with server errors": Explained("transient"),
    "chat.postMessage: server error and the outcome is unknown; not posted again to avoid a double post": Explained(
        "outcome_unknown"
    ),
    "chat.update: no answer from Slack": Explained("transient"),
    "not a Slack message id": Explained("other"),
    # Teams
    "the bot was removed from the conversation (BotNotInConversationRoster)": Explained("teams_removed"),
    "the bot was removed from the conversation (BotDisabledByAdmin)": Explained("teams_disabled"),
    "the bot was removed from the conversation (ConversationNotFound)": Explained("teams_gone"),
    "the bot was removed from the conversation (None)": Explained("teams_gone"),  # a 404 without a code
    "the bot is not installed in this Teams conversation": Explained("teams_removed"),
    "the Teams connector refused the bot's token (check MICROSOFT_APP_*)": Explained("teams_credentials"),
    "the Microsoft login endpoint refused the bot's credentials (HTTP 401)": Explained("teams_credentials"),
    "the Microsoft login endpoint refused the bot's credentials (HTTP 503)": Explained("transient"),
    "the Microsoft login endpoint is unreachable": Explained("transient"),
    "the Teams connector failed (HTTP 500)": Explained("transient"),
    "the Teams connector is unreachable": Explained("transient"),
    "Teams throttled the bot (429)": Explained("transient"),
    "the Teams connector refused the message (HTTP 400)": Explained("other_code", (("code", "HTTP 400"),)),
    "nothing was sent to this person yet": Explained("other"),
    "not a Teams target": Explained("other"),
}


def test_the_table_covers_every_permanent_slack_error() -> None:
    assert set(SLACK_PERMANENT) >= PERMANENT_ERRORS


@pytest.mark.parametrize("error", sorted(SLACK_PERMANENT))
def test_a_permanent_slack_error_as_the_gateway_records_it(error: str) -> None:
    reason = _slack(error)
    assert reason == f"chat.postMessage: {error}"
    found = explain(reason)
    assert found.key == SLACK_PERMANENT[error]
    if found.key == "other_code":
        assert found.params == (("code", error),)


@pytest.mark.parametrize(
    ("error", "status", "expected"),
    [
        ("user_disabled", 200, Explained("person_gone")),  # permanent, though not in the gateway's list
        ("ratelimited", 429, Explained("transient")),
        (None, 503, Explained("transient")),
        ("internal_error", 200, Explained("transient")),
        *((code, 200, Explained("transient")) for code in sorted(TRANSIENT_ERRORS)),
        ("something_new", 200, Explained("other_code", (("code", "something_new"),))),
        (None, 400, Explained("other_code", (("code", "HTTP 400"),))),
    ],
)
def test_other_slack_answers(error: str | None, status: int, expected: Explained) -> None:
    assert explain(_slack(error, status)) == expected
    assert explain(_slack(error, status, method="files.uploadV2")) == expected


@pytest.mark.parametrize("reason", sorted(RECORDED))
def test_a_reason_the_worker_or_a_gateway_records(reason: str) -> None:
    assert explain(reason) == RECORDED[reason]


def test_the_recognised_beginnings_are_still_written_by_the_worker_and_the_gateways() -> None:
    """If a gateway rewords a reason, its sentence would silently become the generic one: catch that here."""
    sources = "".join(inspect.getsource(m) for m in (scheduler.worker, slack_gateway, teams_gateway))
    patterns = [
        "gave up after {delivery.attempts} attempts: {exc.reason}",
        "{target.platform.value} not configured",
        "the bot was removed from the conversation ({code})",
        "Slack answered {status} {error}",
        "Slack kept answering with server errors",
        "no answer from Slack",
        "outcome is unknown",
    ]
    for start in [*(start for start, _ in FIXED), *patterns]:
        assert start in sources, start


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("", Explained("other")),
        ("Traceback (most recent call last): secret-canary-4711", Explained("other")),
        ("chat.postMessage: The Channel Said No, secret-canary-4711", Explained("other")),
        ("chat.postMessage: " + "x" * 200, Explained("other")),  # too long to be a code
        ("something broke (HTTP 418) secret-canary-4711", Explained("other_code", (("code", "HTTP 418"),))),
        ("gave up after 3 attempts: secret-canary-4711", Explained("gave_up", (("count", "3"),))),
    ],
)
def test_anything_else_says_at_most_a_short_code(reason: str, expected: Explained) -> None:
    assert explain(reason) == expected


def test_every_sentence_exists_in_both_languages_and_never_repeats_the_reason(
    content: ContentLibrary,
) -> None:
    translator = content.translator
    reasons = [*RECORDED, *(_slack(e) for e in SLACK_PERMANENT), "odd secret-canary-4711 (HTTP 418)"]
    used = set()
    for reason in reasons:
        found = explain(reason)
        used.add(found.key)
        for locale in ("nl", "en"):
            sentence = found.text(_in(translator, locale))
            assert sentence.strip()
            assert "{" not in sentence
            assert reason not in sentence
            assert "secret-canary" not in sentence
            assert "chat.postMessage" not in sentence
    # Every key in the locale files is one the mapping can give.
    keys = {k.removeprefix(PREFIX) for k in translator.keys("nl") if k.startswith(PREFIX)}
    assert keys == used
    assert {k.removeprefix(PREFIX) for k in translator.keys("en") if k.startswith(PREFIX)} == keys


def test_the_dutch_and_english_sentences(content: ContentLibrary) -> None:
    def t(locale: str) -> Callable[..., str]:
        return _in(content.translator, locale)

    archived = explain("chat.postMessage: is_archived")
    assert archived.text(t("nl")) == (
        "Het kanaal is gearchiveerd. Koppel de groep aan een ander kanaal of verwijder de koppeling."
    )
    assert archived.text(t("en")) == (
        "The channel is archived. Link the group to another channel or remove the link."
    )
    code = explain("the Teams connector refused the message (HTTP 400)")
    assert code.text(t("nl")) == "Versturen lukte niet (code: HTTP 400)."
    assert code.text(t("en")) == "Sending did not succeed (code: HTTP 400)."
    assert explain("gave up after 5 attempts: Teams throttled the bot (429)").text(t("nl")) == (
        "Het platform had steeds een storing; na 5 pogingen is het versturen gestopt. Probeer het later opnieuw."
    )


def test_several_reasons_give_each_sentence_once_in_order(content: ContentLibrary) -> None:
    t = _in(content.translator, "nl")
    sentences = explain_all(
        [
            classify("chat.postMessage: is_archived"),
            classify("chat.postMessage: user_not_found"),
            classify("chat.postMessage: users_not_found"),
            classify("chat.postMessage: is_archived"),
        ],
        t,
    )
    assert sentences == (
        explain("chat.postMessage: is_archived").text(t),
        explain("chat.postMessage: user_not_found").text(t),
    )
    assert explain_all([], t) == ()
