"""Figures for the confidential channel through the database. Run by hand:

    python bench/bench_conversations.py                      # SQLite file in a temporary folder
    VIPBOT_BENCH_DATABASE_URL=postgresql://… python bench/bench_conversations.py

Per 4 KB message, side by side with raw ChaCha20-Poly1305 on the same bytes through the same database
(interleaved, one INSERT per message in its own transaction, one SELECT by key): seal+store and load+open with
HPKE. Then what the service itself costs: its write (load the conversation, seal, compare-and-set insert) and
reading one stored message. And the Argon2id unlock of a counsellor key with the parameters new keys get.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import string
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from sqlalchemy import text

from bot.domain.clock import SystemClock
from bot.domain.conversations import Author, MessageKind, Mode, encode_payload
from bot.security import DEFAULT_ARGON2_PARAMS, Secret
from bot.settings import load_settings, normalise_database_url
from bot.storage.db import create_engine, session_factory
from bot.storage.migrate import upgrade
from bot.storage.organisations import SqlOrganisationRepository
from bot.web.portal.channel import ConfidentialChannel

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "300"))
SIZE = 4096


def text_of(size: int) -> str:
    alphabet = string.ascii_letters + string.digits + " "
    return "".join(secrets.choice(alphabet) for _ in range(size))


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"  {label:<52} median {statistics.median(ordered):9.1f} µs   p99 {p99:9.1f} µs")


async def main() -> None:  # noqa: PLR0915 - one linear script
    configured = os.environ.get("VIPBOT_BENCH_DATABASE_URL")
    scratch = tempfile.TemporaryDirectory()
    url = normalise_database_url(configured) if configured else f"sqlite+aiosqlite:///{scratch.name}/bench.db"
    settings = load_settings(
        {"VIPBOT_SECRET_KEY": secrets.token_urlsafe(48), "VIPBOT_DATA_DIR": scratch.name}, dotenv_path=None
    )
    engine = create_engine(url)
    await upgrade(engine)
    clock = SystemClock()
    orgs = SqlOrganisationRepository(session_factory(engine))
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    org = await orgs.add_organisation("Bench", slug, "Europe/Amsterdam", "nl", 90)
    channel = ConfidentialChannel(engine, settings, clock, argon2=DEFAULT_ARGON2_PARAMS)
    passphrase = Secret("a passphrase for the benchmark")

    started = time.perf_counter()
    counsellor_id = await channel.add_counsellor(org.id, "Bench", None, passphrase)
    create_s = time.perf_counter() - started
    unlocks = []
    for _ in range(3):
        started = time.perf_counter()
        key = await channel.unlock(counsellor_id, passphrase)
        unlocks.append(time.perf_counter() - started)

    body = text_of(SIZE)
    payload = encode_payload(MessageKind.TEXT, body)
    conversation_id, code = await channel.service.start(org.id, 90, Mode.ANONYMOUS, body)
    service = channel.service

    seal_store: list[float] = []
    for i in range(MESSAGES):
        started = time.perf_counter_ns()
        await service.write(org.id, 90, conversation_id, Author.EMPLOYEE, body, i + 1)
        seal_store.append((time.perf_counter_ns() - started) / 1000)

    public = await channel.store.public_key(conversation_id)
    seal_only: list[float] = []
    for i in range(MESSAGES):
        started = time.perf_counter_ns()
        channel.crypto.seal(
            public, payload, conversation_id=conversation_id, author=Author.EMPLOYEE, sequence=i
        )
        seal_only.append((time.perf_counter_ns() - started) / 1000)
    raw_aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    encrypt_only: list[float] = []
    for _ in range(MESSAGES):
        started = time.perf_counter_ns()
        raw_aead.encrypt(os.urandom(12), payload, None)
        encrypt_only.append((time.perf_counter_ns() - started) / 1000)

    _cid, conversation_key = await service.access(org.id, code)
    load_open: list[float] = []
    async with engine.connect() as connection:
        for i in range(1, MESSAGES + 1):
            started = time.perf_counter_ns()
            blob = (
                await connection.execute(
                    text(
                        "SELECT ciphertext FROM conversation_message WHERE conversation_id = :c AND sequence = :s"
                    ),
                    {"c": conversation_id if not url.startswith("sqlite") else conversation_id.hex, "s": i},
                )
            ).scalar_one()
            conversation_key.open(blob, conversation_id=conversation_id, author=Author.EMPLOYEE, sequence=i)
            load_open.append((time.perf_counter_ns() - started) / 1000)

    started = time.perf_counter()
    thread = await service.read(org.id, conversation_id, conversation_key, Author.COUNSELLOR)
    read_all_ms = (time.perf_counter() - started) * 1000

    # The same bytes through the same database, side by side and interleaved (so both see the same load):
    # raw ChaCha20-Poly1305 and HPKE, each with one plain INSERT per message in its own transaction and one
    # SELECT by key to read it back.
    aead = ChaCha20Poly1305(ChaCha20Poly1305.generate_key())
    blob_type = "BLOB" if url.startswith("sqlite") else "BYTEA"
    async with engine.begin() as connection:
        for table in ("bench_raw", "bench_hpke"):
            await connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
            await connection.execute(
                text(
                    f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, nonce {blob_type}, ciphertext {blob_type})"
                )
            )
    raw_store: list[float] = []
    hpke_store: list[float] = []
    for i in range(MESSAGES):
        started = time.perf_counter_ns()
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, payload, None)
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO bench_raw (id, nonce, ciphertext) VALUES (:i, :n, :c)"),
                {"i": i, "n": nonce, "c": sealed},
            )
        raw_store.append((time.perf_counter_ns() - started) / 1000)
        started = time.perf_counter_ns()
        sealed = channel.crypto.seal(
            public, payload, conversation_id=conversation_id, author=Author.EMPLOYEE, sequence=i
        )
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO bench_hpke (id, nonce, ciphertext) VALUES (:i, :n, :c)"),
                {"i": i, "n": b"", "c": sealed},
            )
        hpke_store.append((time.perf_counter_ns() - started) / 1000)
    raw_load: list[float] = []
    hpke_load: list[float] = []
    async with engine.connect() as connection:
        for i in range(MESSAGES):
            started = time.perf_counter_ns()
            nonce, sealed = (
                await connection.execute(
                    text("SELECT nonce, ciphertext FROM bench_raw WHERE id = :i"), {"i": i}
                )
            ).one()
            aead.decrypt(nonce, sealed, None)
            raw_load.append((time.perf_counter_ns() - started) / 1000)
            started = time.perf_counter_ns()
            sealed = (
                await connection.execute(text("SELECT ciphertext FROM bench_hpke WHERE id = :i"), {"i": i})
            ).scalar_one()
            conversation_key.open(sealed, conversation_id=conversation_id, author=Author.EMPLOYEE, sequence=i)
            hpke_load.append((time.perf_counter_ns() - started) / 1000)
    async with engine.begin() as connection:
        await connection.execute(text("DROP TABLE bench_raw"))
        await connection.execute(text("DROP TABLE bench_hpke"))
        stored = (
            await connection.execute(
                text(
                    "SELECT length(ciphertext) FROM conversation_message WHERE conversation_id = :c AND sequence = 1"
                ),
                {"c": conversation_id if not url.startswith("sqlite") else conversation_id.hex},
            )
        ).scalar_one()
        await connection.execute(text("DELETE FROM conversation_message"))
    await channel.service.delete(org.id, conversation_id)
    await engine.dispose()
    scratch.cleanup()

    print(
        f"Confidential channel through {'SQLite' if url.startswith('sqlite') else 'PostgreSQL'}, "
        f"{MESSAGES} messages of {SIZE} bytes, {datetime.now(UTC):%Y-%m-%d}"
    )
    print("per message, side by side (same payload, same database, interleaved):")
    report("encrypt only       HPKE seal", seal_only)
    report("                   raw ChaCha20-Poly1305", encrypt_only)
    report("seal+store         HPKE, one INSERT", hpke_store)
    report("                   raw ChaCha20-Poly1305, one INSERT", raw_store)
    report("load+open          HPKE, one SELECT", hpke_load)
    report("                   raw ChaCha20-Poly1305, one SELECT", raw_load)
    print("the service itself (what a request costs):")
    report("write: load conversation, seal, compare-and-set", seal_store)
    report("read one message: SELECT by sequence, open", load_open)
    print(f"  stored size: {stored} bytes for a {len(payload)}-byte payload (raw: {len(payload) + 28})")
    print(f"  whole thread of {len(thread.messages)} messages read and opened in {read_all_ms:.0f} ms")
    p = DEFAULT_ARGON2_PARAMS
    print(f"Argon2id (t={p.time_cost}, lanes={p.lanes}, {p.memory_kib // 1024} MiB):")
    print(f"  new counsellor key (key pair + wrap): {create_s * 1000:.0f} ms")
    print(f"  unlock: {', '.join(f'{u * 1000:.0f} ms' for u in unlocks)}")
    del key


if __name__ == "__main__":
    asyncio.run(main())
