"""Fixtures of the security tests: the console's test client, for attacks that go through its pages."""

from __future__ import annotations

from tests.console.conftest import client, console_services
from tests.doubles.slack_api import slack_api

__all__ = ["client", "console_services", "slack_api"]
