"""An employee on a 360 px and a 390 px phone, in real Chromium, against the whole service — and the canary sweep.

Start anonymously with a counsellor of one's choice, keep the code (copy, save as a file), opt in to a reply
notice by e-mail and Web Push, send a photo, sign out, mistype the code and fix one character, read the reply, take
the counsellor's file, book a call and add it to the calendar, take the whole conversation along, erase it. The
counsellor works in the console on a desktop. On every portal page: no horizontal scroll, touch targets of at
least 44 px, and no axe-core violations. The notices that reach the SMTP sink and the loopback push service carry
nothing of the conversation, the organisation or the code; the data folder and the log hold none of it in clear.

The same checks on every page the portal shows when something goes wrong, each provoked by a real request: an
unknown organisation, a wrong method, a form with a broken token, a body over the size limit, a proof of work that
does not hold (too busy), a file too large or of a refused kind, a conversation erased on another device, one
whose sealed data is damaged, an address refused for the notice, an erasure not confirmed. The server says which
template it rendered (a header added by the test only), and `test_portal_templates_covered` fails when a template
in the portal's folder is on no page these tests check.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import mimetypes
import random
import re
import uuid
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from PIL import Image, PngImagePlugin
from playwright.async_api import Browser, BrowserContext, Page, Response, expect
from sqlalchemy import text

from bot.app import Services, build_app
from bot.catalog import ContentLibrary
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import CounsellorRole, Organisation
from bot.logs import configure_logging, route_structlog_to_stdlib
from bot.security import INSECURE_TEST_ARGON2_PARAMS, Secret, totp_code
from bot.settings import load_settings
from bot.storage.db import create_engine
from bot.web.observability import AccessLogger
from bot.web.portal.channel import ConfidentialChannel
from bot.web.portal.maintenance import run_notices
from bot.web.shared.templates import TEMPLATES, Templates
from tests.console.helpers import make_person
from tests.doubles.push_service import PushServiceDouble, push_service  # noqa: F401 - fixture
from tests.doubles.smtp_sink import SmtpSink, smtp_env, smtp_sink  # noqa: F401 - fixture
from tests.portal.test_portal_extras import jpeg_with_position
from tests.security.test_canary_sweep import copy_data_folder
from tests.support.browser import browser  # noqa: F401 - fixture
from tests.support.databases import clone_sqlite

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "correct horse battery staple"
PASSPHRASE = "lange wachtwoordzin van mira voor de test"
ZONE = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


TEMPLATE_HEADER = "X-Test-Template"
#: The pages the journey from start to erasure checks, and those the error states check; with the parts and bases
#: they include, these must be every file in the portal's template folder (test_portal_templates_covered).
JOURNEY_PAGES = frozenset(
    {
        "portal_landing.html",
        "portal_start.html",
        "portal_code.html",
        "portal_conversation.html",
        "portal_notice.html",
        "portal_left.html",
        "portal_return.html",
        "portal_delete.html",
        "portal_deleted.html",
    }
)
ERROR_PAGES = frozenset(
    {
        "error.html",
        "portal_damaged.html",
        "portal_landing.html",
        "portal_start.html",
        "portal_return.html",
        "portal_conversation.html",
        "portal_notice.html",
        "portal_delete.html",
    }
)


def record_templates(app: web.Application) -> None:
    """Every page the portal renders says which template it came from, in a response header (tests only)."""
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource) and resource.canonical == "/portal":
            templates = resource._app[TEMPLATES]
            break
    else:
        raise AssertionError("no portal in this application")
    render = templates.render

    def recording(
        request: web.Request, template: str, /, *, status: int = 200, **context: object
    ) -> web.Response:
        response = render(request, template, status=status, **context)
        response.headers[TEMPLATE_HEADER] = template
        return response

    templates.render = recording  # type: ignore[method-assign]
    assert isinstance(templates, Templates)


@dataclass
class Seen:
    """What the phone checks passed on: page paths, templates, and each open tab's latest page template."""

    paths: set[str]
    templates: set[str]
    states: set[str]
    current: dict[Page, str]

    @classmethod
    def new(cls) -> Seen:
        return cls(set(), set(), set(), {})

    def watch(self, context: BrowserContext) -> None:
        def on_response(response: Response) -> None:
            template = response.headers.get(TEMPLATE_HEADER.lower())
            if not template or response.request.resource_type != "document":
                return
            frame = response.frame
            if frame.parent_frame is None:
                self.current[frame.page] = f"{template} {response.status}"

        context.on("response", on_response)


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Served as `vipbot serve` serves it: with its own access logger (which leaves the portal out)."""
    runner = web.AppRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    assert server.sockets
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


@dataclass
class World:
    data: Path
    services: Services
    clock: FixedClock
    org: Organisation
    person_email: str
    totp: str


@pytest.fixture
async def world(
    tmp_path: Path,
    content: ContentLibrary,
    smtp_sink: SmtpSink,  # noqa: F811
    sqlite_template: Path,
) -> AsyncIterator[World]:
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(
        {
            "VIPBOT_DATA_DIR": str(data),
            "VIPBOT_SECRET_KEY": "kX3v9Qm2LpR7tW4zN8bY1cF6hJ0sD5gA-phone-test",
            "VIPBOT_BASE_URL": "http://vipbot.test",
            "VIPBOT_SCHEDULER": "false",
            "VIPBOT_PORTAL_POW_BITS": "4",
            "VIPBOT_LOG_LEVEL": "DEBUG",
            "VIPBOT_PUSH_HOSTS": "127.0.0.1",
            "VIPBOT_NOTICE_DELAY_MIN_MINUTES": "1",
            "VIPBOT_NOTICE_DELAY_MAX_MINUTES": "2",
            **smtp_env(smtp_sink),
        },
        dotenv_path=None,
    )
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    log_file = (data / "vipbot.log").open("w", encoding="utf-8")
    configure_logging(settings.log_level, settings.log_format.value, log_file)
    # The SMTP sink runs in this process and logs each SMTP command it receives: the double's log, not ours.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    # The embedded database as a first start leaves it: a copy of the suite's migrated template (not a test of
    # migrating; running every migration again cost about a second of CPU per test).
    clone_sqlite(sqlite_template, settings.effective_database_url)
    engine = create_engine(settings.effective_database_url)
    clock = FixedClock(START)
    services = Services(settings=settings, clock=clock, engine=engine, content=content)
    try:
        org = await services.organisations.add_organisation(
            "Zorggroep De Linde", "de-linde", "Europe/Amsterdam", "nl", 90
        )
        person = await make_person(services, Role.COUNSELLOR, "mira@vp.test", org.id, password=PASSWORD)
        channel = ConfidentialChannel(engine, settings, clock, argon2=INSECURE_TEST_ARGON2_PARAMS)
        await channel.add_counsellor(org.id, "Mira Jansen", "mira@vp.test", Secret(PASSPHRASE))
        await channel.add_counsellor(org.id, "Noor Bakker", None, Secret("noor passphrase for tests"))
        await channel.add_counsellor(
            org.id, "Daan de Vries", None, Secret("daan passphrase for tests"), CounsellorRole.DEPUTY
        )
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE counsellor SET intro_nl = :i, display_name = 'Mira Jansen' WHERE email = 'mira@vp.test'"
                ),
                {"i": "Ik ben Mira. Je kunt bij mij terecht met alles wat op je werk schuurt."},
            )
        assert person.totp is not None
        yield World(data, services, clock, org, person.email, person.totp)
    finally:
        log_file.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        route_structlog_to_stdlib()
        await engine.dispose()


# -- what every portal page must be on a phone -------------------------------------------------------------------
SMALL_TARGETS = """
(minimum) => {
  const picked = document.querySelectorAll(
    'button, a.button, input:not([type=hidden]):not([type=radio]):not([type=checkbox]), textarea, select, ' +
    'fieldset label, .actions a, .links a, nav a, a.brand, .thread a, main > p > a, label:has(input[type=checkbox])');
  const small = [];
  for (const el of picked) {
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width === 0 || box.height === 0 || style.visibility === 'hidden') { continue; }
    if (box.height < minimum || box.width < minimum) {
      small.push(el.outerHTML.slice(0, 90) + ' ' + box.width + 'x' + box.height);
    }
  }
  return small;
}
"""


async def phone_checks(page: Page, width: int, seen: Seen) -> None:
    """No horizontal scroll, touch targets of 44 px or more, and axe-core finds nothing."""
    await page.wait_for_load_state("load")
    rendered = seen.current.get(page)
    assert rendered is not None, ("not a page the portal rendered", page.url)
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    small = await page.evaluate(SMALL_TARGETS, 44)
    assert small == [], (page.url, small)
    if not AXE.exists():
        raise AssertionError("axe-core is missing: run scripts/ensure-node-tools")
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = await page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    assert violations == [], (page.url, rendered, violations)
    path = re.sub(r"[?#].*", "", page.url)
    seen.paths.add(path.rsplit("/portal/de-linde", 1)[1] or "/" if "/portal/de-linde" in path else path)
    seen.templates.add(rendered.split()[0])
    seen.states.add(rendered)


async def phone(browser: Browser, width: int) -> BrowserContext:  # noqa: F811
    context = await browser.new_context(
        viewport={"width": width, "height": 780},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="nl-NL",
        timezone_id="Europe/Amsterdam",
        accept_downloads=True,
    )
    context.set_default_timeout(20_000)
    return context


async def download(page: Page, name: str) -> bytes:
    async with page.expect_download() as info:
        await page.get_by_role("link", name=name).click()
    download = await info.value
    return await asyncio.to_thread(Path(await download.path()).read_bytes)


def png_with_text(marker: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", marker)
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (20, 90, 160)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@pytest.mark.parametrize("width", [360, 390])
async def test_an_employee_on_a_phone_from_start_to_erasure(  # noqa: PLR0915
    world: World,
    width: int,
    browser: Browser,  # noqa: F811
    smtp_sink: SmtpSink,  # noqa: F811
    push_service: PushServiceDouble,  # noqa: F811
    tmp_path: Path,
) -> None:
    tag = uuid.uuid4().hex[:10].upper()
    first = f"CANARY{tag}-first Mijn leidinggevende maakt steeds opmerkingen over mijn lichaam."
    second = f"CANARY{tag}-reply Dank je voor je bericht. Zullen we bellen?"
    exif_marker, png_marker = "KX9QZ-camera", f"CANARY{tag}-png"
    email = f"sam.{tag.lower()}@example.net"
    services, clock = world.services, world.clock
    seen = Seen.new()
    app = build_app(services)
    record_templates(app)
    async with serve_app(app) as base:
        context = await phone(browser, width)
        seen.watch(context)
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        employee = await context.new_page()
        errors: list[str] = []
        employee.on("pageerror", lambda e: errors.append(str(e)))

        # -- the landing page: who reads, how soon, and where else to go --------------------------------------
        await employee.goto(f"{base}/portal/de-linde")
        await expect(employee.get_by_role("heading", name="Mira Jansen")).to_be_visible()
        await expect(employee.get_by_text("Ik ben Mira.")).to_be_visible()
        await expect(employee.get_by_text("Vervanger bij afwezigheid")).to_be_visible()
        await expect(employee.get_by_text("binnen 3 werkdagen")).to_be_visible()
        await expect(employee.get_by_role("heading", name="Liever ergens anders terecht?")).to_be_visible()
        await phone_checks(employee, width, seen)

        # -- start anonymously, with Mira -------------------------------------------------------------------
        await employee.get_by_role("link", name="Begin een gesprek").click()
        await employee.get_by_label("Anoniem").check()
        await expect(employee.locator("#identity")).to_be_hidden()
        await employee.get_by_label("Met je naam of contactgegevens").check()
        await expect(employee.locator("#identity")).to_be_visible()
        await employee.get_by_label("Anoniem").check()
        await expect(employee.locator("#identity")).to_be_hidden()
        await employee.get_by_label("Mira Jansen").check()
        await employee.get_by_label("Wat wil je bespreken?").fill(first)
        await phone_checks(employee, width, seen)
        await employee.get_by_role("button", name="Verstuur en maak mijn code").click()

        # -- the code: groups never broken, copied, saved ----------------------------------------------------
        receipt = employee.locator("#receipt-code")
        await expect(receipt).to_be_visible()
        code = str(await receipt.get_attribute("data-code"))
        assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){4}", code)
        assert (await receipt.inner_text()).replace("\n", "") == code
        lines = await employee.evaluate(
            "[...document.querySelectorAll('#receipt-code .group')].map(g => g.getClientRects().length)"
        )
        assert lines == [1, 1, 1, 1, 1]  # each group on one line, whatever wraps between them
        await employee.get_by_role("button", name="Kopieer de code").click()
        await expect(employee.get_by_text("De code staat op je klembord.")).to_be_visible()
        assert await employee.evaluate("navigator.clipboard.readText()") == code
        async with employee.expect_download() as saved:
            await employee.get_by_role("button", name="Bewaar als bestand").click()
        saved_file = Path(await (await saved.value).path())
        assert code in await asyncio.to_thread(saved_file.read_text, encoding="utf-8")
        await expect(employee.get_by_role("button", name="Afdrukken")).to_be_visible()
        await phone_checks(employee, width, seen)
        await employee.get_by_role("link", name="Ik heb mijn code bewaard, ga naar het gesprek").click()
        await expect(employee.locator(".thread")).to_contain_text(first)
        await phone_checks(employee, width, seen)

        # -- opt in to a notice: e-mail, and this browser's push subscription ---------------------------------
        await employee.get_by_role("link", name="Laat me weten als er een antwoord is").click()
        await expect(employee.get_by_text("Gebruik een privé-adres")).to_be_visible()
        await phone_checks(employee, width, seen)
        await employee.get_by_label("Je (privé) e-mailadres").fill(email)
        await employee.get_by_role("button", name="Stuur me een bericht bij een antwoord").click()
        await expect(employee.get_by_role("status")).to_contain_text("Je krijgt voortaan een bericht")
        await employee.get_by_role("link", name="Bericht bij een antwoord: staat aan (wijzigen)").click()
        # What portal.js posts after PushManager.subscribe() (a real push service is not reachable here).
        status = await employee.evaluate(
            """async (subscription) => {
                 const box = document.querySelector('[data-push]');
                 const r = await fetch(box.getAttribute('data-save'), {method: 'POST', credentials: 'same-origin',
                   headers: {'Content-Type': 'application/json', 'X-CSRF-Token': box.getAttribute('data-token')},
                   body: JSON.stringify(subscription)});
                 return r.status; }""",
            push_service.subscription(f"phone-{width}"),
        )
        assert status == 204
        await employee.reload()
        await expect(employee.get_by_text("Notificaties staan aan op een apparaat.")).to_be_visible()
        manifest = await employee.evaluate(
            "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
        )
        assert manifest["short_name"] == "Gesprek"
        assert "Linde" not in json.dumps(manifest)

        # -- a photo with its position in it -------------------------------------------------------------------
        await employee.goto(f"{base}/portal/de-linde/conversation")
        await employee.locator("#file").set_input_files(
            files=[{"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_position()}]
        )
        await employee.get_by_role("button", name="Bestand versleuteld meesturen").click()
        await expect(employee.get_by_role("status")).to_contain_text("zonder verborgen gegevens")

        # -- sign out, come back, mistype one character and fix only that --------------------------------------
        await employee.get_by_role("button", name="Afsluiten op dit apparaat").click()
        await expect(employee.get_by_role("heading", name="Je bent afgemeld op dit apparaat")).to_be_visible()
        await phone_checks(employee, width, seen)
        await employee.goto(f"{base}/portal/de-linde/return")
        wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
        field = employee.get_by_label("Je code")
        await field.fill(wrong.replace("-", " ").lower())
        await employee.get_by_role("button", name="Open mijn gesprek").click()
        await expect(employee.get_by_role("alert")).to_contain_text("vinden we geen gesprek")
        assert await field.input_value() == wrong.replace("-", " ").lower()  # nothing to retype
        await phone_checks(employee, width, seen)
        await field.press("End")
        await field.press("Backspace")
        await field.press_sequentially(code[-1].lower())
        await employee.get_by_role("button", name="Open mijn gesprek").click()
        await expect(employee.locator(".thread")).to_contain_text(first)

        # -- the counsellor, in the console on a desktop ---------------------------------------------------------
        desk = await browser.new_context(
            locale="nl-NL", timezone_id="Europe/Amsterdam", accept_downloads=True
        )
        desk.set_default_timeout(20_000)
        counsellor = await desk.new_page()
        await counsellor.goto(f"{base}/console/login")
        await counsellor.locator("#email").fill(world.person_email)
        await counsellor.locator("#password").fill(PASSWORD)
        await counsellor.locator("button[type=submit]").click()
        await counsellor.locator("#code").fill(totp_code(world.totp, clock.now().timestamp()))
        await counsellor.locator("button[type=submit]").click()
        await counsellor.wait_for_url(re.compile(r".*/console/(?!login).*"))
        await counsellor.goto(f"{base}/console/de-linde/inbox")
        await counsellor.get_by_label("Wachtwoordzin").fill(PASSPHRASE)
        await counsellor.get_by_role("button", name="Ontgrendelen").click()
        await counsellor.get_by_role("link", name=re.compile("Gesprek van")).click()
        await expect(counsellor.locator(".thread")).to_contain_text(first)
        photo = await download(counsellor, "IMG_2041.jpg")
        assert exif_marker.encode() not in photo
        assert dict(Image.open(io.BytesIO(photo)).getexif()) == {}  # no camera, no GPS position
        await counsellor.get_by_label("Je antwoord").fill(second)
        await counsellor.get_by_role("button", name="Antwoord versleuteld versturen").click()
        await expect(counsellor.locator(".thread")).to_contain_text(second)
        await counsellor.locator("#inbox-file").set_input_files(
            files=[{"name": "folder.png", "mimeType": "image/png", "buffer": png_with_text(png_marker)}]
        )
        await counsellor.get_by_role("button", name="Bestand versleuteld meesturen").click()
        await expect(counsellor.get_by_role("link", name="folder.png")).to_be_visible()
        soon = (clock.now() + timedelta(days=2)).astimezone(ZONE).replace(hour=10, minute=0)
        later = soon + timedelta(days=1, hours=4)
        await counsellor.locator("#slot0").fill(soon.strftime("%Y-%m-%dT%H:%M"))
        await counsellor.locator("#slot1").fill(later.strftime("%Y-%m-%dT%H:%M"))
        await counsellor.get_by_label("Duur in minuten").fill("45")
        await counsellor.get_by_role("button", name="Tijden aanbieden").click()
        await expect(counsellor.get_by_text("de werknemer heeft nog niet gekozen")).to_be_visible()

        # -- the notice: after a random delay, saying only that there is a reply -------------------------------
        rng = random.Random(width)
        async with aiohttp.ClientSession() as http:
            assert await run_notices(services, http, rng) == 0  # armed, 1–2 minutes on
            clock.advance(timedelta(minutes=3))
            assert await run_notices(services, http, rng) == 1
        mails = [r for r in smtp_sink.received if email in r.rcpt_tos]
        pushes = [p for p in push_service.received if p.path.endswith(f"phone-{width}")]
        assert len(mails) == 1
        assert len(pushes) == 1
        assert push_service.decrypt(pushes[0]) == b'{"v":1}'
        for needle in (tag, "Zorggroep", "Linde", "linde", "Mira", code, code.replace("-", ""), "http"):
            assert needle.encode() not in mails[0].raw, needle
            assert needle.encode() not in pushes[0].body, needle

        # -- back on the phone: the reply, the counsellor's file, a call, the whole conversation ----------------
        await employee.goto(f"{base}/portal/de-linde/conversation")
        await expect(employee.locator(".thread")).to_contain_text(second)
        await phone_checks(employee, width, seen)
        picture = await download(employee, "Bestand: folder.png (downloaden)")
        assert png_marker.encode() not in picture
        assert Image.open(io.BytesIO(picture)).size == (40, 30)
        await employee.get_by_label(re.compile(r"14:00")).check()
        await employee.get_by_role("button", name="Deze tijd kiezen").click()
        await expect(employee.get_by_role("status")).to_contain_text("Je hebt een tijd gekozen")
        await phone_checks(employee, width, seen)
        ics = await download(employee, "Zet in mijn agenda (.ics)")
        assert b"SUMMARY:Gesprek" in ics
        assert later.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ").encode() in ics
        for needle in (b"Zorggroep", b"linde", b"Linde", b"Mira", b"vp.test", b"http", tag.encode()):
            assert needle not in ics
        archive = await download(employee, "Download het hele gesprek (zip)")
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            transcript = opened.read("transcript.txt").decode("utf-8")
            names = opened.namelist()
        assert first in transcript
        assert second in transcript
        assert "Gekozen tijd" in transcript
        assert any(n.endswith(".jpg") for n in names)
        assert any(n.endswith(".png") for n in names)
        await counsellor.reload()
        assert b"SUMMARY:" in await download(counsellor, "In mijn agenda (.ics)")

        # -- the sweep while the conversation exists, then erasure ------------------------------------------------
        needles = {
            "message": first,
            "reply": second,
            "address": email,
            "push endpoint": f"phone-{width}",
            "code": code,
            "code without dashes": code.replace("-", ""),
            "photo's camera": exif_marker,
            "picture's comment": png_marker,
            "canary": f"CANARY{tag}",
        }

        def sweep(into: Path) -> list[str]:
            copy = copy_data_folder(world.data, into)
            assert "vipbot.log" in copy.files
            assert copy.files["vipbot.log"]  # the log holds something to search
            return sorted(
                f"{label} in {name}"
                for name, content in copy.files.items()
                for label, needle in needles.items()
                for spelling in (needle.encode(), needle.encode("utf-16-le"), json.dumps(needle).encode())
                if spelling in content
            )

        assert sweep(tmp_path / f"copy-{width}-open") == []
        await employee.get_by_role("link", name="Gesprek wissen").click()
        await phone_checks(employee, width, seen)
        await employee.get_by_label("Ja, wis dit gesprek definitief").check()
        await employee.get_by_role("button", name="Wis het gesprek").click()
        await expect(employee.get_by_role("heading", name="Je gesprek is gewist")).to_be_visible()
        await phone_checks(employee, width, seen)
        async with services.engine.connect() as connection:
            for table in (
                "conversation",
                "conversation_message",
                "conversation_notice",
                "conversation_share",
            ):
                count = (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()  # noqa: S608
                assert count == 0, table
        assert sweep(tmp_path / f"copy-{width}-erased") == []
        assert errors == []
        await desk.close()
        await context.close()
    assert {"/", "/start", "/code", "/conversation", "/notice", "/leave", "/return", "/delete"} <= seen.paths
    assert seen.templates >= JOURNEY_PAGES, JOURNEY_PAGES - seen.templates


async def damage(services: Services) -> None:
    """What bit rot or a bad restore does to a conversation: one byte flipped inside a sealed message."""
    async with services.engine.begin() as connection:
        rows = (await connection.execute(text("SELECT id, ciphertext FROM conversation_message"))).all()
        assert rows
        row_id, sealed = rows[0]
        broken = bytearray(sealed)
        broken[len(broken) // 2] ^= 0x40
        await connection.execute(
            text("UPDATE conversation_message SET ciphertext = :c WHERE id = :i"),
            {"c": bytes(broken), "i": row_id},
        )


async def started(page: Page, base: str, message: str) -> str:
    """Start a conversation anonymously and go on to it; returns the receipt code."""
    await page.goto(f"{base}/portal/de-linde/start")
    await page.get_by_label("Wat wil je bespreken?").fill(message)
    await page.get_by_role("button", name="Verstuur en maak mijn code").click()
    code = str(await page.locator("#receipt-code").get_attribute("data-code"))
    await page.get_by_role("link", name="Ik heb mijn code bewaard, ga naar het gesprek").click()
    await expect(page.locator(".thread")).to_contain_text(message)
    return code


async def signed_in_with(page: Page, base: str, code: str) -> None:
    await page.goto(f"{base}/portal/de-linde/return")
    await page.get_by_label("Je code").fill(code)
    await page.get_by_role("button", name="Open mijn gesprek").click()
    await expect(page.locator(".thread")).to_be_visible()


@pytest.mark.parametrize("width", [360, 390])
async def test_every_error_page_on_a_phone(  # noqa: PLR0915
    world: World,
    width: int,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    services = world.services
    await services.organisations.add_organisation("Leeg BV", "leeg", "Europe/Amsterdam", "nl", 90)
    seen = Seen.new()
    app = build_app(services)
    record_templates(app)
    async with serve_app(app) as base:
        context = await phone(browser, width)
        seen.watch(context)
        page = await context.new_page()

        # -- pages of the error middleware --------------------------------------------------------------------
        await page.goto(f"{base}/portal/bestaat-niet")
        await expect(page.get_by_role("heading", name="Niet gevonden")).to_be_visible()
        assert seen.current[page] == "error.html 404"
        await phone_checks(page, width, seen)
        await page.goto(f"{base}/portal/de-linde/leave")  # only a form may sign out
        assert seen.current[page] == "error.html 405"
        await phone_checks(page, width, seen)
        await page.goto(f"{base}/portal/de-linde/start")
        await page.locator("input[name=csrf_token]").evaluate("field => { field.value = 'verlopen'; }")
        await page.get_by_label("Wat wil je bespreken?").fill("Een formulier dat te lang openstond.")
        await page.get_by_role("button", name="Verstuur en maak mijn code").click()
        await expect(page.get_by_role("heading", name="Niet toegestaan")).to_be_visible()
        assert seen.current[page] == "error.html 403"
        await phone_checks(page, width, seen)

        # -- an organisation without a counsellor yet -----------------------------------------------------------
        await page.goto(f"{base}/portal/leeg")
        assert seen.current[page] == "portal_landing.html 200"
        await phone_checks(page, width, seen)

        # -- too busy: a proof of work that does not hold ---------------------------------------------------------
        await page.goto(f"{base}/portal/de-linde/start")
        await page.locator("input[name=pow_challenge]").evaluate("field => { field.value = 'x.y'; }")
        await page.get_by_label("Wat wil je bespreken?").fill("Mijn eerste bericht.")
        await page.get_by_role("button", name="Verstuur en maak mijn code").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        assert seen.current[page] == "portal_start.html 429"
        assert await page.get_by_label("Wat wil je bespreken?").input_value() == "Mijn eerste bericht."
        await phone_checks(page, width, seen)
        await page.goto(f"{base}/portal/de-linde/return")
        await page.locator("input[name=pow_challenge]").evaluate("field => { field.value = 'x.y'; }")
        await page.get_by_label("Je code").fill("ABCD-EFGH-JKMN-PQRS-TVWX")
        await page.get_by_role("button", name="Open mijn gesprek").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        assert seen.current[page] == "portal_return.html 429"
        await phone_checks(page, width, seen)

        # -- files refused: too large, not a PDF or image, over the body limit ------------------------------------
        code = await started(page, base, "Ik wil iets laten zien.")
        limit = services.settings.portal_file_mb * 1024 * 1024
        refused = [
            ("groot.jpg", "image/jpeg", b"\xff\xd8\xff" + bytes(limit), "portal_conversation.html 400"),
            ("notities.txt", "text/plain", b"gewoon tekst", "portal_conversation.html 400"),
            ("enorm.pdf", "application/pdf", b"%PDF-" + bytes(limit + 1024 * 1024), "error.html 413"),
        ]
        for name, kind, data, expected in refused:
            await page.goto(f"{base}/portal/de-linde/conversation")
            # From a file, as someone picks one: the browser reads it (the name gives its type). A buffer of
            # megabytes would go into the page as base64 and cost Chromium seconds of CPU.
            upload = tmp_path / name
            await asyncio.to_thread(upload.write_bytes, data)
            assert mimetypes.guess_type(name)[0] == kind
            await page.locator("#file").set_input_files(upload)
            async with page.expect_navigation():
                await page.get_by_role("button", name="Bestand versleuteld meesturen").click()
            assert seen.current[page] == expected, (name, seen.current[page])
            if expected == "error.html 413":
                await expect(page.get_by_role("heading", name="Te groot")).to_be_visible()
            else:
                await expect(page.get_by_role("alert")).to_be_visible()
            await phone_checks(page, width, seen)

        # -- a notice address the portal cannot use; an erasure not confirmed ---------------------------------------
        await page.goto(f"{base}/portal/de-linde/notice")
        await page.get_by_label("Je (privé) e-mailadres").fill("sam@localhost")
        await page.get_by_role("button", name="Stuur me een bericht bij een antwoord").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        assert seen.current[page] == "portal_notice.html 400"
        await phone_checks(page, width, seen)
        await page.goto(f"{base}/portal/de-linde/delete")
        await page.locator("input[name=confirm]").evaluate("box => box.removeAttribute('required')")
        await page.get_by_role("button", name="Wis het gesprek").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        assert seen.current[page] == "portal_delete.html 400"
        await phone_checks(page, width, seen)

        # -- erased on another device: this phone's session is still open, the conversation is gone ----------------
        other = await browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam")
        other.set_default_timeout(20_000)
        elsewhere = await other.new_page()
        await signed_in_with(elsewhere, base, code)
        await elsewhere.goto(f"{base}/portal/de-linde/delete")
        await elsewhere.get_by_label("Ja, wis dit gesprek definitief").check()
        await elsewhere.get_by_role("button", name="Wis het gesprek").click()
        await expect(elsewhere.get_by_role("heading", name="Je gesprek is gewist")).to_be_visible()
        await other.close()
        await page.goto(f"{base}/portal/de-linde/conversation")
        await expect(page.get_by_role("alert")).to_be_visible()
        assert seen.current[page] == "portal_return.html 404"
        await phone_checks(page, width, seen)

        # -- a conversation whose sealed data is damaged -------------------------------------------------------------
        await started(page, base, "Een gesprek dat beschadigd raakt.")
        await damage(services)
        await page.goto(f"{base}/portal/de-linde/conversation")
        assert seen.current[page] == "portal_damaged.html 500"
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await phone_checks(page, width, seen)
        await context.close()
    assert seen.templates >= ERROR_PAGES, ERROR_PAGES - seen.templates
