"""50 parallel wrong passwords against `vipbot serve` as an operator runs it: how many password hashes it computed.

The count comes from the service's own metrics listener (`vipbot_console_password_checks_total`).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp

from tests.ops.cli import run_vipbot_in_process
from tests.support.net import free_port, wait_for_http
from tests.support.process import seed_migrated_database, start_vipbot, stop, vipbot_env

ALLOWED_IN_A_ROW = 5  # bot.web.console.throttle.PER_CLIENT.free
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CHECKS = re.compile(r"^vipbot_console_password_checks_total (\S+)$", re.MULTILINE)


async def _checks(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url) as response:
        found = _CHECKS.search(await response.text())
    return float(found.group(1)) if found else 0.0


async def test_fifty_parallel_guesses_against_the_running_service(
    tmp_path: Path, sqlite_template: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    env = vipbot_env(tmp_path / "data", port, VIPBOT_METRICS_PORT=str(metrics_port))
    # The embedded database as a first start leaves it, and the administrator `vipbot admin create` makes (the
    # command through `main`, in this process; the service below is a real process).
    seed_migrated_database(tmp_path / "data", sqlite_template)
    create = await run_vipbot_in_process(
        ["admin", "create", "--email", "beheer@praktijk.test", "--name", "Bea", "--password-stdin"],
        tmp_path / "data",
        stdin="the right long password\n",
        cwd=tmp_path,
    )
    assert create.code == 0, create.err
    log_path = tmp_path / "serve.log"
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    with log_path.open("wb") as log:
        process = start_vipbot(["serve"], env, tmp_path, log)
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60)
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}", cookie_jar=jar) as browser:
                async with browser.get("/console/login") as page:
                    token = _CSRF.search(await page.text())
                assert token
                before = await _checks(browser, metrics_url)

                async def guess(n: int) -> int:
                    async with browser.post(
                        "/console/login",
                        data={
                            "email": "beheer@praktijk.test",
                            "password": f"wrong {n:03d}",
                            "csrf_token": token.group(1),
                        },
                        allow_redirects=False,
                    ) as response:
                        return response.status

                statuses = await asyncio.gather(*(guess(n) for n in range(50)))
                after = await _checks(browser, metrics_url)
        finally:
            code = stop(process)
    assert code == 0, log_path.read_text()
    assert set(statuses) == {303}  # every one refused (POST/redirect/GET to the sign-in page)
    print(f"\n50 parallel wrong passwords: {after - before:.0f} password checks")
    assert 0 < after - before <= ALLOWED_IN_A_ROW
