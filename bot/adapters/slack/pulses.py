"""Pulses on Slack: the pulse message (every question with one-click buttons, and the "I'd like to talk" door),
the reminder to the whole audience, the management summary with its chart, and the answer-button handler.

The click is recorded before Slack's request is acknowledged — unless the write is not done within
`ACK_DEADLINE` (a burst queues behind the group commit), then Slack is answered in time and the write goes on. The
person then gets an ephemeral confirmation once the click is stored — only they see it, and it never repeats the
answer. Nothing about who answered is stored or shown.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any
from uuid import UUID

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackObjectFormationError
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

from bot.adapters.slack.blocks import HEADER_LIMIT, MESSAGE_BLOCK_LIMIT, SECTION_LIMIT, escape, strong
from bot.adapters.slack.blocks import fallback as fallback_text
from bot.adapters.slack.service import RECEIVED_AT
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
from bot.domain.summary import (
    SIZING_TOTAL,
    ParentLine,
    SummaryPage,
    continued,
    page_title,
    paginate,
    parent_line,
)
from bot.domain.tenancy import Platform, WorkspaceOrganisations
from bot.logs import get_logger

LOOKUP_CACHE_SECONDS = 30.0
#: Seconds after a click reached the service by which it is acknowledged, written or not yet. Slack gives up
#: after 3 s, counted from its own send: network, queueing and an event loop busy with a burst eat the rest.
ACK_DEADLINE = 1.0

log = get_logger(__name__)

TALK_ACTION = "vp-pulse-talk"
_OUTCOME_KEYS = {
    AnswerOutcome.RECORDED: "pulses.thanks",
    AnswerOutcome.ALREADY_ANSWERED: "pulses.already_answered",
    AnswerOutcome.CLOSED: "pulses.closed",
    AnswerOutcome.INVALID: "pulses.invalid",
}


def enterprise_of(body: dict[str, Any]) -> str:
    """The Enterprise Grid organisation an interaction came from, or "" outside a grid."""
    enterprise = body.get("enterprise")
    found = enterprise.get("id") if isinstance(enterprise, dict) else body.get("enterprise_id")
    return str(found or "")


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
        blocks.append(SectionBlock(text=MarkdownTextObject(text=strong(question.text.in_locale(locale)))))
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


#: Slack refuses a message whose blocks together carry too much text (`msg_blocks_too_long`): not documented as a
#: figure; Slack's developers speak of about 12,000 characters with room for the blocks themselves, and refusals
#: have been reported from about 11,300. A summary page keeps its blocks' text within this.
BLOCK_TEXT_BUDGET = 10_000


def _header(t: Translator, locale: str, title: str, page: SummaryPage) -> HeaderBlock:
    """The page's title in a header: a long title is clipped (as far as the widest "n/total" needs, so that a page
    measured before its total is known does not grow), never its "2/3"."""
    widest = page if page.total == 1 else replace(page, number=SIZING_TOTAL, total=SIZING_TOTAL)
    room = HEADER_LIMIT - len(page_title(t, locale, "", widest))
    return HeaderBlock(text=page_title(t, locale, _clip(title, room), page))


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text="\n".join(escape(line) for line in text.split("\n"))))


def summary_blocks(t: Translator, post: ManagementSummaryPost, page: SummaryPage, locale: str) -> list[Block]:
    """One page of the summary: its title; on the first page the round heading, the organisation and its
    departments and the trend; on later pages the other groups under their parent's name; on the last what is
    hidden and why."""
    blocks: list[Block] = [_header(t, locale, post.title, page)]
    if page.first:
        blocks.append(_section(post.heading))
    for item in page.items():
        if isinstance(item, ParentLine):
            blocks.append(_section(parent_line(t, locale, item)))
        else:
            blocks.append(_section(item.text))
    if page.first:
        if post.trend:
            blocks.append(_section(post.trend))
        if page.total > 1:
            blocks.append(
                ContextBlock(elements=[MarkdownTextObject(text=escape(continued(t, locale, page)))])
            )
    if page.footer:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_clip(escape(post.hidden_explanation), 3000))])
        )
    return blocks


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def blocks_fit(blocks: list[Block]) -> bool:
    """Within Slack's limits for one message: at most 50 blocks, each within its own limits (slack_sdk checks them
    when it serialises a block), and their text together within `BLOCK_TEXT_BUDGET`."""
    if len(blocks) > MESSAGE_BLOCK_LIMIT:
        return False
    try:
        serialised = [b.to_dict() for b in blocks]
    except SlackObjectFormationError:
        return False
    return sum(len(text) for text in _texts(serialised)) <= BLOCK_TEXT_BUDGET


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


def render_summary(t: Translator, post: ManagementSummaryPost, locale: str) -> tuple[Rendered, ...]:
    """The summary as one message, or as several (each within Slack's limits) for a large organisation; the chart
    goes with the first."""
    locale = pick_locale(locale)
    pages = paginate(post.groups, lambda page: blocks_fit(summary_blocks(t, post, page, locale)))
    messages = [
        _message(summary_blocks(t, post, page, locale), page_title(t, locale, post.title, page))
        for page in pages
    ]
    return (replace(messages[0], attachments=(post.chart,)), *messages[1:])


def register_pulse_actions(
    bolt: AsyncApp,
    store: WorkspaceOrganisations,
    service: PulseService,
    translator: Translator,
    locale_of: Callable[[UUID], Awaitable[str]] | None = None,
    *,
    ack_deadline: float = ACK_DEADLINE,
) -> None:
    """Answer buttons (`vp-pulse:…`) and the door button (a link: only acknowledged). Confirmations are in the
    person's Slack language when Slack says it, else in the organisation's (`locale_of`)."""

    # A burst of clicks (a pulse just posted to a large channel) would otherwise read the same workspace link and
    # organisation language for every click; a new link or language shows within this time.
    organisations: TtlCache[str, UUID | None] = TtlCache(LOOKUP_CACHE_SECONDS)
    languages: TtlCache[UUID, str] = TtlCache(LOOKUP_CACHE_SECONDS)

    async def organisation_of(team: str, enterprise: str) -> UUID | None:
        """The workspace's organisation; in an Enterprise Grid installed org-wide, the organisation of the grid."""
        for workspace in (team, enterprise):
            if workspace:
                found = await organisations.get(workspace, _lookup(workspace))
                if found is not None:
                    return found
        return None

    def _lookup(workspace: str) -> Callable[[], Awaitable[UUID | None]]:
        return lambda: store.organisation_for(Platform.SLACK, workspace)

    async def answer(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        arrived = context.get(RECEIVED_AT)
        deadline = (arrived if isinstance(arrived, float) else time.monotonic()) + ack_deadline
        team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
        enterprise = enterprise_of(body)
        user = str((body.get("user") or {}).get("id") or "")
        action = AnswerAction.decode(str(((body.get("actions") or [{}])[0]).get("value", "")))
        channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
        organisation = await organisation_of(team, enterprise)
        if organisation is None or action is None or not user:
            await ack()
            outcome_key = "pulses.not_linked" if organisation is None else "pulses.invalid"
        else:
            recording = asyncio.ensure_future(
                service.answer(
                    organisation,
                    action,
                    # In an Enterprise Grid a person has one user id in every workspace of the organisation:
                    # keyed by the grid, a second click through another workspace is the same person again.
                    Participant(Platform.SLACK, enterprise or team, user),
                    ClickOrigin(Platform.SLACK, team, str(channel) if channel else None),
                )
            )
            # The write comes first, so an acknowledged click is a stored one. But Slack wants its answer within
            # 3 s, and in a burst the write waits its turn (the group commit): past the deadline the click is
            # acknowledged anyway, the write goes on, and the confirmation follows only once it is stored.
            await asyncio.wait({recording}, timeout=max(0.0, deadline - time.monotonic()))
            await ack()
            await asyncio.wait({recording})
            if recording.cancelled() or recording.exception() is not None:
                failure = "cancelled" if recording.cancelled() else type(recording.exception()).__name__
                log.warning("pulse answer not recorded", error=failure)
                outcome_key = "common.error_generic"
            else:
                outcome_key = _OUTCOME_KEYS[recording.result()]
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
