"""What a copy of the data folder says about a round (DESIGN §5.1): taken while the round is open, no file holds
answer values in click order or next to anything that links to a person; taken after close, nothing orders the
answers and nothing links anybody to the round. SQLite, the data folder of the default installation."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.catalog import ContentLibrary
from bot.domain.clock import FixedClock
from bot.domain.pulses import AnswerAction, AnswerOutcome, ClickOrigin, Participant, PulseStatus
from bot.domain.tenancy import Platform
from bot.security import keyed_hash
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from tests.pulses.conftest import make_world

QUESTION = "veilig-om-te-zeggen"
# Twelve people in Team Zuid click in this order with these answers: a pattern that would show in any trace that
# keeps the order of clicks.
CLICKS = [(f"U{i:02d}", str(1 + (i * 7) % 5)) for i in range(12)]


@pytest.fixture
async def data_folder_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    folder = tmp_path / "data"
    folder.mkdir()
    engine = create_engine(f"sqlite+aiosqlite:///{folder / 'vipbot.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


def copy_folder(engine: AsyncEngine, to: Path) -> dict[str, bytes]:
    """The data folder as a copy of it would be (the files, byte for byte)."""
    folder = Path(str(engine.url.database)).parent
    shutil.copytree(folder, to)
    return {path.name: path.read_bytes() for path in to.iterdir()}


def counter_records(team_hex: str, data: bytes) -> dict[str, list[int]]:
    """Where each of the team's counters for the question sits in the database file: the row and its primary
    key's index entry both hold the group id, the question and the value next to each other."""
    found = {}
    for value in ("1", "2", "3", "4", "5"):
        pattern = (team_hex + QUESTION + value).encode()
        at = [m.start() for m in re.finditer(re.escape(pattern), data)]
        if at:
            found[value] = at
    return found


async def test_a_copy_of_the_data_folder_mid_round_and_after_close(
    data_folder_engine: AsyncEngine, content: ContentLibrary, clock: FixedClock, tmp_path: Path
) -> None:
    engine = data_folder_engine
    world = await make_world(engine, content, clock, "linde", {"Team Noord": 6, "Team Zuid": 9})
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    team = world.tree.by_slug("team-zuid")
    assert team is not None
    team_hex = team.id.hex
    where = ClickOrigin(Platform.SLACK, "T0WORKSPACE", "C-team-zuid")
    before = copy_folder(engine, tmp_path / "before")
    positions_before = counter_records(team_hex, before["vipbot.db"])
    assert set(positions_before) == {"1", "2", "3", "4", "5"}  # every counter exists before anybody clicks

    for user, value in CLICKS:
        action = AnswerAction(pulse.id, QUESTION, value)
        who = Participant(Platform.SLACK, "T0WORKSPACE", user)
        assert await world.service.answer(world.org.id, action, who, where) is AnswerOutcome.RECORDED

    # The attacker has the secret key (the embedded default keeps it in the data folder), so the round's key too.
    async with engine.connect() as conn:
        sealed = (await conn.execute(text("SELECT sealed FROM pulse_key"))).scalar_one()
    round_key = world.store._unseal(pulse.id, bytes(sealed))
    mid = copy_folder(engine, tmp_path / "mid")
    # The write-ahead log is folded into the file after every write: no page image per click is kept.
    assert len(mid.get("vipbot.db-wal", b"")) == 0
    # The counters were added to where they stand: their places in the file are the ones they had before any
    # click, so neither the file nor the order of its rows tells who clicked what, or in which order.
    assert counter_records(team_hex, mid["vipbot.db"]) == positions_before
    # No table holds one row per answer: the only rows that link to a person (participation) hold a keyed hash
    # and the round, and no value.
    async with engine.connect() as conn:
        tables = {r[0] for r in await conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
        participation = await conn.run_sync(lambda sync: inspect(sync).get_columns("pulse_participation"))
    assert "pulse_answer" not in tables
    assert {c["name"] for c in participation} == {"pulse_id", "organisation_id", "participant"}

    clock.advance(timedelta(days=7))
    assert [p.status for p in await world.service.close_due()] == [PulseStatus.CLOSED]
    after = copy_folder(engine, tmp_path / "after")
    assert len(after.get("vipbot.db-wal", b"")) == 0
    database = after["vipbot.db"]
    # The counters are gone, their bytes overwritten (secure_delete), not left in free pages.
    assert counter_records(team_hex, database) == {}
    # And so are the participation rows: even with the round's key, nobody's hash can be found any more.
    mid_data = mid["vipbot.db"]
    for user, _ in CLICKS:
        identity = Participant(Platform.SLACK, "T0WORKSPACE", user).identity()
        digest = keyed_hash(round_key, QUESTION.encode() + b"\x00" + identity)
        assert digest in mid_data  # the check can find them: they were there while the round was open
        assert digest not in database
    # What remains is the round's tally: counts per group, question and value, sorted — no order of anything.
    tallies = await world.store.cell_counts(world.org.id, [pulse.id])
    answered = {c.value: c.answers for c in tallies if c.group_id == team.id and c.question_id == QUESTION}
    expected: dict[str, int] = {}
    for _, value in CLICKS:
        expected[value] = expected.get(value, 0) + 1
    assert answered == expected
