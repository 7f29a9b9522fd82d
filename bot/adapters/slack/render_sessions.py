"""Block Kit for team sessions: the announcement and the day-before reminder, each with "count me in" and an
.ics link. Dates use Slack's <!date^…> so every reader sees their own time zone; the count is shown, names never."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.adapters.slack.blocks import SECTION_LIMIT, escape, fallback, link, strong
from bot.domain.content import pick_locale
from bot.domain.delivery import Rendered
from bot.domain.i18n import Translator
from bot.domain.team_sessions import (
    SIGNUP_ACTION,
    SessionAnnouncementPost,
    SessionReminderPost,
    TeamSession,
    count_text,
)
from bot.domain.tenancy import Platform

# A link button: its id starts with blocks.LINK_ACTION_PREFIX, so the click is acknowledged like every other link.
CALENDAR_ACTION = "vp_link_session_ics"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date(moment_unix: int, token: str, fallback: str) -> str:
    return f"<!date^{moment_unix}^{token}|{fallback}>"


def session_blocks(
    t: Translator, session: TeamSession, signups: int, ics_url: str, locale: str, *, reminder: bool
) -> list[Block]:
    start, end = int(session.starts_at.timestamp()), int(session.ends_at.timestamp())
    when = t.t(
        locale,
        "sessions.when",
        date=_date(start, "{date_long_pretty}", session.starts_at.strftime("%Y-%m-%d")),
        start=_date(start, "{time}", session.starts_at.strftime("%H:%M UTC")),
        end=_date(end, "{time}", session.ends_at.strftime("%H:%M UTC")),
    )
    label = t.t(locale, "sessions.reminder_label" if reminder else "sessions.announcement_label")
    details = [when]
    if session.place:
        details.append(escape(t.t(locale, "sessions.place", place=session.place)))
    if session.online_url:
        details.append(link(session.online_url, t.t(locale, "sessions.online")))
    body = strong(session.title)
    if session.description:
        body += "\n" + escape(session.description)
    return [
        ContextBlock(elements=[MarkdownTextObject(text=escape(label))]),
        SectionBlock(text=MarkdownTextObject(text=_clip(body, SECTION_LIMIT))),
        SectionBlock(text=MarkdownTextObject(text="\n".join(details))),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=t.t(locale, "sessions.signup_button"),
                    action_id=SIGNUP_ACTION,
                    value=f"{'r' if reminder else 'a'}:{session.id}|||{locale}",
                    style="primary",
                ),
                ButtonElement(
                    text=t.t(locale, "sessions.calendar_button"), action_id=CALENDAR_ACTION, url=ics_url
                ),
            ]
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"{escape(count_text(t.t, locale, signups))} · {escape(t.t(locale, 'sessions.privacy'))}"
                )
            ]
        ),
    ]


def render_session(
    t: Translator, post: SessionAnnouncementPost | SessionReminderPost, locale: str
) -> Rendered:
    locale = pick_locale(locale)
    reminder = isinstance(post, SessionReminderPost)
    blocks = session_blocks(t, post.session, post.signups, post.ics_url, locale, reminder=reminder)
    return Rendered(
        platform=Platform.SLACK,
        payload={"blocks": [b.to_dict() for b in blocks]},
        fallback_text=session_fallback(t, post.session, locale, reminder=reminder),
    )


def session_fallback(t: Translator, session: TeamSession, locale: str, *, reminder: bool) -> str:
    label = t.t(locale, "sessions.reminder_label" if reminder else "sessions.announcement_label")
    return fallback(f"{label}: {session.title}")
