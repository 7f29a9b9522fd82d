"""In which language a delivery is rendered.

A person's DM is in that person's language when the member directory knows it (a Slack user's locale from
`users.list`/`users.info`, a Teams user's from their activities), copied onto the delivery when it is queued.
Otherwise, and for every channel post (read by many), it is the occurrence's language: the schedule's or the
organisation's. Team sessions keep the occurrence's language everywhere: their title and description are
written in one language (the session's), and labels in another around them would read as a mistake.
"""

from __future__ import annotations

from bot.domain.content import pick_locale
from bot.domain.delivery import TargetKind
from bot.domain.outreach import Delivery, Occurrence, What

ONE_LANGUAGE = frozenset({What.SESSION, What.SESSION_REMINDER})


def reader_locale(delivery: Delivery, occurrence: Occurrence) -> str:
    if delivery.target.kind is TargetKind.PERSON and delivery.locale and occurrence.what not in ONE_LANGUAGE:
        return pick_locale(delivery.locale)
    return occurrence.locale
