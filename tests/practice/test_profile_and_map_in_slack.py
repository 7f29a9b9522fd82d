"""The counsellor's photo and introduction and the organisation's own sociale kaart, set in the console, reach
Slack Home and `/vp kaart` (through the Slack Web API double); the photo is re-encoded without metadata."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image
from PIL.ExifTags import Base as ExifTag
from yarl import URL

from bot.adapters import slack
from bot.app import Services, build_app
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.security import INSECURE_TEST_PASSWORD_POLICY
from bot.security.secret import Secret
from bot.storage.practice import SqlPracticeStore
from bot.storage.slack_installations import SqlSlackInstallations
from bot.usecases.audit import AuditAction, AuditQuery
from bot.usecases.profile import MAX_UPLOAD_BYTES, SIZE, ProfileError, ProfileProblem, process_photo
from bot.web import console, photos
from tests.adapters.slack.support import command_body, event_body, signed_headers, slack_services
from tests.conftest import TEST_SECRET_KEY
from tests.console.helpers import csrf_from, make_person, sign_in
from tests.doubles.slack_api import DEFAULT_TEAM, DEFAULT_TOKEN, SlackApiSimulator, slack_api
from tests.support.waiting import eventually

__all__ = ["slack_api"]

PUBLIC = "https://vp.example.test"
CANARY = "camera-serial-CANARY-7d1f"


def phone_photo(width: int = 1200, height: int = 900) -> bytes:
    """A JPEG as a phone writes it: EXIF with a description, the camera and a GPS block, rotated by a tag."""
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    exif[ExifTag.ImageDescription] = CANARY
    exif[ExifTag.Make] = CANARY
    exif[ExifTag.Orientation] = 6
    exif[ExifTag.GPSInfo] = {1: "N", 2: (52.0, 5.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), comment=CANARY.encode())
    return out.getvalue()


def test_a_photo_is_made_square_small_and_clean() -> None:
    photo = process_photo(phone_photo())
    assert CANARY.encode() not in photo.image
    with Image.open(io.BytesIO(photo.image)) as image:
        assert image.format == "JPEG"
        assert image.size == (SIZE, SIZE)
        assert not image.getexif()
        assert "comment" not in image.info
        assert "icc_profile" not in image.info
    png = io.BytesIO()
    Image.new("RGBA", (300, 600), (0, 0, 0, 0)).save(png, format="PNG")
    assert process_photo(png.getvalue()).content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("upload", "problem"),
    [
        (b"GIF89a" + b"\0" * 100, ProfileProblem.PHOTO_TYPE),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", ProfileProblem.PHOTO_TYPE),
        (phone_photo()[:400], ProfileProblem.PHOTO_UNREADABLE),
        (b"\xff" * (MAX_UPLOAD_BYTES + 1), ProfileProblem.PHOTO_TOO_LARGE),
    ],
)
def test_what_is_not_a_photo_is_refused_with_a_code(upload: bytes, problem: ProfileProblem) -> None:
    with pytest.raises(ProfileError) as refused:
        process_photo(upload)
    assert refused.value.code is problem


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # 81 megapixels in a few kilobytes
    assert len(out.getvalue()) < MAX_UPLOAD_BYTES
    with pytest.raises(ProfileError) as refused:
        process_photo(out.getvalue())
    assert refused.value.code in {ProfileProblem.PHOTO_TOO_LARGE, ProfileProblem.PHOTO_UNREADABLE}


@pytest.fixture
async def served(services: Services, slack_api: SlackApiSimulator) -> AsyncIterator[tuple[Services, str]]:
    configured = slack_services(services, slack_api, slack_bot_token=DEFAULT_TOKEN)
    configured.settings = configured.settings.model_copy(update={"base_url": PUBLIC})
    configured.password_policy = INSECURE_TEST_PASSWORD_POLICY
    app = build_app(configured, features=[photos.install, console.install, slack.install])
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield configured, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def test_profile_and_sociale_kaart_from_the_console_reach_slack(  # noqa: PLR0915
    served: tuple[Services, str], slack_api: SlackApiSimulator, clock: FixedClock
) -> None:
    services, base = served
    organisation = await services.organisations.add_organisation(
        "Acme Zorg", "acme", "Europe/Amsterdam", "nl", 90
    )
    await SqlSlackInstallations(services.sessions, Secret(TEST_SECRET_KEY.encode())).link(
        organisation.id, DEFAULT_TEAM
    )
    slack_api.add_user("UNL", locale="nl-NL")
    counsellor = await make_person(services, Role.COUNSELLOR, "mira@vp.test", organisation.id)
    # https cookies on a loopback test server: the browser treats it as the secure origin it stands for
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(base)])
    async with aiohttp.ClientSession(base_url=base + "/", cookie_jar=jar) as browser:
        await sign_in(browser, counsellor, clock)
        token = csrf_from(await (await browser.get("/console/me")).text())
        form = aiohttp.FormData()
        form.add_field("csrf_token", token)
        form.add_field("photo", phone_photo(), filename="IMG_0001.jpg", content_type="image/jpeg")
        uploaded = await browser.post("/console/me/photo", data=form, allow_redirects=False)
        assert uploaded.status == 303
        assert uploaded.headers["Location"] == "/console/me?done=photo"
        intro = await browser.post(
            "/console/me/introduction",
            data={"csrf_token": token, "intro_nl": "Ik luister, zonder oordeel.", "intro_en": "I listen."},
            allow_redirects=False,
        )
        assert intro.status == 303
        social = await browser.post(
            "/console/o/acme/settings/social",
            data={
                "csrf_token": token,
                "entry": "hr",
                "phone": "+31 20 123 4567",
                "url": "https://hr.acme.test",
            },
            allow_redirects=False,
        )
        assert social.headers["Location"] == "/console/o/acme/settings?done=social"
        own = await browser.post(
            "/console/o/acme/settings/social",
            data={
                "csrf_token": token,
                "entry": "own",
                "name_nl": "Ondernemingsraad Acme",
                "description_nl": "Spreek de OR aan over beleid.",
                "phone": "020 765 4321",
            },
            allow_redirects=False,
        )
        assert own.headers["Location"] == "/console/o/acme/settings?done=social"
        profile = await (await browser.get("/console/me")).text()

    assert counsellor.account.counsellor_id is not None
    stored = await SqlPracticeStore(services.sessions).profile(counsellor.account.counsellor_id)
    assert stored.photo_url is not None
    assert stored.photo_url.startswith(PUBLIC + "/photos/")
    assert stored.photo_url in profile
    # the photo is served by vipbot under that address, as a clean JPEG
    async with aiohttp.ClientSession() as anybody:
        served_photo = await anybody.get(base + stored.photo_url.removeprefix(PUBLIC))
        assert served_photo.status == 200
        assert served_photo.headers["Content-Type"] == "image/jpeg"
        assert served_photo.headers["X-Content-Type-Options"] == "nosniff"
        body = await served_photo.read()
        assert CANARY.encode() not in body
        assert (await anybody.get(base + "/photos/not-a-photo-token-at-all.jpg")).status == 404

    headers_of = signed_headers
    async with aiohttp.ClientSession() as slack_side:
        body, content_type = event_body(
            DEFAULT_TEAM, {"type": "app_home_opened", "user": "UNL", "channel": "DNL", "tab": "home"}
        )
        response = await slack_side.post(
            base + "/slack/events", data=body, headers=headers_of(body, content_type)
        )
        assert response.status == 200
        await eventually(lambda: "UNL" in slack_api.views)
        home = json.dumps(slack_api.views["UNL"], ensure_ascii=False)
        assert stored.photo_url in home
        assert "Ik luister, zonder oordeel." in home
        assert "+31 20 123 4567" in home
        assert "https://hr.acme.test" in home
        assert "Ondernemingsraad Acme" in home

        body, content_type = command_body(DEFAULT_TEAM, "UNL", "kaart")
        answer = await (
            await slack_side.post(base + "/slack/events", data=body, headers=headers_of(body, content_type))
        ).json()
        dumped = json.dumps(answer, ensure_ascii=False)
        assert "+31 20 123 4567" in dumped
        assert "020 765 4321" in dumped
    logged = (await services.audit.list(AuditQuery())).entries
    assert [(e.action, e.subject) for e in reversed(logged) if e.action is not AuditAction.SIGNED_IN] == [
        (AuditAction.PROFILE_CHANGED, "photo"),
        (AuditAction.PROFILE_CHANGED, "introduction"),
        (AuditAction.SETTINGS_CHANGED, "social_map"),
        (AuditAction.SETTINGS_CHANGED, "social_map"),
    ]
    everything_sent = json.dumps([call.params for call in slack_api.calls], ensure_ascii=False)
    assert CANARY not in everything_sent
