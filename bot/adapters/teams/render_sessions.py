"""Adaptive Cards for team sessions: announcement and day-before reminder, with "count me in" and an .ics link.
Teams formats {{DATE()}}/{{TIME()}} in each reader's own time zone. Counts, never names.

The buttons are Universal Actions (`Action.Execute`): a click is answered with the clicker's own view of the card
(their sign-up, with "withdraw"), shown to them only; the card's `refresh` gives each reader that view when they
open it. The message itself, which everybody in a channel sees, never changes after a click."""

from __future__ import annotations

from typing import Any

from bot.adapters.teams.cards import (
    LOCALE_KEY,
    Card,
    card,
    escape,
    execute,
    iso_utc,
    open_url,
    outside_line,
    refresh,
    rendered,
    text_block,
)
from bot.domain.content import pick_locale
from bot.domain.delivery import Rendered
from bot.domain.i18n import Translator
from bot.domain.team_sessions import (
    SIGNUP_ACTION,
    WITHDRAW_ACTION,
    SessionAnnouncementPost,
    SessionReminderPost,
    SignupState,
    TeamSession,
    count_text,
)

SESSION_KEY = "session"
REMINDER_KEY = "reminder"  # in the data of a reminder's buttons, so the updated card stays a reminder
VIEW_ACTION = "session_view"  # the card's refresh: the reader's own view, changes nothing


def _data(session: TeamSession, locale: str, *, reminder: bool) -> dict[str, Any]:
    data: dict[str, Any] = {SESSION_KEY: str(session.id), LOCALE_KEY: locale}
    if reminder:
        data[REMINDER_KEY] = True
    return data


def session_card(
    t: Translator,
    session: TeamSession,
    signups: int,
    ics_url: str,
    locale: str,
    *,
    reminder: bool,
    own: SignupState | None = None,
    shared: bool = False,
) -> Card:
    """The session card. `own`: the person's own copy, showing their sign-up; `shared`: a card everybody in a
    channel sees after clicks, with both buttons since it cannot show whose sign-up is whose."""
    when = t.t(
        locale,
        "sessions.when",
        date=f"{{{{DATE({iso_utc(session.starts_at)}, LONG)}}}}",
        start=f"{{{{TIME({iso_utc(session.starts_at)})}}}}",
        end=f"{{{{TIME({iso_utc(session.ends_at)})}}}}",
    )
    label = t.t(locale, "sessions.reminder_label" if reminder else "sessions.announcement_label")
    body = [
        text_block(escape(label), isSubtle=True, size="Small"),
        text_block(f"**{escape(session.title)}**", size="Large"),
    ]
    if session.description:
        body.append(text_block(escape(session.description)))
    details = [when]
    if session.place:
        details.append(escape(t.t(locale, "sessions.place", place=session.place)))
    if session.online_url and session.online_url.startswith("https://"):
        details.append(f"[{escape(t.t(locale, 'sessions.online'))}]({session.online_url})")
    body.append(text_block("\n\n".join(details), spacing="Medium"))
    count = signups if own is None else own.count
    body.append(
        text_block(
            f"{escape(count_text(t.t, locale, count))} · {escape(t.t(locale, 'sessions.privacy'))}",
            isSubtle=True,
        )
    )
    if own is not None and own.signed_up:
        body.append(
            text_block(escape(t.t(locale, "sessions.signed_up", title=session.title)), weight="Bolder")
        )
    body.append(outside_line(t, locale))
    data = _data(session, locale, reminder=reminder)
    signup = execute(t.t(locale, "sessions.signup_button"), SIGNUP_ACTION, data)
    withdraw = execute(t.t(locale, "sessions.withdraw_button"), WITHDRAW_ACTION, data)
    if shared:
        buttons = [signup, withdraw]
    elif own is not None and own.signed_up:
        buttons = [withdraw]
    else:
        buttons = [signup]
    built = card(body, [*buttons, open_url(t.t(locale, "sessions.calendar_button"), ics_url)])
    built["refresh"] = refresh(VIEW_ACTION, data)
    return built


def _render(
    t: Translator, post: SessionAnnouncementPost | SessionReminderPost, locale: str, *, reminder: bool
) -> Rendered:
    locale = pick_locale(locale)
    content = session_card(t, post.session, post.signups, post.ics_url, locale, reminder=reminder)
    label = t.t(locale, "sessions.reminder_label" if reminder else "sessions.announcement_label")
    return rendered(content, locale, f"{label}: {post.session.title}")


def render_announcement(t: Translator, post: SessionAnnouncementPost, locale: str) -> Rendered:
    return _render(t, post, locale, reminder=False)


def render_reminder(t: Translator, post: SessionReminderPost, locale: str) -> Rendered:
    return _render(t, post, locale, reminder=True)
