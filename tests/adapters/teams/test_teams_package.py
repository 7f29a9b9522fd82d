"""`vipbot teams package`: the zip validates against Microsoft's schema for the manifest version it declares, as
shipped in the npm package `@microsoft/app-manifest` (installed from tests/js/package-lock.json)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from bot.__main__ import main
from bot.adapters.teams.manifest import PackageSpec, build_package
from bot.catalog import ContentLibrary
from tests.doubles.card_check import node_tools

APP_ID = "0a1b2c3d-1111-2222-3333-444455556666"


def schema_for(version: str, kind: str = "") -> dict[str, object]:
    schemas = (
        node_tools() / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
    )
    path = schemas / f"v{version}" / f"MicrosoftTeams{kind}.schema.json"
    assert path.exists(), f"@microsoft/app-manifest ships no schema for manifest version {version}"
    return json.loads(path.read_text(encoding="utf-8"))


def validate(package: bytes) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        version = str(manifest["manifestVersion"])
        jsonschema.Draft4Validator(schema_for(version)).validate(manifest)
        for language in manifest["localizationInfo"]["additionalLanguages"]:
            strings = json.loads(archive.read(language["file"]))
            jsonschema.Draft4Validator(schema_for(version, ".Localization")).validate(strings)
        color = Image.open(io.BytesIO(archive.read(manifest["icons"]["color"])))
        outline = Image.open(io.BytesIO(archive.read(manifest["icons"]["outline"])))
    assert names == {"manifest.json", "en.json", "color.png", "outline.png"}
    assert (color.format, color.size) == ("PNG", (192, 192))
    assert (outline.format, outline.size, outline.mode) == ("PNG", (32, 32), "RGBA")
    # The outline icon is white on transparent: every pixel is transparent or white.
    pixels = [outline.getpixel((x, y)) for x in range(32) for y in range(32)]
    assert {p[:3] for p in pixels if p[3] > 0} == {(255, 255, 255)}
    assert any(p[3] == 0 for p in pixels)
    return manifest


def test_the_package_validates_against_the_declared_schema(content: ContentLibrary) -> None:
    spec = PackageSpec(app_id=APP_ID, base_url="https://vp.example.nl")
    manifest = validate(build_package(spec, content.translator))
    bot = manifest["bots"][0]  # type: ignore[index]
    assert bot["botId"] == APP_ID
    assert set(bot["scopes"]) == {"personal", "team", "groupChat"}
    assert [c["title"] for c in bot["commandLists"][0]["commands"]] == ["hulp", "kaart", "sessies", "gesprek"]
    assert manifest["validDomains"] == ["vp.example.nl"]


def test_the_schema_check_can_fail(content: ContentLibrary) -> None:
    spec = PackageSpec(app_id=APP_ID, base_url="https://vp.example.nl", name="x" * 40)
    with pytest.raises(jsonschema.ValidationError):
        validate(build_package(spec, content.translator))


def test_cli_writes_the_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "app.zip"
    code = main(
        ["teams", "package", "--app-id", APP_ID, "--url", "https://vp.example.nl", "--output", str(output)]
    )
    assert code == 0
    validate(output.read_bytes())
    assert "Upload" in capsys.readouterr().out


def test_cli_refuses_what_teams_would_refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["teams", "package", "--app-id", "not-a-guid", "--url", "http://vp.example.nl"])
    assert code == 2
    err = capsys.readouterr().err
    assert "GUID" in err
    assert "https://" in err
