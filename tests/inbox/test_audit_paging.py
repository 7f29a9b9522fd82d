"""The audit log's page query: LIMIT/OFFSET in SQL, along an index in id order (SQLite sorts nothing), and the
same entries as before: newest first, filtered, paged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.domain.audit import AuditAction, AuditEntry, AuditQuery
from bot.storage.audit import SqlAuditStore, _page
from bot.storage.db import create_engine, session_factory
from bot.storage.migrate import upgrade
from bot.storage.organisations import SqlOrganisationRepository


async def test_pages_are_read_along_an_index_and_hold_the_newest_first(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}")
    try:
        await upgrade(engine)
        store = SqlAuditStore(engine)
        org = await SqlOrganisationRepository(session_factory(engine)).add_organisation(
            "De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
        )
        moment = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        actions = [AuditAction.SIGNED_IN, AuditAction.SETTINGS_CHANGED, AuditAction.INVITED]
        for n in range(120):
            await store.add(AuditEntry(moment, None, actions[n % 3], org.id if n % 2 else None, f"s{n}"))

        first = await store.list(AuditQuery(page=1))
        assert [e.subject for e in first.entries] == [f"s{n}" for n in range(119, 69, -1)]
        assert first.has_next
        last = await store.list(AuditQuery(page=3))
        assert [e.subject for e in last.entries] == [f"s{n}" for n in range(19, -1, -1)]
        assert not last.has_next
        settings = await store.list(AuditQuery(action=AuditAction.SETTINGS_CHANGED, organisation_id=org.id))
        assert [e.subject for e in settings.entries] == [f"s{n}" for n in range(119, -1, -1) if n % 6 == 1]

        async with engine.connect() as connection:
            for by_action in (False, True):
                for by_organisation in (False, True):
                    compiled = _page(by_action, by_organisation).compile(dialect=connection.dialect)
                    values = {"limit": 51, "offset": 0, "action": "invited", "organisation_id": org.id.hex}
                    positional = tuple(values[name] for name in compiled.positiontup or ())
                    plan = (
                        await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional)
                    ).all()
                    details = " ".join(str(row[-1]) for row in plan)
                    assert "TEMP B-TREE" not in details, details  # no sort of the whole table per page
                    if by_action or by_organisation:
                        assert "INDEX" in details, details
    finally:
        await engine.dispose()
