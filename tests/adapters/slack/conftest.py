"""Fixtures of the Slack adapter tests; the simulator fixture comes from tests.doubles.slack_api."""

from __future__ import annotations

from tests.doubles.slack_api import slack_api

__all__ = ["slack_api"]
