"""A realistic day against the real app, then a sweep of the data folder for anything the employer could use.

The whole service (every feature, as `vipbot serve` builds it) runs on loopback with its SQLite database in a data
folder and its log written there too. Employees start conversations in the portal (one anonymous, one with a name),
come back with their receipt codes, write, and one erases hers; a counsellor replies, rotates her key; a colleague is
removed from the organisation. A pulse round opens, people answer with one click in Slack, the round closes.
Every text, name and passphrase carries a canary. Then the folder (database, `-wal`, `-shm`, the log) is copied
as an admin would and searched for: message text, the pseudonym, receipt codes, passphrases, the time of any portal
request, the clickers' Slack ids, and the order in which answer values were clicked — in the database as it
stands, in SQLite's hidden row numbers, and in every intermediate state the write-ahead log can replay.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import re
import shutil
import sqlite3
import struct
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image
from sqlalchemy import text as sql

from bot.app import Services, feature_installers
from bot.catalog import ContentLibrary
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author
from bot.domain.pulses import AnswerAction
from bot.domain.tenancy import GroupKind, Organisation
from bot.logs import configure_logging, route_structlog_to_stdlib
from bot.reporting.service import Pulses
from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret
from bot.settings import Settings, load_settings
from bot.storage.db import create_engine
from bot.web.observability import AccessLogger
from bot.web.portal.channel import ConfidentialChannel
from bot.web.portal.limits import solve
from bot.web.portal.maintenance import run_notices
from tests.adapters.slack.support import SIGNING_SECRET, signed_headers
from tests.doubles.slack_api import DEFAULT_TOKEN, SlackApiSimulator
from tests.support.databases import clone_sqlite
from tests.support.slack import block_action, bot_channel, linked_org, start_service, stop_service

CANARY = "KNR7Q"
FIRST_TEXT = f"{CANARY}-tekst Mijn leidinggevende schreeuwt elke ochtend tegen me."
SECOND_TEXT = f"{CANARY}-vervolg Het gebeurde gisteren weer, waar iedereen bij was."
NAMED_TEXT = f"{CANARY}-benoemd Ik wil het hebben over een collega."
ERASED_TEXT = f"{CANARY}-gewist Dit wil ik toch liever niet bewaard hebben."
PSEUDONYM = f"{CANARY}-naam Sanne Hoekstra 06-55501234"
REPLY = f"{CANARY}-reactie Dank voor je bericht, laten we een moment afspreken."
NOTICE_ADDRESS = f"{CANARY}.sanne@example.net"
PHOTO_CAMERA = f"{CANARY}-camera"
PASSPHRASES = {
    "mira": f"{CANARY}-wachtzin paarse olifant fietst naar huis",
    "mira-new": f"{CANARY}-wachtzin nieuw groene kikker zwemt",
    "daan": f"{CANARY}-wachtzin daan oranje vos slaapt",
}
POW_BITS = 4
PULSE_SET = "wekelijkse-check-in"
# Values in a deliberately odd order: found in this order anywhere, the click order has leaked.
CLICK_VALUES = ["5", "1", "4", "2", "3", "3", "1", "5", "2", "4", "1", "3"]
CLICKERS = [f"U0KN{i:03d}" for i in range(len(CLICK_VALUES))]
START = datetime(2026, 3, 2, 8, 17, 43, 517201, tzinfo=UTC)


@dataclass
class Day:
    data: Path
    services: Services
    clock: FixedClock
    server: TestServer
    http: aiohttp.ClientSession
    org: Organisation
    slack_api: SlackApiSimulator
    log_path: Path
    codes: list[str] = field(default_factory=list)
    portal_moments: list[datetime] = field(default_factory=list)

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    @property
    def pulses(self) -> Pulses:
        pulses: Pulses = self.services.pulses
        return pulses


def _settings(data: Path, keyfile: Path, slack_api: SlackApiSimulator) -> Settings:
    return load_settings(
        {
            "VIPBOT_DATA_DIR": str(data),
            "VIPBOT_SECRET_KEY_FILE": str(keyfile),
            "VIPBOT_BASE_URL": "http://vipbot.test",
            "VIPBOT_SCHEDULER": "false",
            "VIPBOT_PORTAL_POW_BITS": str(POW_BITS),
            "VIPBOT_LOG_LEVEL": "INFO",
            "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_api.api_url,
        },
        dotenv_path=None,
    )


@pytest.fixture
async def day(
    tmp_path: Path, content: ContentLibrary, slack_api: SlackApiSimulator, sqlite_template: Path
) -> AsyncIterator[Day]:
    data = tmp_path / "data"
    data.mkdir()
    keyfile = tmp_path / "keys" / "secret_key"
    keyfile.parent.mkdir()
    keyfile.write_text("kX3v9Qm2LpR7tW4zN8bY1cF6hJ0sD5gA-canary-sweep\n", encoding="utf-8")
    settings = _settings(data, keyfile, slack_api)
    log_path = data / "vipbot.log"
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    log_file = log_path.open("w", encoding="utf-8")
    configure_logging(settings.log_level, settings.log_format.value, log_file)  # as `vipbot serve` does
    clone_sqlite(sqlite_template, settings.effective_database_url)  # the migrated schema, copied
    engine = create_engine(settings.effective_database_url)
    clock = FixedClock(START)
    services = Services(settings=settings, clock=clock, engine=engine, content=content)
    # Every feature, with the access log, as `vipbot serve` runs it.
    running = await start_service(services, feature_installers(), access_log_class=AccessLogger, cookies=True)
    try:
        org = await linked_org(services, "Zorggroep De Linde", "de-linde")
        await services.organisations.add_group(org.id, "Zorg", GroupKind.DEPARTMENT, None)
        bot_channel(slack_api, "C0ZORG", "zorg")
        for user in CLICKERS:
            slack_api.add_user(user)
        yield Day(data, services, clock, running.server, running.session, org, slack_api, log_path)
    finally:
        await stop_service(running)
        log_file.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        route_structlog_to_stdlib()  # as every other test expects it (tests/conftest.py)


# -- the day ---------------------------------------------------------------------------------------------------


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field"
    return found.group(1)


async def _form(day: Day, path: str) -> dict[str, str]:
    async with day.http.get(day.url(path)) as response:
        assert response.status == 200, path
        html = await response.text()
    fields = {"csrf_token": _hidden(html, "csrf_token")}
    if 'name="pow_challenge"' in html:
        challenge = _hidden(html, "pow_challenge")
        fields |= {"pow_challenge": challenge, "pow_answer": solve(challenge, POW_BITS)}
    return fields


async def _portal_post(day: Day, path: str, form: dict[str, str]) -> str:
    """A portal action at a moment of the day that the sweep looks for afterwards."""
    day.clock.advance(timedelta(minutes=7, seconds=13, microseconds=91_001))
    day.portal_moments.append(day.clock.now())
    fields = await _form(day, path)
    async with day.http.post(day.url(path), data={**fields, **form}) as response:
        assert response.status == 200, (path, await response.text())
        return await response.text()


async def _start(day: Day, text: str, identity: str | None = None) -> str:
    form = {"mode": "pseudonymous" if identity else "anonymous", "text": text}
    if identity:
        form["identity"] = identity
    html = await _portal_post(day, "/portal/de-linde/start", form)
    code = re.search(r'id="receipt-code" data-code="([0-9A-Z-]+)"', html)
    assert code, "the receipt code is shown once"
    day.codes.append(code.group(1))
    day.http.cookie_jar.clear()  # the employee closes the browser
    return code.group(1)


async def _come_back_and_write(day: Day, code: str, text: str) -> None:
    await _portal_post(day, "/portal/de-linde/return", {"code": code.lower().replace("-", " ")})
    async with day.http.get(day.url("/portal/de-linde/conversation")) as response:
        html = await response.text()
    await _portal_post(day, "/portal/de-linde/conversation", {"text": text, "after": _hidden(html, "after")})
    day.http.cookie_jar.clear()


async def _notice_and_photo(day: Day, channel: ConfidentialChannel, mira: UUID, code: str) -> None:
    """The named employee asks for a reply notice by e-mail and sends a photo with its camera and position in it;
    the counsellor replies and the notice goes out after its random delay."""
    await _portal_post(day, "/portal/de-linde/return", {"code": code})
    async with day.http.get(day.url("/portal/de-linde/conversation")) as response:
        html = await response.text()
    notice = {"csrf_token": _hidden(html, "csrf_token"), "action": "email", "email": NOTICE_ADDRESS}
    async with day.http.post(day.url("/portal/de-linde/notice"), data=notice) as response:
        assert response.status == 200
    upload = aiohttp.FormData({"csrf_token": _hidden(html, "csrf_token"), "after": _hidden(html, "after")})
    upload.add_field("file", _photo_with_position(), filename="IMG_0042.jpg", content_type="image/jpeg")
    async with day.http.post(day.url("/portal/de-linde/file"), data=upload) as response:
        assert response.status == 200
    day.http.cookie_jar.clear()
    async with day.services.engine.connect() as connection:  # the one conversation that asked for a notice
        found = await connection.execute(sql("SELECT conversation_id FROM conversation_notice"))
        noticed = UUID(str(found.scalar_one()))
    conversation = next(c for c in await channel.store.inbox(mira) if c.id == noticed)
    await channel.service.write(
        day.org.id, 90, conversation.id, Author.COUNSELLOR, REPLY, conversation.next_sequence
    )
    async with aiohttp.ClientSession() as http:
        assert await run_notices(day.services, http, random.Random(3)) == 0  # armed
        day.clock.advance(timedelta(hours=4))
        # Due and claimed; with no mail server configured the e-mail itself is left out.
        assert await run_notices(day.services, http, random.Random(3)) == 1


def _photo_with_position() -> bytes:
    image = Image.new("RGB", (32, 24), (10, 120, 60))
    exif = image.getexif()
    exif[0x010F] = PHOTO_CAMERA
    exif[0x8825] = {1: "N", 2: (52.0, 5.0, 17.0), 3: "E", 4: (4.0, 53.0, 2.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def _come_back_and_erase(day: Day, code: str) -> None:
    await _portal_post(day, "/portal/de-linde/return", {"code": code})
    await _portal_post(day, "/portal/de-linde/delete", {"confirm": "yes"})
    day.http.cookie_jar.clear()


def _click(user: str, action_id: str, value: str) -> tuple[bytes, str]:
    return block_action(user, action_id, value, "C0ZORG", "1.000001")


async def _open_round_and_click(day: Day) -> tuple[UUID, str]:
    # Later that morning the weekly round opens (an offset with its own fraction of a second, so that no time of the
    # round is mistaken for one derived from a portal request).
    day.clock.advance(timedelta(hours=1, minutes=3, seconds=29, microseconds=313_131))
    tree = await day.services.organisations.group_tree(day.org.id)
    round_ = await day.pulses.service.open_round(day.org.id, PULSE_SET, tree)
    question = next(
        q.id for q in day.pulses.service.pulse_set(PULSE_SET).questions if q.kind.value == "likert"
    )
    for user, value in zip(CLICKERS, CLICK_VALUES, strict=True):
        body, content_type = _click(
            user, f"vp-pulse:{question}:{value}", AnswerAction(round_.id, question, value).encode()
        )
        async with day.http.post(
            day.url("/slack/events"), data=body, headers=signed_headers(body, content_type)
        ) as r:
            assert r.status == 200
        # One after the other, each confirmed (stored) before the next person clicks.
        deadline = time.monotonic() + 10
        while len(day.slack_api.ephemerals) < CLICKERS.index(user) + 1:
            assert time.monotonic() < deadline, "a click was not confirmed"
            await asyncio.sleep(0.01)
    assert all("Dank je wel" in e["text"] for e in day.slack_api.ephemerals)
    return round_.id, question


async def _live_the_day(day: Day) -> None:
    channel = ConfidentialChannel(
        day.services.engine, day.services.settings, day.clock, argon2=INSECURE_TEST_ARGON2_PARAMS
    )
    mira = await channel.add_counsellor(
        day.org.id, "Mira Jansen", "mira@vp.test", Secret(PASSPHRASES["mira"])
    )
    daan = await channel.add_counsellor(
        day.org.id, "Daan de Vries", "daan@vp.test", Secret(PASSPHRASES["daan"])
    )

    first = await _start(day, FIRST_TEXT)
    named = await _start(day, NAMED_TEXT, PSEUDONYM)
    erased = await _start(day, ERASED_TEXT)

    # The counsellor reads and replies (as the inbox does), in her key's session.
    key = await channel.unlock(mira, Secret(PASSPHRASES["mira"]))
    for conversation_id in [c.id for c in await channel.store.inbox(mira)]:
        summary = await channel.store.get(day.org.id, conversation_id)
        await channel.service.read(
            day.org.id,
            conversation_id,
            await channel.service.counsellor_key(key, conversation_id),
            Author.COUNSELLOR,
        )
        await channel.service.write(
            day.org.id, 90, conversation_id, Author.COUNSELLOR, REPLY, summary.next_sequence
        )

    await _come_back_and_write(day, first, SECOND_TEXT)
    await _come_back_and_write(day, named, SECOND_TEXT)
    await _come_back_and_erase(day, erased)
    await _notice_and_photo(day, channel, mira, named)

    assert await channel.rotate_key(mira, Secret(PASSPHRASES["mira"]), Secret(PASSPHRASES["mira-new"])) == 2
    assert await channel.store.unlink_counsellor(day.org.id, daan) == 2
    await channel.expire()  # the maintenance round: nothing is due yet, stale unlocks go


# -- the sweep -------------------------------------------------------------------------------------------------


@dataclass
class Copy:
    folder: Path
    files: dict[str, bytes]

    @property
    def database(self) -> Path:
        return self.folder / "vipbot.db"

    def everything(self) -> bytes:
        return b"".join(self.files.values())


def copy_data_folder(data: Path, into: Path) -> Copy:
    """What an admin with access to the server takes: every file of the data folder, as it is at this moment."""
    shutil.copytree(data, into)
    return Copy(into, {p.name: p.read_bytes() for p in sorted(into.iterdir()) if p.is_file()})


def _spellings(text: str) -> Iterator[bytes]:
    yield text.encode("utf-8")
    yield text.encode("utf-16-le")
    yield json.dumps(text).encode("ascii")  # as a JSON log would escape it


def _code_spellings(code: str) -> Iterator[bytes]:
    for variant in (
        code,
        code.replace("-", ""),
        code.lower(),
        code.lower().replace("-", ""),
        code.replace("-", " "),
    ):
        yield variant.encode("ascii")


def _moment_spellings(moment: datetime) -> Iterator[bytes]:
    """How a stored or logged instant could read: ISO/SQL text to the second, epoch seconds as text and as int64."""
    yield moment.strftime("%H:%M:%S").encode("ascii")
    seconds = int(moment.timestamp())
    yield str(seconds).encode("ascii")
    yield struct.pack(">q", seconds)
    yield struct.pack("<q", seconds)
    yield struct.pack(">q", int(moment.timestamp() * 1_000_000))


def leaks(copy: Copy, day: Day) -> list[str]:
    """Every canary, code, passphrase, portal time and clicker id found, named by what and in which file."""
    needles: list[tuple[str, bytes]] = []
    for label, text in (
        ("message text", FIRST_TEXT),
        ("message text", SECOND_TEXT),
        ("message text", NAMED_TEXT),
        ("message text", ERASED_TEXT),
        ("counsellor reply", REPLY),
        ("pseudonym", PSEUDONYM),
        ("notice address", NOTICE_ADDRESS),
        ("photo's camera", PHOTO_CAMERA),
        ("canary", CANARY),
        *((f"passphrase {who}", phrase) for who, phrase in PASSPHRASES.items()),
    ):
        needles += [(label, spelling) for spelling in _spellings(text)]
    for code in day.codes:
        needles += [("receipt code", spelling) for spelling in _code_spellings(code)]
    for moment in day.portal_moments:
        needles += [(f"time of a portal request {moment:%H:%M:%S}", s) for s in _moment_spellings(moment)]
    needles += [("clicker's Slack id", user.encode("ascii")) for user in CLICKERS]
    found = {
        f"{label} in {name}"
        for name, content in copy.files.items()
        for label, needle in needles
        if needle in content
    }
    return sorted(found | derived_portal_times(copy, day))


_STORED_TIME = re.compile(rb"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:(\d{2}\.\d{6})")


def derived_portal_times(copy: Copy, day: Day) -> set[str]:
    """Stored times computed from a portal request's moment (an expiry "now + 30 minutes", say).

    Such a time keeps the moment's seconds and microseconds; the day's portal moments have fractions no other
    moment of the day has, so a match in the database means a time derived from a portal request.
    """
    fingerprints = {moment.strftime("%S.%f").encode("ascii") for moment in day.portal_moments}
    return {
        f"time derived from a portal request in {name}"
        for name, content in copy.files.items()
        if name.startswith("vipbot.db")
        for match in _STORED_TIME.finditer(content)
        if match.group(1) in fingerprints
    }


def portal_request_lines(copy: Copy) -> list[str]:
    """Log lines about single portal (or inbox) requests: each carries the time it was written."""
    text = copy.files.get("vipbot.log", b"").decode("utf-8", "replace")
    # Schema migrations run once at start-up and name their tables ("… inbox unlocks"): no request in them.
    return [
        line
        for line in text.splitlines()
        if ("/portal" in line or "inbox" in line) and '"logger": "alembic.' not in line
    ]


def _table_rows(connection: sqlite3.Connection) -> dict[str, list[tuple[Any, ...]]]:
    names = [n for (n,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for name in names:
        try:
            rows[name] = list(connection.execute(f'SELECT rowid, * FROM "{name}" ORDER BY rowid'))  # noqa: S608
        except sqlite3.OperationalError:  # WITHOUT ROWID: no order to read
            rows[name] = list(connection.execute(f'SELECT NULL, * FROM "{name}"'))  # noqa: S608
    return rows


def _contains_in_order(values: list[str], wanted: list[str]) -> bool:
    return any(values[i : i + len(wanted)] == wanted for i in range(len(values) - len(wanted) + 1))


def click_order_in_row_numbers(database: Path) -> list[str]:
    """Tables whose hidden row numbers list the clicked values in click order."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        found = []
        for table, rows in _table_rows(connection).items():
            if not rows or rows[0][0] is None:
                continue
            for column in range(1, len(rows[0])):
                values = [str(r[column]) for r in rows if str(r[column]) in set(CLICK_VALUES)]
                if _contains_in_order(values, CLICK_VALUES):
                    found.append(f"{table} (row numbers)")
        return found
    finally:
        connection.close()


def _wal_commits(wal: bytes) -> list[int]:
    """Byte lengths of the WAL after each commit frame: replaying a prefix gives the database at that commit."""
    if len(wal) < 32:
        return []
    page_size = struct.unpack(">I", wal[8:12])[0]
    frame = 24 + page_size
    ends = []
    for offset in range(32, len(wal) - frame + 1, frame):
        if (
            struct.unpack(">I", wal[offset + 4 : offset + 8])[0] != 0
        ):  # "database size after commit": a commit
            ends.append(offset + frame)
    return ends


def click_order_in_wal_history(copy: Copy, scratch: Path, question: str) -> bool:
    """Replay the write-ahead log commit by commit and watch the answer values of `question` appear."""
    wal = copy.files.get("vipbot.db-wal", b"")
    seen: list[list[str]] = []
    for i, end in enumerate(_wal_commits(wal)):
        state = scratch / f"state-{i}"
        state.mkdir(parents=True)
        shutil.copyfile(copy.database, state / "vipbot.db")
        (state / "vipbot.db-wal").write_bytes(wal[:end])
        connection = sqlite3.connect(state / "vipbot.db")
        try:
            values = [
                str(value)
                for rows in _table_rows(connection).values()
                for row in rows
                if question in [str(v) for v in row]
                for value in row
                if str(value) in set(CLICK_VALUES)
            ]
        except sqlite3.DatabaseError:
            continue
        finally:
            connection.close()
        seen.append(sorted(values))
    # The value that appeared with each commit, in commit order.
    appeared: list[str] = []
    for before, after in zip([[], *seen], seen, strict=False):
        added = list(after)
        for value in before:
            if value in added:
                added.remove(value)
        appeared += added
    return _contains_in_order(appeared, CLICK_VALUES)


async def test_a_realistic_day_leaves_no_canary_in_the_data_folder(day: Day, tmp_path: Path) -> None:
    await _live_the_day(day)
    round_id, question = await _open_round_and_click(day)
    day.clock.advance(timedelta(days=8))
    await day.pulses.service.close_now(day.org.id, round_id)

    copy = copy_data_folder(day.data, tmp_path / "copy")
    assert {"vipbot.db", "vipbot.log"} <= set(copy.files)
    # The sweep can find what it looks for: planted in a file of its own, each kind is reported.
    planted = Copy(
        copy.folder, {"planted": f"{SECOND_TEXT} {day.codes[0]} {day.portal_moments[0]:%H:%M:%S}".encode()}
    )
    assert {"message text in planted", "receipt code in planted"} <= set(leaks(planted, day))
    assert any(found.startswith("time of a portal request") for found in leaks(planted, day))
    expiry = day.portal_moments[1] + timedelta(minutes=30)
    planted_expiry = Copy(copy.folder, {"vipbot.db": f"{expiry:%Y-%m-%d %H:%M:%S.%f}".encode()})
    assert leaks(planted_expiry, day) == ["time derived from a portal request in vipbot.db"]
    assert leaks(copy, day) == []
    assert click_order_in_row_numbers(copy.database) == []
    assert not click_order_in_wal_history(copy, tmp_path / "replay", question)
    # Nothing of it went to Slack (the employer's) either.
    secrets_ = (CANARY, *day.codes, *PASSPHRASES.values(), *(c.replace("-", "") for c in day.codes))
    assert [s for s in secrets_ if day.slack_api.traffic_contains(s)] == []
    assert portal_request_lines(copy) == [], (
        "per-request log lines of the portal carry the time of each action"
    )


async def test_while_a_round_is_open_no_file_holds_the_click_order(day: Day, tmp_path: Path) -> None:
    _round_id, question = await _open_round_and_click(day)
    copy = copy_data_folder(day.data, tmp_path / "copy")
    assert [name for name in copy.files if name.startswith("vipbot.db")]
    assert click_order_in_row_numbers(copy.database) == []
    assert not click_order_in_wal_history(copy, tmp_path / "replay", question)
