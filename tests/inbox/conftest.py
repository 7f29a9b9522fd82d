"""Inbox fixtures: the console on a loopback test server, per database backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services, build_app
from bot.security import INSECURE_TEST_PASSWORD_POLICY
from bot.web import console


@pytest.fixture
def console_services(services: Services) -> Services:
    services.password_policy = INSECURE_TEST_PASSWORD_POLICY
    return services


@pytest.fixture
async def client(console_services: Services) -> AsyncIterator[TestClient]:
    app = build_app(console_services, features=[console.install])
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client
