"""Fixtures for languages, channels, the practice library and the code of conduct: the console's own."""

from __future__ import annotations

from tests.console.conftest import client, console_services, live_url, org_a, org_b
from tests.doubles.bf_connector import bf_connector
from tests.doubles.slack_api import slack_api
from tests.support.browser import browser, page

__all__ = [
    "bf_connector",
    "browser",
    "client",
    "console_services",
    "live_url",
    "org_a",
    "org_b",
    "page",
    "slack_api",
]
