"""The one place that gathers every table module, for migrations and the drift check."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from bot.storage import (
    tables,  # noqa: F401  (registers the tenancy tables)
    tables_console,  # noqa: F401  (console accounts, sessions, content)
    tables_conversations,  # noqa: F401  (confidential channel)
    tables_members,  # noqa: F401  (member directory sync, shared send budget)
    tables_outreach,  # noqa: F401  (scheduled outreach and team sessions)
    tables_planning,  # noqa: F401  (the organisation's country for public holidays)
    tables_pulses,  # noqa: F401  (pulses and anonymous insights)
    tables_slack,  # noqa: F401  (Slack installations and OAuth states)
    tables_teams,  # noqa: F401  (Teams conversation references)
)


def target_metadata() -> MetaData:
    return SQLModel.metadata
