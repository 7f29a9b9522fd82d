"""The "count me in" / "withdraw" buttons of a team-session card in Teams, and the card's refresh.

The outreach feature registers these answers in the Teams adapter's SubmitRoutes. A Universal Action click (the
cards' buttons are `Action.Execute`) is answered with the clicker's own view — the count and their own sign-up,
with "withdraw" — which Teams shows to them only, in a channel as in a personal chat; the refresh gives the same
view without changing anything. A click on an older Action.Submit card (sent before) keeps the old answers: in a
personal chat the person's own copy; in a channel the new count and both buttons, never who clicked.
Nothing stores the person: the store keeps a keyed hash, the card shows a number.
"""

from __future__ import annotations

from uuid import UUID

from bot.adapters.teams.cards import ACTION_KEY, card, escape, text_block
from bot.adapters.teams.render_sessions import REMINDER_KEY, SESSION_KEY, VIEW_ACTION, session_card
from bot.adapters.teams.submits import CardSubmit, ClickAnswer, SubmitAnswer, SubmitRoutes
from bot.domain.i18n import Translator
from bot.domain.team_sessions import SIGNUP_ACTION, WITHDRAW_ACTION, TeamSessionStore, ics_link, person_of
from bot.domain.tenancy import Platform


def session_submits(store: TeamSessionStore, translator: Translator, public_base_url: str) -> SubmitAnswer:
    async def answer(submit: CardSubmit) -> ClickAnswer:
        try:
            session_id = UUID(str(submit.value.get(SESSION_KEY)))
        except ValueError:
            return None
        locale = submit.locale
        own_view = submit.personal or submit.execute
        session = await store.session_for_member(Platform.TEAMS.value, submit.tenant_id, session_id)
        if session is None or session.cancelled:
            if not own_view:
                return None  # a stale card in a channel stays as it is; nobody's click is announced
            return card([text_block(escape(translator.t(locale, "sessions.closed")), wrap=True)])
        person = person_of(Platform.TEAMS.value, submit.tenant_id, submit.user_id)
        action = submit.value.get(ACTION_KEY)
        if action == VIEW_ACTION:
            state = await store.state(session.organisation_id, session.id, person)
        elif action == WITHDRAW_ACTION:
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
            own=state if own_view else None,
            shared=not own_view,
        )

    return answer


def register_session_submits(
    routes: SubmitRoutes, store: TeamSessionStore, translator: Translator, public_base_url: str
) -> None:
    answer = session_submits(store, translator, public_base_url)
    routes.register(SIGNUP_ACTION, answer)
    routes.register(WITHDRAW_ACTION, answer)
    routes.register(VIEW_ACTION, answer)
