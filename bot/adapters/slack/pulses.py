"""Pulses on Slack: the pulse message (every question with one-click buttons, and the "I'd like to talk" door),
the reminder to the whole audience, the management summary with its chart, and the answer-button handler.

The click is recorded before Slack's request is acknowledged. The person then gets an ephemeral confirmation —
only they see it, and it never repeats the answer. Nothing about who answered is stored or shown.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.blocks import HEADER_LIMIT, SECTION_LIMIT, escape, strong
from bot.adapters.slack.blocks import fallback as fallback_text
from bot.cache import TtlCache
from bot.domain.content import QuestionKind, pick_locale
from bot.domain.delivery import Rendered
from bot.domain.i18n import Translator
from bot.domain.pulses import (
    ACTION_PREFIX,
    AnswerAction,
    AnswerOutcome,
    ClickOrigin,
    ManagementSummaryPost,
    Participant,
    PulsePost,
    PulseReminderPost,
    PulseService,
    answer_options,
)
from bot.domain.tenancy import Platform
from bot.logs import get_logger
from bot.storage.pulses import SqlPulseStore

LOOKUP_CACHE_SECONDS = 30.0

log = get_logger(__name__)

TALK_ACTION = "vp-pulse-talk"
_OUTCOME_KEYS = {
    AnswerOutcome.RECORDED: "pulses.thanks",
    AnswerOutcome.ALREADY_ANSWERED: "pulses.already_answered",
    AnswerOutcome.CLOSED: "pulses.closed",
    AnswerOutcome.INVALID: "pulses.invalid",
}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date(post: PulsePost | PulseReminderPost) -> str:
    moment = int(post.closes_at.timestamp())
    return f"<!date^{moment}^{{date_short_pretty}} {{time}}|{post.closes_at:%Y-%m-%d %H:%M} UTC>"


def _with_date(t: Translator, locale: str, key: str, post: PulsePost | PulseReminderPost) -> str:
    """The text escaped for Slack, with Slack's own date markup (each reader's time zone) in its place."""
    return escape(t.t(locale, key, date="\x00")).replace("\x00", _date(post))


def _door(t: Translator, locale: str, portal_url: str) -> list[Block]:
    return [
        DividerBlock(),
        SectionBlock(
            text=MarkdownTextObject(text=escape(t.t(locale, "pulses.talk_hint", platform="Slack"))),
            accessory=ButtonElement(
                text=t.t(locale, "pulses.talk_button"), action_id=TALK_ACTION, url=portal_url
            ),
        ),
    ]


def pulse_blocks(t: Translator, post: PulsePost, locale: str) -> list[Block]:
    pulse_set = post.pulse_set
    blocks: list[Block] = [
        HeaderBlock(text=_clip(pulse_set.name.in_locale(locale), HEADER_LIMIT)),
        SectionBlock(
            text=MarkdownTextObject(
                text=_clip(
                    escape(t.t(locale, "pulses.intro", description=pulse_set.description.in_locale(locale))),
                    SECTION_LIMIT,
                )
            )
        ),
    ]
    for question in pulse_set.questions:
        if question.kind is QuestionKind.LIKERT:
            labels = [
                f"{v} · {s.in_locale(locale)}"
                for v, s in zip(answer_options(question), pulse_set.scale, strict=True)
            ]
        else:
            labels = [o.label.in_locale(locale) for o in question.options]
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=strong(question.text.in_locale(locale))))
        )
        blocks.append(
            ActionsBlock(
                block_id=f"q:{question.id}",
                elements=[
                    ButtonElement(
                        text=_clip(label, 75),
                        action_id=f"{ACTION_PREFIX}:{question.id}:{value}",
                        value=AnswerAction(post.pulse_id, question.id, value).encode(),
                    )
                    for label, value in zip(labels, answer_options(question), strict=True)
                ],
            )
        )
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=_with_date(t, locale, "pulses.closes", post))])
    )
    blocks.extend(_door(t, locale, post.portal_url))
    return blocks


def reminder_blocks(t: Translator, post: PulseReminderPost, locale: str) -> list[Block]:
    return [
        ContextBlock(elements=[MarkdownTextObject(text=escape(t.t(locale, "pulses.reminder_label")))]),
        SectionBlock(text=MarkdownTextObject(text=_with_date(t, locale, "pulses.reminder_intro", post))),
        *_door(t, locale, post.portal_url),
    ]


def summary_blocks(post: ManagementSummaryPost) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=_clip(post.title, HEADER_LIMIT))]
    text = "\n".join(escape(line) for line in post.lines)
    for start in range(0, len(text), SECTION_LIMIT):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text[start : start + SECTION_LIMIT])))
        if len(blocks) > 40:
            break
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=_clip(escape(post.hidden_explanation), 3000))])
    )
    return blocks


def _message(blocks: list[Block], fallback: str) -> Rendered:
    return Rendered(
        platform=Platform.SLACK,
        payload={"blocks": [b.to_dict() for b in blocks]},
        fallback_text=fallback_text(fallback),
    )


def render_pulse(t: Translator, post: PulsePost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    return _message(pulse_blocks(t, post, locale), post.pulse_set.name.in_locale(locale))


def render_pulse_reminder(t: Translator, post: PulseReminderPost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    return _message(reminder_blocks(t, post, locale), t.t(locale, "pulses.reminder_label"))


def render_summary(post: ManagementSummaryPost, _locale: str) -> Rendered:
    rendered = _message(summary_blocks(post), post.title)
    return replace(rendered, attachments=(post.chart,))


def register_pulse_actions(
    bolt: AsyncApp,
    store: SqlPulseStore,
    service: PulseService,
    translator: Translator,
    locale_of: Callable[[UUID], Awaitable[str]] | None = None,
) -> None:
    """Answer buttons (`vp-pulse:…`) and the door button (a link: only acknowledged). Confirmations are in the
    person's Slack language when Slack says it, else in the organisation's (`locale_of`)."""

    # A burst of clicks (a pulse just posted to a large channel) would otherwise read the same workspace link and
    # organisation language for every click; a new link or language shows within this time.
    organisations: TtlCache[str, UUID | None] = TtlCache(LOOKUP_CACHE_SECONDS)
    languages: TtlCache[UUID, str] = TtlCache(LOOKUP_CACHE_SECONDS)

    async def answer(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        action = AnswerAction.decode(str(((body.get("actions") or [{}])[0]).get("value", "")))
        channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
        organisation = (
            await organisations.get(team, lambda: store.organisation_for(Platform.SLACK, team))
            if team
            else None
        )
        if organisation is None or action is None or not user:
            outcome_key = "pulses.not_linked" if organisation is None else "pulses.invalid"
        else:
            outcome = await service.answer(
                organisation,
                action,
                Participant(Platform.SLACK, team, user),
                ClickOrigin(Platform.SLACK, team, str(channel) if channel else None),
            )
            outcome_key = _OUTCOME_KEYS[outcome]
        await ack()
        stated = (body.get("user") or {}).get("locale")
        if stated is None and organisation is not None and locale_of is not None:
            linked = organisation
            stated = await languages.get(linked, lambda: locale_of(linked))
        text = translator.t(pick_locale(stated), outcome_key)
        try:
            await client.chat_postEphemeral(channel=str(channel or user), user=user, text=text)
        except SlackApiError as exc:
            log.warning("pulse confirmation not delivered", error=exc.response.get("error"))

    async def talk(ack: AsyncAck) -> None:
        await ack()

    bolt.action(re.compile(f"^{re.escape(ACTION_PREFIX)}:"))(answer)
    bolt.action(TALK_ACTION)(talk)
