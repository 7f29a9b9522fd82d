"""In which language a delivery is rendered.

A person's DM is in that person's language when the member directory knows it (a Slack user's locale from
`users.list`/`users.info`, a Teams user's from their activities), copied onto the delivery when it is queued.
Otherwise, and for every channel post (read by many), it is the occurrence's language: the schedule's or the
organisation's.
"""

from __future__ import annotations

from bot.domain.content import pick_locale
from bot.domain.delivery import TargetKind
from bot.domain.outreach import Delivery, Occurrence


def reader_locale(delivery: Delivery, occurrence: Occurrence) -> str:
    if delivery.target.kind is TargetKind.PERSON and delivery.locale:
        return pick_locale(delivery.locale)
    return occurrence.locale
