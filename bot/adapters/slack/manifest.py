"""The Slack app manifest, so the app is created in one step at https://api.slack.com/apps ("From a manifest")."""

from __future__ import annotations

from typing import Any

from bot.domain.i18n import Translator

# Why each scope is asked for (docs/slack.md repeats this for workspace admins):
BOT_SCOPES = (
    "chat:write",  # columns, reminders and replies, in channels and in the app's DM with a person
    "commands",  # /vp
    "im:history",  # to be told a DM arrived (message.im) so the door reply can follow; the text is never read
    "im:write",  # to find the app's DM after a server error, to check whether a post went through
    "users:read",  # the workspace's members (users.list) for DMs, and each one's Slack language
    "channels:read",  # channel renames and archiving keep channel bindings right
    "groups:read",  # the same for private channels the app was added to
    "channels:history",  # after a 5xx: look for our own post by its marker, so it is never posted twice
    "groups:history",  # the same in private channels
    "files:write",  # charts that come with pulse summaries
)

BOT_EVENTS = (
    "app_home_opened",
    "message.im",
    "member_joined_channel",
    "member_left_channel",
    "channel_rename",
    "group_rename",
    "channel_archive",
    "channel_unarchive",
    "channel_deleted",
    "channel_left",
    "group_archive",
    "group_unarchive",
    "group_deleted",
    "group_left",
    "app_uninstalled",
    "tokens_revoked",
    "team_join",  # a newcomer joins the member directory
    "user_change",  # a deactivated account leaves it
    "team_access_granted",  # Enterprise Grid: the org-wide install reaches more workspaces
)


def app_manifest(
    translator: Translator,
    base_url: str,
    *,
    locale: str = "nl",
    socket_mode: bool = False,
    name: str = "vipbot",
) -> dict[str, Any]:
    """The manifest for a service reachable at `base_url` (its public https:// address)."""
    base = base_url.rstrip("/")
    events_url = f"{base}/slack/events"
    command: dict[str, Any] = {
        "command": "/vp",
        "description": translator.t(locale, "slack.manifest.command_description"),
        "usage_hint": translator.t(locale, "slack.manifest.command_hint"),
        "should_escape": False,
    }
    event_subscriptions: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        command["url"] = events_url
        event_subscriptions["request_url"] = events_url
        interactivity["request_url"] = events_url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": translator.t(locale, "slack.manifest.description"),
            "long_description": translator.t(locale, "slack.manifest.long_description"),
            "background_color": "#1f4e5f",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {
            "redirect_urls": [f"{base}/slack/oauth_redirect"],
            "scopes": {"bot": list(BOT_SCOPES)},
        },
        "settings": {
            "event_subscriptions": event_subscriptions,
            "interactivity": interactivity,
            # Enterprise Grid: one org-wide install serves every workspace of the organisation.
            "org_deploy_enabled": True,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }
