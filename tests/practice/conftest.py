"""Fixtures of the practice tests: the console (and the photo route) on a loopback test server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services, build_app
from bot.domain.tenancy import Organisation
from bot.security import INSECURE_TEST_PASSWORD_POLICY
from bot.web import console, photos


@pytest.fixture
def console_services(services: Services) -> Services:
    services.password_policy = INSECURE_TEST_PASSWORD_POLICY
    return services


@pytest.fixture
async def client(console_services: Services) -> AsyncIterator[TestClient]:
    app = build_app(console_services, features=[photos.install, console.install])
    async with TestClient(TestServer(app, host="127.0.0.1")) as test_client:
        yield test_client


@pytest.fixture
async def org_a(console_services: Services) -> Organisation:
    return await console_services.organisations.add_organisation(
        "Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
    )


@pytest.fixture
async def org_b(console_services: Services) -> Organisation:
    return await console_services.organisations.add_organisation(
        "Bouwbedrijf Noord", "noord", "Europe/Amsterdam", "nl", 90
    )
