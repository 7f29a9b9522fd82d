"""Deliveries that failed before failure codes existed get the code of their recorded reason on upgrade."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from bot.storage.db import create_engine
from bot.storage.migrate import upgrade

_UUID, _TIME = sa.Uuid(), sa.DateTime(timezone=True)


def _table(table: str, /, **columns: sa.types.TypeEngine[object]) -> sa.TableClause:
    return sa.table(table, *(sa.column(c, kind) for c, kind in columns.items()))


async def test_upgrading_gives_failed_deliveries_the_code_of_their_reason(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "outreach_0001")
        practice, org, occurrence = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        s = sa.String()
        delivery = _table(
            "outreach_delivery", id=_UUID, organisation_id=_UUID, occurrence_id=_UUID, platform=s,
            workspace_id=s, target_kind=s, address=s, status=s, attempts=sa.Integer(), not_before=_TIME,
            error=s, created_at=_TIME,
        )  # fmt: skip
        reasons = {
            "a": ("failed", "chat.postMessage: is_archived"),
            "b": ("failed", "gave up after 5 attempts: Teams throttled the bot (429)"),
            "c": ("failed", "the bot was removed from the conversation (BotDisabledByAdmin)"),
            "d": ("failed", "Traceback: CANARY free text"),
            "e": ("sent", None),
        }
        async with engine.begin() as conn:
            await conn.execute(sa.insert(_table("practice", id=_UUID, name=s)).values(id=practice, name="P"))
            organisation = _table(
                "organisation", id=_UUID, practice_id=_UUID, slug=s, name=s, timezone=s, locale=s,
                retention_days=sa.Integer(), created_at=_TIME,
            )  # fmt: skip
            await conn.execute(
                sa.insert(organisation).values(
                    id=org, practice_id=practice, slug="oud", name="Oud", timezone="Europe/Amsterdam",
                    locale="nl", retention_days=90, created_at=now,
                )
            )  # fmt: skip
            occurrences = _table(
                "outreach_occurrence", id=_UUID, organisation_id=_UUID, occurs_at=_TIME, send_at=_TIME, kind=s,
                locale=s, created_at=_TIME,
            )  # fmt: skip
            await conn.execute(
                sa.insert(occurrences).values(
                    id=occurrence, organisation_id=org, occurs_at=now, send_at=now, kind="column", locale="nl",
                    created_at=now,
                )
            )  # fmt: skip
            for address, (status, error) in reasons.items():
                await conn.execute(
                    sa.insert(delivery).values(
                        id=uuid.uuid4(), organisation_id=org, occurrence_id=occurrence, platform="slack",
                        workspace_id="T1", target_kind="channel", address=address, status=status, attempts=1,
                        not_before=now, error=error, created_at=now,
                    )
                )  # fmt: skip
        await upgrade(engine)
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text(
                    "SELECT address, failure_code, failure_detail FROM outreach_delivery ORDER BY address"
                )
            )
            found = {address: (code, detail) for address, code, detail in rows}
    finally:
        await engine.dispose()
    assert found == {
        "a": ("channel_archived", None),
        "b": ("gave_up", "5"),
        "c": ("teams_disabled", None),
        "d": ("other", None),  # free text never becomes a detail
        "e": (None, None),
    }
