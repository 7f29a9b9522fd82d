"""Pulses on Teams as Adaptive Cards: the pulse (every question with one-click Action.Submit buttons and the
"I'd like to talk" door), the reminder to the whole audience, and the management summary with its chart.

Teams sends a bot message of at most about 28 KB, and an Adaptive Card can show an image from a data URI: the
chart is redrawn small with a 16-colour palette so that it travels inside the card, with no link to it anywhere.
A summary too large for one message goes out as several, each within the limit (`bot.domain.summary`).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from typing import Any

from bot.adapters.teams.cards import (
    LOCALE_KEY,
    Card,
    Element,
    card,
    escape,
    execute,
    iso_utc,
    open_url,
    rendered,
    text_block,
)
from bot.adapters.teams.gateway import encoded
from bot.adapters.teams.submits import CardSubmit, ClickAnswer, SubmitAnswer, SubmitRoutes, Transient
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
    PulseStore,
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
from bot.domain.tenancy import Platform

ANSWER_KEY = "answer"
_OUTCOME_KEYS = {
    AnswerOutcome.RECORDED: "pulses.thanks",
    AnswerOutcome.ALREADY_ANSWERED: "pulses.already_answered",
    AnswerOutcome.CLOSED: "pulses.closed",
    AnswerOutcome.INVALID: "pulses.invalid",
}
MAX_INLINE_IMAGE = 18_000  # bytes of PNG, before base64


def _when(t: Translator, locale: str, key: str, post: PulsePost | PulseReminderPost) -> str:
    moment = iso_utc(post.closes_at)
    return escape(t.t(locale, key, date="\x00")).replace(
        "\x00", f"{{{{DATE({moment}, SHORT)}}}} {{{{TIME({moment})}}}}"
    )


def _door(t: Translator, locale: str, portal_url: str) -> tuple[Element, Element]:
    hint = text_block(escape(t.t(locale, "pulses.talk_hint", platform="Teams")), isSubtle=True, wrap=True)
    return hint, open_url(t.t(locale, "pulses.talk_button"), portal_url)


def pulse_card(
    t: Translator, post: PulsePost, locale: str, answered: Mapping[str, str] | None = None
) -> Card:
    """The pulse; `answered` maps question ids to a notice shown instead of that question's buttons."""
    answered = answered or {}
    pulse_set = post.pulse_set
    body: list[Element] = [
        text_block(escape(t.t(locale, "pulses.label")), size="Small", isSubtle=True),
        text_block(escape(pulse_set.name.in_locale(locale)), size="Large", weight="Bolder"),
        text_block(
            escape(t.t(locale, "pulses.intro", description=pulse_set.description.in_locale(locale))),
            wrap=True,
        ),
    ]
    for question in pulse_set.questions:
        if question.kind is QuestionKind.LIKERT:
            labels = [f"{v}" for v in answer_options(question)]
            scale = " · ".join(
                f"{v} = {s.in_locale(locale)}"
                for v, s in zip(answer_options(question), pulse_set.scale, strict=True)
            )
        else:
            labels = [o.label.in_locale(locale) for o in question.options]
            scale = ""
        body.append(text_block(f"**{escape(question.text.in_locale(locale))}**", wrap=True, spacing="Medium"))
        if question.id in answered:
            body.append(text_block(answered[question.id], wrap=True, weight="Bolder"))
            continue
        if scale:
            body.append(text_block(escape(scale), size="Small", isSubtle=True, wrap=True))
        body.append(
            {
                "type": "ActionSet",
                "actions": [
                    execute(
                        label,
                        ACTION_PREFIX,
                        {
                            ANSWER_KEY: AnswerAction(post.pulse_id, question.id, value).encode(),
                            LOCALE_KEY: locale,
                        },
                    )
                    for label, value in zip(labels, answer_options(question), strict=True)
                ],
            }
        )
    body.append(text_block(_when(t, locale, "pulses.closes", post), size="Small", isSubtle=True))
    hint, door = _door(t, locale, post.portal_url)
    body.append(hint)
    return card(body, [door])


def reminder_card(t: Translator, post: PulseReminderPost, locale: str) -> Card:
    hint, door = _door(t, locale, post.portal_url)
    return card(
        [
            text_block(escape(t.t(locale, "pulses.reminder_label")), size="Small", isSubtle=True),
            text_block(_when(t, locale, "pulses.reminder_intro", post), wrap=True),
            hint,
        ],
        [door],
    )


PALETTE_SIZE = 16
_MIN_SATURATION = 60  # max-min of the channels: below this a colour reads as a grey
_MIN_DISTANCE = 48  # channels apart for two palette entries to count as different colours
_MAX_COLOURED = 10  # palette entries kept for colours (lines, bars); the rest for white and the greys of text


def chart_palette(image: Any, size: int = PALETTE_SIZE) -> Any:
    """A 16-colour palette for this chart that keeps its colours: the most used distinct saturated colours (trend
    lines, bars) first, then the most used greys (background, text). A plain median-cut reduction gives the many
    greys of antialiased text every entry and maps the thin blue and orange lines onto grey."""
    from PIL import Image

    counted = image.getcolors(maxcolors=image.width * image.height) or []
    counted.sort(key=lambda entry: entry[0], reverse=True)
    coloured = [c for _, c in counted if max(c) - min(c) >= _MIN_SATURATION]
    greys = [c for _, c in counted if max(c) - min(c) < _MIN_SATURATION]
    chosen: list[tuple[int, int, int]] = []

    def take(candidates: list[tuple[int, int, int]], limit: int, distance: int) -> None:
        for colour in candidates:
            if len(chosen) >= limit:
                return
            if all(
                max(abs(a - b) for a, b in zip(colour, other, strict=True)) > distance for other in chosen
            ):
                chosen.append(colour)

    take(coloured, min(_MAX_COLOURED, size - 3), _MIN_DISTANCE)  # at least white, black and one grey besides
    take(greys, size, _MIN_DISTANCE // 3)  # finer steps of grey keep text's edges smooth
    palette = Image.new("P", (1, 1))
    flat = [channel for colour in chosen for channel in colour]
    palette.putpalette(flat + flat[:3] * (256 - len(chosen)))
    return palette


CARD_WIDTH = 450  # px: about what a Teams card is wide on a laptop; the image is shown stretched to it


def small_png(png: bytes, limit: int = MAX_INLINE_IMAGE) -> bytes:
    """The chart as a PNG of 16 colours (a palette that keeps its colours) that fits in a Teams message. A larger
    chart (many groups) first gets fewer pixels down to the card's width, then 8 colours: made smaller than the
    card, its labels would be stretched back to the card's width blurred and too small to read. Only a chart that
    fits in no other way goes below the card's width (a message too large would not arrive at all)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")

    def encoded(width: int, palette: Any) -> bytes:
        scaled = (
            image
            if width == image.width
            else image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
        )
        out = io.BytesIO()
        scaled.quantize(palette=palette, dither=Image.Dither.NONE).save(out, format="PNG", optimize=True)
        return out.getvalue()

    widths = [image.width]
    while widths[-1] * 0.85 > CARD_WIDTH:
        widths.append(int(widths[-1] * 0.85))
    if widths[-1] > CARD_WIDTH:
        widths.append(min(CARD_WIDTH, image.width))
    found = b""
    for colours in (PALETTE_SIZE, 8):
        palette = chart_palette(image, colours)
        for width in widths:
            found = encoded(width, palette)
            if len(found) <= limit:
                return found
    width = widths[-1]
    while len(found) > limit and width >= 300:
        width = int(width * 0.85)
        found = encoded(width, palette)
    return found


def _keep_indent(text: str) -> str:
    """Markdown drops leading spaces, and with them the indentation of the group tree: no-break spaces stay (on
    every line: a group's table is indented under it)."""
    kept = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        kept.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    return "\n".join(kept)


def _tree_line(text: str, **style: Any) -> Element:
    return text_block(
        _keep_indent(escape(text)), wrap=True, spacing="None", fontType="Monospace", size="Small", **style
    )


def summary_card(
    t: Translator, post: ManagementSummaryPost, page: SummaryPage, locale: str, image: str
) -> Card:
    """One page of the summary (`image`: the chart's data URI, on the first page)."""
    body: list[Element] = [
        text_block(escape(page_title(t, locale, post.title, page)), size="Large", weight="Bolder", wrap=True)
    ]
    if page.first:
        body.append(
            {"type": "Image", "url": image, "altText": t.t(locale, "insights.chart_alt"), "size": "Stretch"}
        )
        body.append(_tree_line(post.heading))
    for item in page.items():
        if isinstance(item, ParentLine):
            body.append(_tree_line(parent_line(t, locale, item)))
        else:
            body.append(_tree_line(item.text))
    if page.first:
        if post.trend:
            body.append(_tree_line(post.trend))
        if page.total > 1:
            body.append(
                text_block(escape(continued(t, locale, page)), wrap=True, weight="Bolder", size="Small")
            )
    if page.footer:
        body.append(text_block(escape(post.hidden_explanation), wrap=True, isSubtle=True, size="Small"))
    return card(body)


#: Teams refuses a bot message that is too large (413, MessageSizeTooBig). Its documentation has said "about 28 KB"
#: for the whole message and, later, 40 KB and then 100 KB for the message encoded as UTF-16 without base64
#: images; a summary keeps within the strictest reading of each: the activity as sent, chart included, within
#: 28 KB, and as UTF-16 without the chart within 40 KB.
MESSAGE_LIMIT = 28 * 1024
MESSAGE_LIMIT_UTF16 = 40 * 1024
ADDRESSING = 512  # bytes the gateway adds to a rendered message: sender, conversation, tenant (about 300)


def message_fits(payload: dict[str, Any], image_chars: int = 0) -> bool:
    """Whether a rendered message stays within Teams' size limit once the gateway has addressed it. The body is
    measured as the gateway sends it (`encoded`); `image_chars` of it are a base64 image."""
    sent = len(encoded(payload)) + ADDRESSING
    text = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))
    return sent <= MESSAGE_LIMIT and text - 2 * image_chars + 2 * ADDRESSING <= MESSAGE_LIMIT_UTF16


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _chart(t: Translator, post: ManagementSummaryPost, locale: str) -> str:
    """The chart as a data URI small enough that the first page fits even before any group is on it."""
    empty = SummaryPage(1, SIZING_TOTAL, ())
    without = len(encoded(rendered(summary_card(t, post, empty, locale, ""), locale, post.title).payload))
    room = MESSAGE_LIMIT - ADDRESSING - without - len(_data_uri(b""))
    return _data_uri(small_png(post.chart.data, min(MAX_INLINE_IMAGE, room * 3 // 4)))  # base64: 4 for 3


def render_summary(t: Translator, post: ManagementSummaryPost, locale: str) -> tuple[Rendered, ...]:
    """The summary as one message, or as several (each within Teams' limit) for a large organisation: the first
    with the chart and the organisation's and departments' tables, the next ones every other group's, "2/3"."""
    locale = pick_locale(locale)
    image = _chart(t, post, locale)

    def page_message(page: SummaryPage) -> Rendered:
        title = page_title(t, locale, post.title, page)
        return rendered(summary_card(t, post, page, locale, image if page.first else ""), locale, title)

    def fits(page: SummaryPage) -> bool:
        return message_fits(page_message(page).payload, len(image) if page.first else 0)

    return tuple(page_message(page) for page in paginate(post.groups, fits))


def render_pulse(t: Translator, post: PulsePost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    return rendered(pulse_card(t, post, locale), locale, post.pulse_set.name.in_locale(locale))


def render_pulse_reminder(t: Translator, post: PulseReminderPost, locale: str) -> Rendered:
    locale = pick_locale(locale)
    return rendered(reminder_card(t, post, locale), locale, t.t(locale, "pulses.reminder_label"))


def pulse_submits(service: PulseService, store: PulseStore, translator: Translator) -> SubmitAnswer:
    """Records a pulse answer from a click.

    Nothing that stays in Teams may show that someone took part: Teams chats are the employer's, searchable and
    exportable. So the card is never rewritten — not in a channel, not in the person's own chat (a card turned
    into "thank you" would be a lasting record of who answered which question, and when). The click on a
    Universal Action button (`Action.Execute`, what pulse cards carry) is answered with a transient notice that
    Teams shows to the person who clicked, for a moment, and keeps nowhere; a click on an older Action.Submit card
    gets no answer at all. The card stays as it was sent, so it cannot forget earlier answers either: a second
    click on an answered question is told "already answered" in the same transient way.
    """

    async def answer(submit: CardSubmit) -> ClickAnswer:
        action = AnswerAction.decode(str(submit.value.get(ANSWER_KEY, "")))
        if action is None:
            outcome = AnswerOutcome.INVALID
        else:
            outcome = await service.answer(
                submit.organisation.id,
                action,
                Participant(Platform.TEAMS, submit.tenant_id, submit.user_id),
                ClickOrigin(Platform.TEAMS, submit.tenant_id, None if submit.personal else submit.address),
            )
        if not submit.execute:
            return None
        return Transient(translator.t(submit.locale, _OUTCOME_KEYS[outcome]))

    return answer


def register_pulse_submits(
    routes: SubmitRoutes, service: PulseService, store: PulseStore, translator: Translator
) -> None:
    routes.register(ACTION_PREFIX, pulse_submits(service, store, translator))
