"""Rounds closed before tallies existed get their tally from their answers when the database is upgraded."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.storage.db import create_engine
from bot.storage.migrate import upgrade


async def test_upgrading_backfills_tallies_of_closed_rounds(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "pulses_0002")
        practice, org, pulse, team = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        tables = {
            "practice": ("id", "name"),
            "organisation": (
                "id",
                "practice_id",
                "slug",
                "name",
                "timezone",
                "locale",
                "retention_days",
                "created_at",
            ),
            "pulse": (
                "id",
                "organisation_id",
                "pulse_set_id",
                "audience_group_id",
                "status",
                "opened_at",
                "closes_at",
                "tree",
            ),
            "pulse_answer": ("id", "organisation_id", "pulse_id", "question_id", "group_id", "value"),
        }
        types = {
            "id": sa.Uuid(),
            "practice_id": sa.Uuid(),
            "organisation_id": sa.Uuid(),
            "pulse_id": sa.Uuid(),
            "group_id": sa.Uuid(),
            "audience_group_id": sa.Uuid(),
            "created_at": sa.DateTime(timezone=True),
            "opened_at": sa.DateTime(timezone=True),
            "closes_at": sa.DateTime(timezone=True),
            "retention_days": sa.Integer(),
        }
        t = {
            name: sa.table(name, *(sa.column(c, types.get(c, sa.String())) for c in cols))
            for name, cols in tables.items()
        }
        async with engine.begin() as conn:
            await conn.execute(sa.insert(t["practice"]).values(id=practice, name="P"))
            await conn.execute(
                sa.insert(t["organisation"]).values(
                    id=org,
                    practice_id=practice,
                    slug="oud",
                    name="Oud",
                    timezone="Europe/Amsterdam",
                    locale="nl",
                    retention_days=90,
                    created_at=now,
                )
            )
            await conn.execute(
                sa.insert(t["pulse"]).values(
                    id=pulse,
                    organisation_id=org,
                    pulse_set_id="wekelijkse-check-in",
                    audience_group_id=team,
                    status="closed",
                    opened_at=now,
                    closes_at=now,
                    tree="[]",
                )
            )
            await conn.execute(
                sa.insert(t["pulse_answer"]),
                [
                    {
                        "id": uuid.uuid4(),
                        "organisation_id": org,
                        "pulse_id": pulse,
                        "question_id": "q",
                        "group_id": team,
                        "value": v,
                    }
                    for v in ("4", "4", "5")
                ],
            )
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT counts FROM pulse_round_tally"))).all()
        assert [json.loads(r[0]) for r in rows] == [{"q": {"4": 2, "5": 1}}]
    finally:
        await engine.dispose()
