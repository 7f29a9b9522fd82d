"""Shared by the Slack and Teams benches: an open round of the weekly check-in, for their pulse-answer workloads."""

from __future__ import annotations

from typing import Any

PULSE_SET = "wekelijkse-check-in"


async def open_pulse_round(services: Any, organisation_id: Any) -> tuple[str, list[str]]:
    """Opens a round for the whole organisation (one department); returns its id and the Likert question ids."""
    from bot.domain.tenancy import GroupKind

    await services.organisations.add_group(organisation_id, "Zorg", GroupKind.DEPARTMENT, None)
    pulses = services.pulses
    tree = await services.organisations.group_tree(organisation_id)
    round_ = await pulses.service.open_round(organisation_id, PULSE_SET, tree)
    questions = [q.id for q in pulses.service.pulse_set(PULSE_SET).questions if q.kind.value == "likert"]
    return str(round_.id), questions
