from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.app import Services, build_app
from bot.catalog import ContentLibrary
from bot.domain.clock import FixedClock
from bot.settings import BUNDLED_CONTENT, load_settings
from bot.storage.db import create_engine
from tests.support.net import free_port, wait_for_http
from tests.support.process import start_vipbot, stop, vipbot_env


async def test_serve_on_the_embedded_default_answers_health_and_metrics(tmp_path: Path) -> None:
    port, metrics_port = free_port(), free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        env = vipbot_env(tmp_path / "data", port, VIPBOT_METRICS_PORT=str(metrics_port))
        process = start_vipbot(["serve"], env, tmp_path, log)
        try:
            await wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    assert await response.json() == {"status": "ok", "database": "ok"}
                async with session.get(f"http://127.0.0.1:{port}/nowhere") as response:
                    assert response.status == 404
                async with session.get(f"http://127.0.0.1:{port}/portal/nowhere") as response:
                    assert response.status == 404
                # never beside the portal: only on the metrics listener (loopback)
                async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                    assert response.status == 404
                async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
                    assert response.status == 200
                    metrics = await response.text()
            assert 'vipbot_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
            assert "/portal" not in metrics  # no per-route series of confidential actions
            assert "_created" not in metrics
        finally:
            code = stop(process)
    assert code == 0, log_path.read_text()
    assert (tmp_path / "data" / "vipbot.db").is_file()
    assert (tmp_path / "data" / "secret_key").is_file()
    output = log_path.read_text()
    output_without_listeners = output.replace(f"127.0.0.1:{port}", "").replace(
        f"127.0.0.1:{metrics_port}", ""
    )
    assert "127.0.0.1" not in output_without_listeners  # no client addresses in the access log
    access = [line for line in output.splitlines() if "aiohttp.access" in line]
    assert access  # the access log writes lines (for /healthz) ...
    assert not [line for line in access if "/portal" in line]  # ... and none for the portal
    assert output.count("generated a secret key into the data directory") == 1
    first_lines = "\n".join(output.splitlines()[:100])
    assert "Running upgrade" in first_lines  # library lines are there, with their arguments rendered:
    assert not re.search(r"%[sdr]|%\(", first_lines), first_lines


async def test_serve_refuses_broken_content_with_the_report(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, content)
    (content / "locales" / "en.yaml").write_text("door: [\n", encoding="utf-8")
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = start_vipbot(
            ["serve"],
            vipbot_env(tmp_path / "data", free_port(), VIPBOT_CONTENT_DIR=str(content)),
            tmp_path,
            log,
        )
        code = process.wait(timeout=60)
    assert code == 1
    assert "content/locales/en.yaml:2: YAML" in log_path.read_text()


async def test_serve_refuses_a_postgres_schema_that_is_behind(tmp_path: Path, postgres_server: str) -> None:
    from tests.support.databases import create_database, drop_database

    url, name = await create_database(postgres_server)
    try:
        log_path = tmp_path / "serve.log"
        with log_path.open("wb") as log:
            env = vipbot_env(tmp_path / "data", free_port(), VIPBOT_DATABASE_URL=url)
            code = start_vipbot(["serve"], env, tmp_path, log).wait(timeout=60)
        assert code == 1
        assert "run `vipbot db upgrade`" in log_path.read_text()
        with log_path.open("wb") as log:
            assert start_vipbot(["db", "upgrade"], env, tmp_path, log).wait(timeout=60) == 0
        assert "Upgraded the database from empty" in log_path.read_text()
    finally:
        await drop_database(postgres_server, name)


async def test_healthz_answers_503_while_the_database_is_down_and_200_again_after(
    tmp_path: Path, content: ContentLibrary
) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'vipbot.db'}"
    settings = load_settings({"VIPBOT_DATA_DIR": str(tmp_path / "data"), "VIPBOT_DATABASE_URL": url}, None)
    engine = create_engine(url)
    clock = FixedClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    app = build_app(Services(settings=settings, clock=clock, engine=engine, content=content), features=[])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    healthz = str(server.make_url("/healthz"))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(healthz) as response:
                assert response.status == 200
                assert await response.json() == {"status": "ok", "database": "ok"}
            # The database goes away: its folder is removed and the pooled connection with it.
            shutil.rmtree(folder)
            await engine.dispose()
            async with session.get(healthz) as response:
                assert response.status == 503
                assert await response.json() == {"status": "unavailable", "database": "unreachable"}
            folder.mkdir()
            async with session.get(healthz) as response:
                assert response.status == 200
    finally:
        await server.close()


@pytest.mark.postgres
async def test_serve_on_postgres_reports_503_when_its_database_goes_away(
    tmp_path: Path, postgres_server: str, postgres_template: str
) -> None:
    from tests.support.databases import clone_postgres, drop_database

    url, name = await clone_postgres(postgres_server, postgres_template)  # as `vipbot db upgrade` leaves it
    port = free_port()
    env = vipbot_env(tmp_path / "data", port, VIPBOT_DATABASE_URL=url)
    log_path = tmp_path / "serve.log"
    try:
        with log_path.open("wb") as log:
            process = start_vipbot(["serve"], env, tmp_path, log)
            try:
                try:
                    await wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
                except TimeoutError:
                    log.flush()
                    raise AssertionError(f"the service did not come up:\n{log_path.read_text()}") from None
                assert process.poll() is None, (
                    log_path.read_text()
                )  # ours answered, not a stranger on the port
                await drop_database(postgres_server, name)  # WITH (FORCE): the service's connections end too
                async with (
                    aiohttp.ClientSession() as session,
                    session.get(f"http://127.0.0.1:{port}/healthz") as response,
                ):
                    assert response.status == 503
                    assert await response.json() == {"status": "unavailable", "database": "unreachable"}
                assert process.poll() is None, "the service keeps running; only its readiness changes"
            finally:
                code = stop(process)
    finally:
        await drop_database(postgres_server, name)
    assert code == 0, log_path.read_text()
