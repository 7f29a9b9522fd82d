"""The "count me in" / "withdraw" buttons of a team-session card in Teams.

The outreach feature registers `session_submits(...)` in the Teams adapter's SubmitRoutes; the bot shows the card
it returns in place of the clicked one. Teams has no message that only one person sees in a channel, so:
- in a personal chat the card is the person's own copy: it shows the count and their own sign-up, with withdraw;
- in a channel or group chat everybody sees the card: it shows the new count and both buttons, never who clicked.
Nothing stores the person: the store keeps a keyed hash, the card shows a number.
"""

from __future__ import annotations

from uuid import UUID

from bot.adapters.teams.cards import ACTION_KEY, Card, card, escape, text_block
from bot.adapters.teams.render_sessions import REMINDER_KEY, SESSION_KEY, session_card
from bot.adapters.teams.submits import CardSubmit, SubmitAnswer, SubmitRoutes
from bot.domain.i18n import Translator
from bot.domain.sessions import SIGNUP_ACTION, WITHDRAW_ACTION, ics_link, person_of
from bot.domain.tenancy import Platform
from bot.storage.sessions import SqlSessionStore


def session_submits(store: SqlSessionStore, translator: Translator, public_base_url: str) -> SubmitAnswer:
    async def answer(submit: CardSubmit) -> Card | None:
        try:
            session_id = UUID(str(submit.value.get(SESSION_KEY)))
        except ValueError:
            return None
        locale = submit.locale
        session = await store.session_for_member(Platform.TEAMS.value, submit.tenant_id, session_id)
        if session is None or session.cancelled:
            if not submit.personal:
                return None  # a stale card in a channel stays as it is; nobody's click is announced
            return card([text_block(escape(translator.t(locale, "sessions.closed")), wrap=True)])
        person = person_of(Platform.TEAMS.value, submit.tenant_id, submit.user_id)
        if submit.value.get(ACTION_KEY) == WITHDRAW_ACTION:
            state = await store.withdraw(session.organisation_id, session.id, person)
        else:
            state = await store.sign_up(session.organisation_id, session.id, person)
        return session_card(
            translator,
            session,
            state.count,
            ics_link(public_base_url, session.id),
            locale,
            reminder=bool(submit.value.get(REMINDER_KEY)),
            own=state if submit.personal else None,
            shared=not submit.personal,
        )

    return answer


def register_session_submits(
    routes: SubmitRoutes, store: SqlSessionStore, translator: Translator, public_base_url: str
) -> None:
    answer = session_submits(store, translator, public_base_url)
    routes.register(SIGNUP_ACTION, answer)
    routes.register(WITHDRAW_ACTION, answer)
