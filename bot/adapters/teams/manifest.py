"""The Teams app package: manifest.json (schema v1.19, Dutch with an English localization file) and its two icons.

Upload the zip in Teams (Apps → Manage your apps → Upload an app) or in the Teams admin center.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

from bot.adapters.teams.cards import ACTIONS
from bot.domain.i18n import Translator

MANIFEST_VERSION = "1.19"
MANIFEST_SCHEMA = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)
LOCALIZATION_SCHEMA = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/"
    "MicrosoftTeams.Localization.schema.json"
)
ACCENT = "#2E6B5E"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_COLOR_SIZE = 192
_OUTLINE_SIZE = 32


@dataclass(frozen=True, slots=True)
class PackageSpec:
    app_id: str  # the bot's Microsoft App ID (Azure Bot registration), a GUID
    base_url: str  # where vipbot is reachable over https, e.g. https://vp.example.nl
    version: str = "1.0.0"
    name: str = "vipbot"
    developer: str = "vipbot"
    privacy_url: str | None = None
    terms_url: str | None = None
    teams_app_id: str | None = None  # the Teams app's own id; defaults to the bot's app id

    def problems(self) -> list[str]:
        found = []
        if not _GUID.match(self.app_id):
            found.append("--app-id must be the bot's Microsoft App ID, a GUID like 0a1b2c3d-…")
        if self.teams_app_id and not _GUID.match(self.teams_app_id):
            found.append("--teams-app-id must be a GUID")
        for label, url in (
            ("--url", self.base_url),
            ("--privacy-url", self.privacy_url),
            ("--terms-url", self.terms_url),
        ):
            if url is not None and not url.startswith("https://"):
                found.append(f"{label} must be an https:// address (Teams refuses others)")
        if not re.fullmatch(r"\d+\.\d+\.\d+", self.version):
            found.append("--version must look like 1.0.0")
        if len(self.name) > 30 or len(self.developer) > 32:
            found.append("--name is at most 30 characters, --developer at most 32")
        return found


def _commands(translator: Translator, locale: str) -> list[dict[str, str]]:
    return [
        {
            "title": translator.t(locale, f"teams.command_{action}"),
            "description": translator.t(locale, f"teams.command_{action}_description"),
        }
        for action in ACTIONS
    ]


def build_manifest(spec: PackageSpec, translator: Translator) -> dict[str, Any]:
    base = spec.base_url.rstrip("/")
    portal = f"{base}/portal"
    full_name = f"{spec.name} — {translator.t('nl', 'common.counsellor')}"[:100]
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": spec.version,
        "id": spec.teams_app_id or spec.app_id,
        "developer": {
            "name": spec.developer,
            "websiteUrl": base,
            "privacyUrl": spec.privacy_url or portal,
            "termsOfUseUrl": spec.terms_url or portal,
        },
        "name": {"short": spec.name, "full": full_name},
        "description": {
            "short": translator.t("nl", "teams.manifest_short_description"),
            "full": translator.t("nl", "teams.manifest_full_description"),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": spec.app_id,
                "scopes": ["personal", "team", "groupChat"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [{"scopes": ["personal"], "commands": _commands(translator, "nl")}],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [urlsplit(base).hostname or ""],
        "localizationInfo": {
            "defaultLanguageTag": "nl-nl",
            "additionalLanguages": [{"languageTag": "en-us", "file": "en.json"}],
        },
    }


def build_localization(spec: PackageSpec, translator: Translator, locale: str) -> dict[str, Any]:
    strings: dict[str, Any] = {
        "$schema": LOCALIZATION_SCHEMA,
        "name.short": spec.name,
        "name.full": f"{spec.name} — {translator.t(locale, 'common.counsellor')}"[:100],
        "description.short": translator.t(locale, "teams.manifest_short_description"),
        "description.full": translator.t(locale, "teams.manifest_full_description"),
    }
    for index, command in enumerate(_commands(translator, locale)):
        strings[f"bots[0].commandLists[0].commands[{index}].title"] = command["title"]
        strings[f"bots[0].commandLists[0].commands[{index}].description"] = command["description"]
    return strings


def _door(
    draw: ImageDraw.ImageDraw, size: int, fill: tuple[int, ...], knob_fill: tuple[int, ...], margin: float
) -> None:
    """A door ajar: the product's one gesture (a way out to a confidential conversation)."""
    m = size * margin
    frame = (m + size * 0.12, m, size - m - size * 0.12, size - m)
    width = max(1, round(size / 16))
    draw.rectangle(frame, outline=fill, width=width)
    left, top, right, bottom = frame
    leaf = [
        (left, top),
        (right - (right - left) * 0.25, top + size * 0.06),
        (right - (right - left) * 0.25, bottom - size * 0.06),
        (left, bottom),
    ]
    draw.polygon(leaf, fill=fill)
    knob = size * 0.045
    kx, ky = right - (right - left) * 0.38, (top + bottom) / 2
    draw.ellipse((kx - knob, ky - knob, kx + knob, ky + knob), fill=knob_fill)


def color_icon() -> bytes:
    """192×192, full colour: a white door on the accent colour."""
    accent = (*(int(ACCENT[i : i + 2], 16) for i in (1, 3, 5)), 255)
    image = Image.new("RGBA", (_COLOR_SIZE, _COLOR_SIZE), accent)
    draw = ImageDraw.Draw(image)
    _door(draw, _COLOR_SIZE, (255, 255, 255, 255), accent, 0.2)
    return _png(image)


def outline_icon() -> bytes:
    """32×32, white on transparent, as Teams requires for the outline icon."""
    image = Image.new("RGBA", (_OUTLINE_SIZE, _OUTLINE_SIZE), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    _door(draw, _OUTLINE_SIZE, (255, 255, 255, 255), (255, 255, 255, 0), 0.08)
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def build_package(spec: PackageSpec, translator: Translator) -> bytes:
    """The zip Teams accepts: manifest.json, en.json, color.png and outline.png at the top level."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "manifest.json", json.dumps(build_manifest(spec, translator), ensure_ascii=False, indent=2)
        )
        archive.writestr(
            "en.json", json.dumps(build_localization(spec, translator, "en"), ensure_ascii=False, indent=2)
        )
        archive.writestr("color.png", color_icon())
        archive.writestr("outline.png", outline_icon())
    return buffer.getvalue()
