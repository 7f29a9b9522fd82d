"""Tables of planning: the organisation's country, whose public holidays nothing is posted on.

The organisation's own days off stay in `outreach_calendar.holidays`; public holidays are not stored but computed
from the maintained `holidays` package for the country kept here.
"""

from __future__ import annotations

import uuid

from sqlmodel import Field, SQLModel


class PlanningCalendarRow(SQLModel, table=True):
    __tablename__ = "planning_calendar"

    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True, ondelete="CASCADE")
    country: str = Field(default="", max_length=8)  # ISO 3166 code; "" = no public holidays
