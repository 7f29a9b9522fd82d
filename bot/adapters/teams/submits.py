"""Clicks on our cards' buttons, routed by the card's action key to the feature that owns the card.

Two kinds of button reach a feature. `Action.Execute` (Universal Actions, the kind new cards carry) arrives as an
`adaptiveCard/action` invoke: the card the feature answers with is shown to the person who clicked only, and is
not written into the message, so it may show their own state (their sign-up); a `Transient` answer is a short
notice Teams shows to that person for a moment. `Action.Submit` (cards sent before) arrives as a message: a card
answer replaces the clicked card for everybody who sees it.

Features mount after the Teams adapter (outreach for team sessions, pulses for answers), so the adapter offers a
routing table in `services.teams_submits` and each feature registers the actions of its own cards there. A click
carries only what the card put in its data and who clicked where; there is never typed text in it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.adapters.teams.cards import ACTION_KEY, Card
from bot.domain.tenancy import Organisation


@dataclass(frozen=True, slots=True)
class CardSubmit:
    """One click on a card button, as the handler of that card sees it."""

    value: Mapping[str, Any]
    organisation: Organisation
    tenant_id: str
    user_id: str
    address: str  # the clicked conversation's delivery address, as channel bindings name it
    personal: bool  # a personal chat: the card is the clicking person's own copy
    locale: str
    portal_url: str
    execute: bool = False  # Action.Execute: the answer is the clicker's own view, never stored in the chat


@dataclass(frozen=True, slots=True)
class Transient:
    """A notice shown to the person who clicked, for a moment; it stays nowhere in the chat."""

    text: str


#: A click's answer: a card (see above), a transient notice, or None to leave the chat as it is.
ClickAnswer = Card | Transient | None
SubmitAnswer = Callable[[CardSubmit], Awaitable[ClickAnswer]]


class SubmitRoutes:
    """Which feature answers which card action."""

    def __init__(self) -> None:
        self._routes: dict[str, SubmitAnswer] = {}

    def register(self, action: str, answer: SubmitAnswer) -> None:
        if action in self._routes:
            raise ValueError(f"card action {action!r} is registered twice")
        self._routes[action] = answer

    def find(self, value: object) -> SubmitAnswer | None:
        if not isinstance(value, Mapping):
            return None
        action = value.get(ACTION_KEY)
        return self._routes.get(action) if isinstance(action, str) else None
