"""`bot.periodic.Periodic`: background work that stops between runs, so stopping the service never cuts a run
(a database write, a connection being closed) in half."""

from __future__ import annotations

import asyncio

import structlog

from bot.periodic import Periodic


async def test_stopping_waits_for_the_run_in_progress() -> None:
    started, finished = asyncio.Event(), asyncio.Event()
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1
        started.set()
        await asyncio.sleep(0.2)  # asked to stop meanwhile
        finished.set()

    loop = Periodic(job, "job failed", 3600, "test-job")
    loop.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(loop.stop(), timeout=5)
    assert finished.is_set()
    assert runs == 1
    assert logs == []


async def test_between_runs_it_stops_without_waiting_for_the_interval() -> None:
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    loop = Periodic(job, "job failed", 3600, "test-job")
    loop.start()
    await asyncio.wait_for(ran.wait(), timeout=5)
    await asyncio.wait_for(loop.stop(), timeout=5)  # the hour's wait ends with the stop


async def test_a_failed_run_is_logged_and_the_next_one_runs() -> None:
    outcomes = iter([RuntimeError("secret detail"), None, None])
    second = asyncio.Event()
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls >= 2:
            second.set()
        failure = next(outcomes)
        if failure is not None:
            raise failure

    with structlog.testing.capture_logs() as logs:
        loop = Periodic(job, "job failed", 0.01, "test-job")
        loop.start()
        await asyncio.wait_for(second.wait(), timeout=5)
        await loop.stop()
    failed = [entry for entry in logs if entry["event"] == "job failed"]
    assert len(failed) == 1
    assert "secret detail" not in repr(failed)


async def test_a_run_outlasting_the_grace_is_cancelled_with_one_warning() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop = Periodic(job, "job failed", 3600, "test-job")
    loop.start()
    await asyncio.wait_for(started.wait(), timeout=5)
    with structlog.testing.capture_logs() as logs:
        await asyncio.wait_for(loop.stop(grace=0.05), timeout=5)
    assert cancelled.is_set()
    assert [(entry["event"], entry["work"]) for entry in logs] == [
        ("background work cancelled at shutdown", "test-job")
    ]
