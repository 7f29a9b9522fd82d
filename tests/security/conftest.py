"""Fixtures of the security tests: the console's test client, for attacks that go through its pages."""

from __future__ import annotations

from tests.console.conftest import client, console_services

__all__ = ["client", "console_services"]
