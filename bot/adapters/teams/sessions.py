"""The "count me in" / "withdraw" Action.Submit of a team-session card in Teams.

The Teams bot hands an Action.Submit whose value names one of the session actions to `answer_session_submit`
and sends the card it returns as an update of the clicked card (`reply_to_id`), or as a reply. The card shows the
count and — to the clicking person only, because the update is of their own copy in a personal chat, or a reply
in a channel — whether they are signed up. Nothing stores the person: the store keeps a keyed hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from bot.adapters.teams.cards import ACTION_KEY, Card
from bot.adapters.teams.render_sessions import SESSION_KEY, session_card
from bot.domain.i18n import Translator
from bot.domain.sessions import SIGNUP_ACTION, WITHDRAW_ACTION, person_of
from bot.domain.tenancy import Platform
from bot.storage.sessions import SqlSessionStore

SESSION_ACTIONS = frozenset({SIGNUP_ACTION, WITHDRAW_ACTION})


def is_session_submit(value: object) -> bool:
    return isinstance(value, Mapping) and value.get(ACTION_KEY) in SESSION_ACTIONS


async def answer_session_submit(
    value: Mapping[str, Any],
    tenant_id: str,
    user_id: str,
    store: SqlSessionStore,
    translator: Translator,
    locale: str,
    ics_url: str,
) -> Card | None:
    """The card to show after a click, or None when the value is not a session action of this tenant."""
    if not is_session_submit(value):
        return None
    try:
        session_id = UUID(str(value.get(SESSION_KEY)))
    except ValueError:
        return None
    session = await store.session_for_member(Platform.TEAMS.value, tenant_id, session_id)
    if session is None or session.cancelled:
        from bot.adapters.teams.cards import card, escape, text_block

        return card([text_block(escape(translator.t(locale, "sessions.closed")))])
    person = person_of(Platform.TEAMS.value, tenant_id, user_id)
    if value.get(ACTION_KEY) == WITHDRAW_ACTION:
        state = await store.withdraw(session.organisation_id, session.id, person)
    else:
        state = await store.sign_up(session.organisation_id, session.id, person)
    return session_card(translator, session, state.count, ics_url, locale, reminder=False, own=state)
