"""What went wrong travels as a code; the console has words for every code, in every language."""

from __future__ import annotations

from bot.catalog import ContentLibrary
from bot.catalog.markdown import MarkdownCode, markdown_problems
from bot.domain.recurrence import SkipReason
from bot.web.console.pages_schedule import SKIP_REASON_KEYS, skip_reason


def test_every_markdown_code_and_skip_reason_has_words_in_both_languages(content: ContentLibrary) -> None:
    keys = [f"console.content.markdown.{code.value}" for code in MarkdownCode]
    keys += [SKIP_REASON_KEYS[reason] for reason in SkipReason]
    for key in keys:
        for locale in ("nl", "en"):
            assert key in content.translator.tables[locale], (locale, key)


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
