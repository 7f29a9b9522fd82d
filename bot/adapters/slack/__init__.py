"""The Slack adapter: slack-bolt and slack-sdk live here and nowhere else.

`install(app, services)` mounts it into the aiohttp application; see docs/slack.md.
"""

from __future__ import annotations

from aiohttp import web

from bot.wiring import Services


def install(app: web.Application, services: Services) -> None:
    from bot.adapters.slack.service import install as install_slack

    install_slack(app, services)


__all__ = ["install"]
