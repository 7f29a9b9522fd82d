"""The one place that gathers every table module, for migrations and the drift check."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

from bot.storage import tables  # noqa: F401  (registers the tenancy tables)
from bot.storage import tables_console  # noqa: F401  (console accounts, sessions, content)
from bot.storage import tables_conversations  # noqa: F401  (confidential channel)
from bot.storage import tables_outreach  # noqa: F401  (scheduled outreach and team sessions)
from bot.storage import tables_slack  # noqa: F401  (Slack installations and OAuth states)
from bot.storage import tables_pulses  # noqa: F401  (pulses and anonymous insights)
from bot.storage import tables_teams  # noqa: F401  (Teams conversation references)


def target_metadata() -> MetaData:
    return SQLModel.metadata
