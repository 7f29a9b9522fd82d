"""The outreach runner inside `vipbot serve`: stopping the service lets a running job finish instead of cancelling
it (apscheduler logged every such cancellation as a failed job, with a traceback, at an ordinary stop)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.app import Services
from scheduler.service import OutreachRunner, outreach_of


async def test_stopping_lets_a_running_sync_finish_and_logs_no_failure(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    outreach = outreach_of(services)
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_catch_up() -> None:
        started.set()
        await asyncio.sleep(0.3)  # the service is told to stop meanwhile
        finished.set()

    monkeypatch.setattr(outreach.materialiser, "run_all", slow_catch_up)
    runner = OutreachRunner(outreach, sync_seconds=3600)
    caplog.set_level(logging.INFO)
    await runner.start()  # the first sync runs at once
    await asyncio.wait_for(started.wait(), timeout=10)
    await runner.stop()
    await asyncio.sleep(0.05)  # a cancelled job would be reported on the loop's next turns
    assert finished.is_set()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
