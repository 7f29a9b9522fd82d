"""The practice's own settings, as plain values: an organisation's own sociale kaart merged over the template,
what may be changed of an organisation, and the codes of what went wrong (the console maps them to locale keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.content import LOCALES, SocialMapEntry

MIN_RETENTION_DAYS = 7
MAX_RETENTION_DAYS = 3650
ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
PHONE = re.compile(r"^[0-9+() .-]{3,40}$")


class SettingsProblem(StrEnum):
    """What is wrong with a settings form; `console.settings.problem.<code>` says it in words."""

    NAME_MISSING = "name_missing"
    LOCALE_UNKNOWN = "locale_unknown"
    TIMEZONE_UNKNOWN = "timezone_unknown"
    RETENTION_RANGE = "retention_range"
    ENTRY_ID = "entry_id"
    ENTRY_NAME = "entry_name"
    PHONE = "phone"
    URL = "url"
    VIEWER_NAME = "viewer_name"
    VIEWER_EMAIL = "viewer_email"
    PLATFORM = "platform"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class OrganisationSettings:
    name: str
    locale: str
    timezone: str
    retention_days: int

    def problem(self) -> SettingsProblem | None:
        if not self.name.strip():
            return SettingsProblem.NAME_MISSING
        if self.locale not in LOCALES:
            return SettingsProblem.LOCALE_UNKNOWN
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return SettingsProblem.TIMEZONE_UNKNOWN
        if not MIN_RETENTION_DAYS <= self.retention_days <= MAX_RETENTION_DAYS:
            return SettingsProblem.RETENTION_RANGE
        return None


def entry_problem(entry: SocialMapEntry) -> SettingsProblem | None:
    if not ENTRY_ID.match(entry.id):
        return SettingsProblem.ENTRY_ID
    if not entry.name.nl.strip():
        return SettingsProblem.ENTRY_NAME
    if entry.phone and not PHONE.match(entry.phone):
        return SettingsProblem.PHONE
    if entry.url and not entry.url.startswith(("https://", "http://", "mailto:")):
        return SettingsProblem.URL
    return None


def merge_social_map(
    template: tuple[SocialMapEntry, ...], own: tuple[SocialMapEntry, ...]
) -> tuple[SocialMapEntry, ...]:
    """The template in its order with the organisation's entries in place of those with the same id, then the
    organisation's other entries in their own order."""
    by_id = {entry.id: entry for entry in own}
    merged = [by_id.pop(entry.id, entry) for entry in template]
    return (*merged, *(entry for entry in own if entry.id in by_id))


@dataclass(frozen=True, slots=True)
class ManagementViewer:
    """Someone of management, HR or the works council who receives the organisation's anonymous summaries."""

    id: UUID
    display_name: str
    email: str | None
    platform: str | None
    platform_user_id: str | None


@dataclass(frozen=True, slots=True)
class ManagementChannel:
    platform: str
    workspace_id: str
    channel_id: str


@dataclass(frozen=True, slots=True)
class CounsellorProfile:
    id: UUID
    display_name: str
    email: str | None
    photo_url: str | None
    intro_nl: str
    intro_en: str
    has_key: bool
