"""`vipbot serve` as an operator runs it, with Slack configured: a DM's text is nowhere afterwards."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp

from tests.adapters.slack.support import SIGNING_SECRET, command_body, event_body, eventually, signed_headers
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator
from tests.ops.cli import run_vipbot_in_process
from tests.support.net import free_port, wait_for_http
from tests.support.process import seed_migrated_database, vipbot_env


async def _vipbot(args: list[str], data: Path, settings: dict[str, str]) -> str:
    """A set-up command on the service's data folder and settings (through `main`, in this process)."""
    outcome = await run_vipbot_in_process(args, data, **settings)
    assert outcome.code == 0, outcome.out + outcome.err
    return outcome.out + outcome.err


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.exists() else b""


async def test_serve_answers_slack_and_keeps_no_trace_of_a_dm(
    tmp_path: Path, slack_api: SlackApiSimulator, sqlite_template: Path
) -> None:
    port = free_port()
    data = tmp_path / "data"
    seed_migrated_database(data, sqlite_template)
    settings = {
        "VIPBOT_LOG_LEVEL": "DEBUG",
        "VIPBOT_SCHEDULER": "false",
        "VIPBOT_BASE_URL": f"http://127.0.0.1:{port}",
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_api.api_url,
    }
    env = vipbot_env(data, port, **settings)
    await _vipbot(["org", "add", "Acme Zorg", "--slug", "acme"], data, settings)
    linked = await _vipbot(["slack", "link", "acme"], data, settings)
    assert f"{DEFAULT_TEAM} (Default workspace) linked to Acme Zorg" in linked
    slack_api.add_user("UNL")
    canary = "CANARY-b7c1-ik-word-gepest-door-mijn-teamleider"
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", env=env, cwd=tmp_path, stdout=log, stderr=log
        )
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
            url = f"http://127.0.0.1:{port}/slack/events"
            async with aiohttp.ClientSession() as session:
                verification = json.dumps(
                    {"type": "url_verification", "challenge": "c-123", "token": "t"}
                ).encode()
                async with session.post(
                    url, data=verification, headers=signed_headers(verification, "application/json")
                ) as response:
                    assert (await response.json())["challenge"] == "c-123"
                bad = signed_headers(verification, "application/json", secret="wrong-secret-0000000000000000")
                async with session.post(url, data=verification, headers=bad) as response:
                    assert response.status == 401
                body, kind = command_body(DEFAULT_TEAM, "UNL", "")
                async with session.post(url, data=body, headers=signed_headers(body, kind)) as response:
                    assert "http://127.0.0.1" in await response.text()
                dm, kind = event_body(
                    DEFAULT_TEAM,
                    {
                        "type": "message",
                        "channel": "DNL",
                        "channel_type": "im",
                        "user": "UNL",
                        "text": canary,
                    },
                )
                async with session.post(url, data=dm, headers=signed_headers(dm, kind)) as response:
                    assert response.status == 200
            await eventually(lambda: bool(slack_api.messages.get("DNL")), timeout=10)
        finally:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=20)
    assert process.returncode == 0, log_path.read_text()
    assert "Dit gesprek is niet vertrouwelijk" in json.dumps(slack_api.messages["DNL"], ensure_ascii=False)
    database = data / "vipbot.db"
    stored = _read(database) + _read(Path(f"{database}-wal"))
    assert b"Acme Zorg" in stored  # the search does find what is there
    assert canary.encode() not in stored
    logged = log_path.read_text()
    assert '"path": "/slack/events"' in logged or "/slack/events" in logged  # the requests were logged…
    assert canary not in logged  # …their content was not
    assert '"level": "debug", "logger": "slack' not in logged  # payload-logging libraries stay quiet at DEBUG
    assert not slack_api.traffic_contains(canary)
