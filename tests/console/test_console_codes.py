"""What went wrong travels as a code; the console has words for every code, in every language."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot.adapters.slack.gateway import delivery_error
from bot.catalog import ContentLibrary
from bot.catalog.markdown import MarkdownCode, markdown_problems
from bot.domain.failures import Failure, FailureCode
from bot.domain.recurrence import SkipReason
from bot.storage.migrations.recorded_reasons import classify
from bot.web.console.pages_schedule import SKIP_REASON_KEYS, skip_reason


def test_every_code_has_words_in_both_languages(content: ContentLibrary) -> None:
    keys = [f"console.content.markdown.{code.value}" for code in MarkdownCode]
    keys += [f"console.schedule.failure.{code.value}" for code in FailureCode]
    keys += [SKIP_REASON_KEYS[reason] for reason in SkipReason]
    for key in keys:
        for locale in ("nl", "en"):
            translator = content.translator
            assert key in translator.tables[locale] or key in translator.plurals.get(locale, {}), (
                locale,
                key,
            )


def test_markdown_problems_carry_their_code() -> None:
    source = "1. een\n\n> quote\n\n# Kop\n\n[link](http://x.nl)\n"
    assert [(p.line, p.code) for p in markdown_problems(source)] == [
        (1, MarkdownCode.NUMBERED),
        (3, MarkdownCode.QUOTES),
        (5, MarkdownCode.HEADING),
        (7, MarkdownCode.LINK),
    ]


def test_a_skip_reason_is_shown_in_the_reader_s_words(content: ContentLibrary) -> None:
    def dutch(key: str, **params: object) -> str:
        return content.translator.t("nl", key, **params)

    assert skip_reason(SkipReason.QUIET_HOURS, dutch) == content.translator.t(
        "nl", "console.schedule.skip_reason.quiet_hours"
    )
    assert skip_reason(None, dutch) == ""


@pytest.mark.parametrize("error", ["is_archived", "user_not_found", "some_new_error", None])
def test_the_slack_gateway_hands_over_the_code_the_outbox_stores(error: str | None) -> None:
    data: dict[str, object] = {"ok": False} | ({"error": error} if error else {})
    response = SlackResponse(
        client=None, http_verb="POST", api_url="https://slack.test/api/chat.postMessage", req_args={},
        data=data, headers={}, status_code=200 if error else 400,
    )  # fmt: skip
    found = delivery_error(SlackApiError("no", response), "chat.postMessage")
    assert found.failure is not None
    assert found.failure == classify(found.reason)  # the same code as a reason recorded before codes existed
    if error == "is_archived":
        assert found.failure == Failure(FailureCode.CHANNEL_ARCHIVED)
    if error is None:
        assert found.failure == Failure(FailureCode.OTHER_CODE, "HTTP 400")
