"""The first hour of an operator, done by Chromium: a fresh data folder, the real `vipbot serve`, `/` → the
console → the first-administrator instructions → follow them → signed in. Only what the pages say is used."""

from __future__ import annotations

import base64
import re
import shlex
import time
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from bot.security import Secret, totp_code
from tests.ops.cli import run_vipbot
from tests.support.browser import browser, page  # noqa: F401  (fixtures)
from tests.support.net import free_port, wait_for_http
from tests.support.process import start_vipbot, stop, vipbot_env

EMAIL = "it@praktijk.test"
PASSWORD = "a long and new password"

pytestmark = pytest.mark.browser


async def test_from_a_fresh_data_folder_to_signed_in(tmp_path: Path, page: Page) -> None:  # noqa: F811
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = start_vipbot(["serve"], vipbot_env(data, port), tmp_path, log)
        try:
            await wait_for_http(f"{base}/healthz", timeout=60)
            await _wait_for_ready(log_path)
            await page.goto(base + "/")
            await expect(page).to_have_url(base + "/console/login")
            command = (await page.locator("#first-run-command").inner_text()).strip()

            # Follow the page: run the command it names, with our own address and name.
            args = shlex.split(command)
            assert args[:3] == ["vipbot", "admin", "create"], command
            args[args.index("--email") + 1] = EMAIL
            args[args.index("--name") + 1] = "Praktijk IT"
            created = await run_vipbot([*args[1:], "--password-stdin"], data, stdin=PASSWORD + "\n")
            assert created.code == 0, created.err
            assert "/console/login" in created.out

            await page.reload()
            await expect(page.locator("#first-run-command")).to_have_count(0)
            await page.fill("#email", EMAIL)
            await page.fill("#password", PASSWORD)
            await page.click("main form button[type=submit]")
            text = (await page.locator("#totp-secret").inner_text()).strip()
            secret = Secret(base64.b32decode(text + "=" * (-len(text) % 8)))
            await page.fill("#code", totp_code(secret, time.time()))
            await page.click("main form button[type=submit]")
            await expect(page).to_have_url(base + "/console/")
            await expect(page.locator("form[action$='/logout']")).to_have_count(1)
            # Headless Chromium asks no favicon by itself; a browser with a window does, on every page.
            assert (await page.request.get(base + "/favicon.ico")).status == 200
        finally:
            code = stop(process)
    assert code == 0, log_path.read_text()
    output = log_path.read_text()
    assert PASSWORD not in output
    last = [line for line in output.splitlines() if line.strip()]
    assert any(f"{base}/console/" in line and "portal" in line for line in last), output


async def _wait_for_ready(log_path: Path) -> None:
    """The last start-up line names the console; the service logs it once listening."""
    import asyncio

    for _ in range(200):
        if re.search(r"ready: open the console", log_path.read_text()):  # noqa: ASYNC240
            return
        await asyncio.sleep(0.05)
    raise AssertionError(log_path.read_text())  # noqa: ASYNC240
