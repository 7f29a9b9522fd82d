"""Pulses as the CLI (`vipbot pulse …`) and the console both handle them: which pulse set, opening and closing a
round, listing rounds — with the same checks and the same refusal codes.

A pulse is planned as an outreach schedule whose item is the pulse set (`What.PULSE`), so planning and editing go
through `bot.usecases.schedules`; this module adds what is particular to pulses. Nothing here reads or shows an
answer: results only ever come from a release (`bot.domain.insights`), under the floors and the privacy budget.

A refusal is a `PulseRefusedError` with a `PulseProblem` code: the CLI prints its one-line message, the console
maps the code to a locale key.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from bot.domain.content import PulseSet
from bot.domain.pulses import Pulse, PulseService, PulseStatus, RoundStillOpenError
from bot.domain.tenancy import GroupTree
from bot.errors import ConflictError, NotFoundError, RefusedError

WINDOW_MIN_DAYS, WINDOW_MAX_DAYS = 1, 31


class PulseProblem(StrEnum):
    SET_MISSING = "set_missing"  # no pulse set chosen
    UNKNOWN_SET = "unknown_set"  # not in the content library
    UNKNOWN_GROUP = "unknown_group"  # the round's group does not exist
    WINDOW = "window"  # days open out of range
    STILL_OPEN = "still_open"  # a round of this set for overlapping people is open
    NOT_FOUND = "not_found"  # no such round in this organisation
    CLOSED_ALREADY = "closed_already"  # the round was closed before


class PulseRefusedError(RefusedError[PulseProblem]):
    """A pulse action that cannot be done as asked; `pulse` is the round it is about, when there is one."""

    def __init__(self, problem: PulseProblem, message: str, pulse: Pulse | None = None) -> None:
        super().__init__(problem, message)
        self.pulse = pulse


class PulseSets(Protocol):
    @property
    def pulse_sets(self) -> tuple[PulseSet, ...]: ...

    def pulse_set(self, pulse_set_id: str) -> PulseSet | None: ...


class RoundStore(Protocol):
    async def pulse_set_ids(self, organisation_id: UUID) -> list[str]: ...

    async def rounds(self, organisation_id: UUID, pulse_set_id: str) -> list[Pulse]: ...

    async def get_pulse(self, organisation_id: UUID, pulse_id: UUID) -> Pulse: ...


def check_pulse_set(catalog: PulseSets, pulse_set_id: str | None) -> PulseSet:
    if not pulse_set_id:
        raise PulseRefusedError(PulseProblem.SET_MISSING, "say which pulse set to run (see content/pulses)")
    found = catalog.pulse_set(pulse_set_id)
    if found is None:
        known = ", ".join(p.id for p in catalog.pulse_sets) or "none"
        raise PulseRefusedError(
            PulseProblem.UNKNOWN_SET, f"there is no pulse set '{pulse_set_id}'; known: {known}"
        )
    return found


def check_window(days: int | None) -> None:
    if days is not None and not WINDOW_MIN_DAYS <= days <= WINDOW_MAX_DAYS:
        raise PulseRefusedError(
            PulseProblem.WINDOW, f"a round is open between {WINDOW_MIN_DAYS} and {WINDOW_MAX_DAYS} days"
        )


async def open_round(
    service: PulseService,
    catalog: PulseSets,
    organisation_id: UUID,
    tree: GroupTree,
    pulse_set_id: str,
    group_slug: str | None = None,
    days: int | None = None,
) -> Pulse:
    """Open a round now, by hand: refused while a round of the set for overlapping people is still open."""
    check_pulse_set(catalog, pulse_set_id)
    check_window(days)
    audience = None
    if group_slug:
        group = tree.by_slug(group_slug)
        if group is None:
            raise PulseRefusedError(
                PulseProblem.UNKNOWN_GROUP, f"no group '{group_slug}' in this organisation"
            )
        audience = group.id
    try:
        return await service.open_round(organisation_id, pulse_set_id, tree, audience, days)
    except RoundStillOpenError as exc:
        raise PulseRefusedError(
            PulseProblem.STILL_OPEN, "a round of this pulse set for these people is still open", exc.pulse
        ) from None
    except ConflictError as exc:
        raise PulseRefusedError(PulseProblem.WINDOW, str(exc)) from None


async def close_round(
    service: PulseService, store: RoundStore, organisation_id: UUID, round_id: str
) -> Pulse:
    """Close a round before its window ends: its key and who-answered rows are destroyed at once, and no more
    answers are taken. Its figures appear only when the period is released (after the month, over the floors)."""
    try:
        pulse = await store.get_pulse(organisation_id, UUID(round_id))
    except (ValueError, NotFoundError):
        raise PulseRefusedError(
            PulseProblem.NOT_FOUND, f"no round '{round_id}' in this organisation"
        ) from None
    if pulse.status is PulseStatus.CLOSED:
        raise PulseRefusedError(PulseProblem.CLOSED_ALREADY, "this round is closed already", pulse)
    return await service.close_now(organisation_id, pulse.id)


async def rounds_of(store: RoundStore, organisation_id: UUID) -> Sequence[Pulse]:
    """Every round of the organisation, newest first (status and dates only: nothing about answers)."""
    found = [
        p
        for set_id in await store.pulse_set_ids(organisation_id)
        for p in await store.rounds(organisation_id, set_id)
    ]
    return sorted(found, key=lambda p: (p.opened_at, str(p.id)), reverse=True)
