"""Employees in the portal under load, on loopback, against SQLite (or the database given).

    .venv/bin/python bench/bench_portal.py [--employees 20] [--journeys 5] [--file-mb 1] [--database-url URL]

Serves the whole app (as `vipbot serve` builds it) in a separate process on 127.0.0.1. Each of `employees`
concurrent clients (one organisation each, so the per-organisation start limit is not what is measured) runs
`journeys` times: open the start page and solve its proof of work, start a conversation with a first message
(about 600 characters), send a photo of `file-mb` MB (a JPEG, re-encoded without metadata and sealed), and open
the conversation page (which opens every message, the photo included). Prints latency percentiles per step and
per whole journey, and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.serving import served

SECRET = "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-portal"  # noqa: S105 - a scratch database only
FIRST_MESSAGE = (
    "Ik wil graag iets bespreken over de sfeer in mijn team. Mijn leidinggevende maakt in overleggen regelmatig "
    "opmerkingen die ik als kleinerend ervaar, en collega's lachen mee. Ik weet niet goed of ik dit moet "
    "aankaarten en bij wie. Ik wil in elk geval niet dat het terugkomt bij mijn leidinggevende voordat ik weet "
    "wat mijn mogelijkheden zijn. Kunnen we daar een keer over praten? Ik werk meestal op maandag, dinsdag en "
    "donderdag, en kan 's avonds ook bellen. Alvast dank voor het meedenken."
)


def environ_for(database_url: str, data_dir: str, file_mb: int) -> dict[str, str]:
    return {
        "VIPBOT_DATABASE_URL": database_url,
        "VIPBOT_DATA_DIR": data_dir,
        "VIPBOT_SECRET_KEY": SECRET,
        "VIPBOT_LOG_LEVEL": "WARNING",
        "VIPBOT_PORTAL_POW_BITS": "8",
        "VIPBOT_PORTAL_FILE_MB": str(max(2, file_mb + 1)),
        "VIPBOT_SCHEDULER": "false",
    }


def settings_for(database_url: str, data_dir: str, file_mb: int):  # type: ignore[no-untyped-def]
    from bot.settings import load_settings

    return load_settings(environ_for(database_url, data_dir, file_mb), dotenv_path=None)


async def seed(database_url: str, data_dir: str, employees: int) -> list[str]:
    """One organisation per employee, each with a counsellor key; returns the slugs."""
    from bot.catalog import load_content
    from bot.domain.clock import SystemClock
    from bot.security import DEFAULT_ARGON2_PARAMS, Secret
    from bot.settings import BUNDLED_CONTENT
    from bot.storage.db import create_engine, session_factory
    from bot.storage.migrate import upgrade
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.web.portal.channel import ConfidentialChannel

    settings = settings_for(database_url, data_dir, 1)
    engine = create_engine(database_url)
    await upgrade(engine)
    _ = load_content(BUNDLED_CONTENT)
    repo = SqlOrganisationRepository(session_factory(engine))
    channel = ConfidentialChannel(engine, settings, SystemClock(), argon2=DEFAULT_ARGON2_PARAMS)
    slugs = []
    for i in range(employees):
        org = await repo.add_organisation(f"Organisatie {i}", f"org-{i}", "Europe/Amsterdam", "nl", 90)
        await channel.add_counsellor(org.id, f"Counsellor {i}", None, Secret(f"bench passphrase {i}"))
        slugs.append(org.slug)
    await engine.dispose()
    return slugs


def photo_of(size_mb: int) -> bytes:
    """A JPEG of about `size_mb` MB (noise compresses badly, like a photo)."""
    from PIL import Image

    side = 256
    while True:
        image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        if out.tell() >= size_mb * 1024 * 1024 * 0.95:
            return out.getvalue()
        side = int(side * 1.25)


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    if not found:
        raise RuntimeError(f"no {name} on the page")
    return found.group(1)


async def journey(
    base: str, slug: str, photo: bytes, timings: dict[str, list[float]], failures: dict[str, int]
) -> None:
    from bot.web.portal.limits import solve

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        began = time.perf_counter()
        async with http.get(f"{base}/portal/{slug}/start") as r:
            page = await r.text()
        bits = int(re.search(r'data-pow="(\d+)"', page).group(1))  # type: ignore[union-attr]
        challenge = hidden(page, "pow_challenge")
        form = {
            "csrf_token": hidden(page, "csrf_token"),
            "pow_challenge": challenge,
            "pow_answer": solve(challenge, bits),
            "mode": "anonymous",
            "text": FIRST_MESSAGE,
        }
        started = time.perf_counter()
        async with http.post(f"{base}/portal/{slug}/start", data=form) as r:
            body = await r.text()
            if r.status != 200 or "receipt-code" not in body:
                failures[f"start {r.status}"] = failures.get(f"start {r.status}", 0) + 1
                return
        timings["start + first message"].append(time.perf_counter() - started)
        async with http.get(f"{base}/portal/{slug}/conversation") as r:
            page = await r.text()
        upload = aiohttp.FormData({"csrf_token": hidden(page, "csrf_token"), "after": hidden(page, "after")})
        upload.add_field("file", photo, filename="photo.jpg", content_type="image/jpeg")
        started = time.perf_counter()
        async with http.post(f"{base}/portal/{slug}/file", data=upload) as r:
            body = await r.text()
            if r.status != 200 or "file/1" not in body:
                failures[f"file {r.status}"] = failures.get(f"file {r.status}", 0) + 1
                return
        timings["file (clean, seal, store) + page"].append(time.perf_counter() - started)
        started = time.perf_counter()
        async with http.get(f"{base}/portal/{slug}/conversation") as r:
            await r.read()
        timings["conversation page (opens all)"].append(time.perf_counter() - started)
        timings["whole journey"].append(time.perf_counter() - began)


async def run(
    base: str, slugs: list[str], journeys: int, photo: bytes
) -> tuple[dict[str, list[float]], dict[str, int], float]:
    timings: dict[str, list[float]] = {
        "start + first message": [],
        "file (clean, seal, store) + page": [],
        "conversation page (opens all)": [],
        "whole journey": [],
    }
    failures: dict[str, int] = {}

    async def employee(slug: str) -> None:
        for _ in range(journeys):
            await journey(base, slug, photo, timings, failures)

    started = time.perf_counter()
    await asyncio.gather(*(employee(slug) for slug in slugs))
    return timings, failures, time.perf_counter() - started


def report(name: str, samples: list[float]) -> None:
    if not samples:
        print(f"  {name:<34} no samples")
        return
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    print(
        f"  {name:<34} n={len(ordered):>4}  p50={pct(0.50):7.1f} ms  p95={pct(0.95):7.1f} ms  "
        f"p99={pct(0.99):7.1f} ms  max={ordered[-1] * 1000:7.1f} ms  mean={statistics.fmean(ordered) * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--employees", type=int, default=20)
    parser.add_argument("--journeys", type=int, default=5)
    parser.add_argument("--file-mb", type=int, default=1)
    parser.add_argument("--database-url", help="default: a scratch SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        database_url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        slugs = asyncio.run(seed(database_url, scratch, args.employees))
        photo = photo_of(args.file_mb)
        with served(environ_for(database_url, scratch, args.file_mb)) as base:
            asyncio.run(run(base, slugs[:2], 1, photo))  # warm up
            load_before = os.getloadavg()
            timings, failures, elapsed = asyncio.run(run(base, slugs, args.journeys, photo))
            load_after = os.getloadavg()
    backend = database_url.split(":")[0]
    print(
        f"{args.employees} concurrent employees x {args.journeys} journeys, photo {len(photo) / 1e6:.2f} MB, "
        f"database {backend}, {os.cpu_count()} CPUs, {elapsed:.1f} s"
    )
    for name, samples in timings.items():
        report(name, samples)
    if failures:
        print(f"  refused or failed: {failures}")
    print(f"  load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}")


if __name__ == "__main__":
    main()
