"""A fresh install explains itself: `/` leads to the console, whose sign-in page says how to get the first
account; no page costs a favicon 404; logs are readable on a terminal and JSON elsewhere."""

from __future__ import annotations

import io
import json
import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services, build_app
from bot.domain.accounts import Role
from bot.logs import configure_logging, resolve_format
from bot.security import INSECURE_TEST_PASSWORD_POLICY, Secret, hash_password
from bot.storage.accounts import SqlAccountRepository
from bot.web import console, root


@pytest.fixture
async def client(services: Services) -> TestClient:
    app = build_app(services, features=[root.install, console.install])
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


async def test_the_root_leads_to_the_console_sign_in(client: TestClient) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert str(response.url.path) == "/console/login"


async def test_a_portal_on_its_own_host_name_leads_to_the_portal(services: Services) -> None:
    settings = services.settings.model_copy(update={"portal_url": "https://portal.example"})
    app = build_app(
        Services(settings=settings, clock=services.clock, engine=services.engine, content=services.content),
        features=[root.install],
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        response = await test_client.get("/", headers={"Host": "portal.example"}, allow_redirects=False)
        assert response.headers["Location"] == "/"
        response = await test_client.get("/", allow_redirects=False)
        assert response.headers["Location"] == "/console/"


async def test_the_favicon_answers(client: TestClient) -> None:
    response = await client.get("/favicon.ico")
    assert response.status == 200
    assert response.content_type == "image/x-icon"
    assert (await response.read())[:4] == b"\x00\x00\x01\x00"  # an ICO header


async def test_with_no_account_the_sign_in_page_names_the_command(
    client: TestClient, services: Services
) -> None:
    page = await client.get("/console/login?lang=en")
    text = await page.text()
    assert "No console account yet" in text
    assert "vipbot admin create --email" in text

    repo = SqlAccountRepository(services.sessions)
    encoded = hash_password(Secret("a long password 1"), policy=INSECURE_TEST_PASSWORD_POLICY)
    await repo.create_account("admin@practice.test", "Admin", Role.ADMIN, encoded)
    text = await (await client.get("/console/login?lang=en")).text()
    assert "No console account yet" not in text
    assert "vipbot admin create" not in text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_log_format_is_readable_on_a_terminal_and_json_elsewhere() -> None:
    assert resolve_format("auto", _Terminal()) == "console"
    assert resolve_format("auto", io.StringIO()) == "json"
    assert resolve_format("json", _Terminal()) == "json"

    terminal = _Terminal()
    configure_logging("INFO", "auto", terminal)
    logging.getLogger("vipbot.test").info("ready", extra={"console": "http://x/console/"})
    line = terminal.getvalue().strip()
    assert "ready" in line
    assert not line.startswith("{")

    pipe = io.StringIO()
    configure_logging("INFO", "auto", pipe)
    logging.getLogger("vipbot.test").info("ready", extra={"console": "http://x/console/"})
    assert json.loads(pipe.getvalue())["console"] == "http://x/console/"
