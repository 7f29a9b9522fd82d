"""The portal beyond text, over real HTTP: counsellor choice, files, the reply notice, a call, taking it along."""

from __future__ import annotations

import base64
import io
import json
import random
import re
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import ec
from icalendar import Calendar
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import text

from bot.app import Services, build_app
from bot.domain.clock import FixedClock
from bot.domain.conversations import Author, Mode
from bot.domain.tenancy import CounsellorRole
from bot.mail.reply_notice import push_endpoint_allowed, send_due_notices
from bot.media.clean import FileProblem, FileRefusedError, clean
from bot.security import Secret
from bot.settings import Settings
from bot.storage.notices import NoticeChoice, SqlNotices
from bot.web.portal.channel import master_key
from tests.doubles.push_service import PushServiceDouble, push_service  # noqa: F401 - fixture
from tests.doubles.smtp_sink import SmtpSink, smtp_env, smtp_sink  # noqa: F401 - fixture
from tests.portal.support import PASSPHRASE, Practice, practice
from tests.portal.test_portal_web import FAST, form_fields, hidden, portal_installer, start

CANARY = "KX9QZ"


def jpeg_with_position() -> bytes:
    image = Image.new("RGB", (64, 48), (180, 40, 40))
    exif = image.getexif()
    exif[0x010F] = f"{CANARY}-camera"
    exif[0x8825] = {1: "N", 2: (52.0, 5.0, 17.0), 3: "E", 4: (4.0, 53.0, 2.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert f"{CANARY}-camera".encode() in data
    return data


def pdf_with_author() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": f"{CANARY}-author", "/Title": f"{CANARY}-title"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def configured(services: Services, **env: str) -> Services:
    settings = Settings.model_validate({**services.settings.model_dump(by_alias=True), **env})
    return Services(settings=settings, clock=services.clock, engine=services.engine, content=services.content)


class Site:
    def __init__(
        self, client: TestClient[web.Request, web.Application], p: Practice, services: Services
    ) -> None:
        self.client, self.p, self.services = client, p, services


@pytest.fixture
async def site(services: Services, smtp_sink: SmtpSink) -> AsyncIterator[Site]:  # noqa: F811
    svc = configured(
        services,
        **smtp_env(smtp_sink),
        VIPBOT_PUSH_HOSTS="127.0.0.1",
        VIPBOT_NOTICE_DELAY_MIN_MINUTES="10",
        VIPBOT_NOTICE_DELAY_MAX_MINUTES="20",
    )
    p = await practice(svc)
    client = TestClient(TestServer(build_app(svc, [portal_installer(FAST)]), host="127.0.0.1", port=0))
    await client.start_server()
    try:
        yield Site(client, p, svc)
    finally:
        await client.close()


async def reply(site: Site, words: str) -> None:
    channel = site.p.channel
    conversation = (await channel.store.inbox(site.p.counsellor_id))[0]
    await channel.service.write(
        site.p.org.id, 90, conversation.id, Author.COUNSELLOR, words, conversation.next_sequence
    )


async def conversation_form(site: Site) -> dict[str, str]:
    html = await (await site.client.get("/portal/de-linde/conversation")).text()
    return {"csrf_token": hidden(html, "csrf_token"), "after": hidden(html, "after")}


# -- counsellors -----------------------------------------------------------------------------------------------
async def test_a_chosen_counsellor_and_the_deputy_alone_can_read(services: Services) -> None:
    p = await practice(services)
    noor = await p.channel.add_counsellor(
        p.org.id, "Noor Bakker", "noor@vp.test", Secret("noor passphrase x")
    )
    chosen, _code = await p.channel.service.start(
        p.org.id, 90, Mode.ANONYMOUS, "Alleen voor Mira", counsellor_id=p.counsellor_id
    )
    anyone, _code = await p.channel.service.start(p.org.id, 90, Mode.ANONYMOUS, "Voor wie er is")
    async with services.engine.connect() as connection:
        holders = set(
            (
                await connection.execute(
                    text("SELECT counsellor_id FROM conversation_share WHERE conversation_id = :c"),
                    {"c": chosen.hex},
                )
            ).scalars()
        )
    assert {str(h).replace("-", "") for h in holders} == {p.counsellor_id.hex, p.deputy_id.hex}
    # Mira unlocking shares what she holds with colleagues who lack it — not the conversation addressed to her.
    mira = await p.channel.unlock(p.counsellor_id, Secret(PASSPHRASE))
    await p.channel.share_with_colleagues(mira)
    noor_holds = {c.id for c in await p.channel.store.inbox(noor)}
    assert chosen not in noor_holds
    assert anyone in noor_holds


async def test_the_landing_page_shows_the_counsellors_and_the_start_page_offers_the_choice(
    site: Site,
) -> None:
    await site.p.channel.add_counsellor(
        site.p.org.id, "Noor Bakker", "noor@vp.test", Secret("noor passphrase x"), CounsellorRole.PRIMARY
    )
    async with site.services.engine.begin() as connection:
        await connection.execute(
            text("UPDATE counsellor SET intro_nl = :i, photo_url = :u WHERE email = 'mira@vp.test'"),
            {"i": "Ik ben Mira en luister graag.", "u": "https://photos.example/mira.jpg"},
        )
    html = await (await site.client.get("/portal/de-linde")).text()
    assert "Mira Jansen" in html
    assert "Ik ben Mira en luister graag." in html
    assert "Daan de Vries" in html
    assert "Vervanger bij afwezigheid" in html
    assert "binnen 3 werkdagen" in html
    assert "photos.example" not in html  # never a request to elsewhere from the employee's browser
    start_page = await (await site.client.get("/portal/de-linde/start")).text()
    assert start_page.count('name="counsellor"') == 3  # either, Mira, Noor — the deputy reads along anyway


# -- the receipt code ------------------------------------------------------------------------------------------
async def test_a_mistyped_code_comes_back_into_the_field(site: Site) -> None:
    code = await start(site, "Hallo")
    site.client.session.cookie_jar.clear()
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    fields = await form_fields(site.client, "/portal/de-linde/return")
    wrong = await site.client.post("/portal/de-linde/return", data={**fields, "code": typo})
    assert wrong.status == 400
    assert f'value="{typo}"' in await wrong.text()
    again = await site.client.get(wrong.url.path_qs)  # a reload: the typed code is not kept any longer
    assert typo not in await again.text()
    fields = await form_fields(site.client, "/portal/de-linde/return")
    spaced = code.replace("-", " ").lower()
    right = await site.client.post("/portal/de-linde/return", data={**fields, "code": spaced})
    assert right.status == 200
    assert "Hallo" in await right.text()


# -- files -----------------------------------------------------------------------------------------------------
def test_files_are_recognised_by_their_bytes_and_cleaned() -> None:
    photo = clean(jpeg_with_position(), 5_000_000)
    assert photo.media_type == "image/jpeg"
    assert CANARY.encode() not in photo.data
    assert dict(Image.open(io.BytesIO(photo.data)).getexif()) == {}
    pdf = clean(pdf_with_author(), 5_000_000)
    assert pdf.media_type == "application/pdf"
    assert CANARY.encode() not in pdf.data
    assert len(PdfReader(io.BytesIO(pdf.data)).pages) == 1
    for data, problem in (
        (b"<html><script>alert(1)</script>", FileProblem.KIND),  # whatever its name says
        (b"%PDF-1.7 nothing else", FileProblem.DAMAGED),
        (b"", FileProblem.EMPTY),
        (b"%PDF-" + bytes(100), FileProblem.TOO_LARGE),
    ):
        with pytest.raises(FileRefusedError) as refused:
            clean(data, 50)
        assert refused.value.problem is (FileProblem.TOO_LARGE if len(data) > 50 else problem)


async def test_files_go_both_ways_sealed_and_without_metadata(site: Site) -> None:
    await start(site, "Ik stuur een foto")
    form = aiohttp.FormData({**(await conversation_form(site))})
    form.add_field(
        "file", jpeg_with_position(), filename="IMG_2041-thuis.pdf", content_type="application/pdf"
    )
    sent = await site.client.post("/portal/de-linde/file", data=form)
    assert sent.status == 200
    html = await sent.text()
    assert "zonder verborgen gegevens" in html
    link = re.search(r'href="(/portal/de-linde/file/\d+)"', html)
    assert link
    download = await site.client.get(link.group(1))
    assert download.headers["Content-Type"] == "image/jpeg"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="IMG_2041-thuis.jpg"')
    assert "sandbox" in download.headers["Content-Security-Policy"]
    body = await download.read()
    assert CANARY.encode() not in body
    assert Image.open(io.BytesIO(body)).size == (64, 48)
    async with site.services.engine.connect() as connection:
        blobs = (
            (await connection.execute(text("SELECT ciphertext FROM conversation_message"))).scalars().all()
        )
    assert len(blobs) == 2
    assert all(CANARY.encode() not in b and b"\xff\xd8\xff" not in b for b in blobs)

    refused = aiohttp.FormData({**(await conversation_form(site))})
    refused.add_field("file", b"MZ\x90\x00 not a picture", filename="photo.jpg", content_type="image/jpeg")
    answer = await site.client.post("/portal/de-linde/file", data=refused)
    assert answer.status == 400
    assert "geen PDF, PNG of JPEG" in await answer.text()


# -- the reply notice ------------------------------------------------------------------------------------------
async def test_the_reply_notice_says_only_that_there_is_a_reply(
    site: Site,
    smtp_sink: SmtpSink,  # noqa: F811
    push_service: PushServiceDouble,  # noqa: F811
) -> None:
    code = await start(site, f"{CANARY}-bericht Mijn leidinggevende")
    page = await (await site.client.get("/portal/de-linde/notice")).text()
    assert "privé" in page
    assert "werkgever" in page
    saved = await site.client.post(
        "/portal/de-linde/notice",
        data={"csrf_token": hidden(page, "csrf_token"), "action": "email", "email": "sam.thuis@example.net"},
    )
    assert "Je krijgt voortaan een bericht" in await saved.text()
    pushed = await site.client.post(
        "/portal/de-linde/notice/push",
        data=json.dumps(push_service.subscription()),
        headers={"X-CSRF-Token": hidden(page, "csrf_token"), "Content-Type": "application/json"},
    )
    assert pushed.status == 204
    svc, clock = site.services, site.services.clock
    assert isinstance(clock, FixedClock)
    rng = random.Random(7)

    async def tick() -> int:
        async with aiohttp.ClientSession() as http:
            return await send_due_notices(
                svc.engine, svc.settings, clock, rng, svc.content.translator, http, master_key(svc.settings)
            )

    assert await tick() == 0  # no reply yet
    await reply(site, f"{CANARY}-antwoord Dank je")
    assert await tick() == 0  # armed at a random moment 10–20 minutes on
    clock.advance(timedelta(minutes=9))
    assert await tick() == 0
    clock.advance(timedelta(minutes=12))
    assert await tick() == 1
    assert await tick() == 0  # once per reply
    assert [r.rcpt_tos for r in smtp_sink.received] == [["sam.thuis@example.net"]]
    assert len(push_service.received) == 1
    assert push_service.decrypt(push_service.received[0]) == b'{"v":1}'
    mail = smtp_sink.all_bytes()
    assert b"Er is een antwoord voor je" in mail
    for secret in (
        CANARY,
        "Zorggroep",
        "de-linde",
        "Linde",
        "Mira",
        "Daan",
        code,
        code.replace("-", ""),
        "http",
    ):
        assert secret.encode() not in mail, secret
        assert secret.encode() not in push_service.received[0].body
    # Signed with the key the browser subscribed with (the page's applicationServerKey), for this push service.
    vapid = re.fullmatch(r"vapid t=([^,]+), ?k=(\S+)", push_service.received[0].headers["Authorization"])
    assert vapid
    assert vapid.group(2) == re.search(r'data-key="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    public = base64.urlsafe_b64decode(vapid.group(2) + "==")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    claims = jwt.decode(
        vapid.group(1), key, algorithms=["ES256"], audience=push_service.url, options={"verify_exp": False}
    )
    assert claims["sub"] == "mailto:vipbot@practice.test"
    assert claims["exp"] <= clock.now().timestamp() + 24 * 3600  # on the injected clock, as RFC 8292 allows
    # Read before the delay is over: no notice for that reply.
    await reply(site, "Nog iets")
    assert await tick() == 0
    await site.client.get("/portal/de-linde/conversation")
    clock.advance(timedelta(minutes=30))
    assert await tick() == 0
    # Erasing the conversation erases the address with it.
    notices = SqlNotices(svc.sessions, master_key(svc.settings))
    conversation = (await site.p.channel.store.inbox(site.p.counsellor_id))[0]
    assert (await notices.choice(conversation.id)).email == "sam.thuis@example.net"
    await site.p.channel.service.delete(site.p.org.id, conversation.id)
    assert await notices.choice(conversation.id) == NoticeChoice()
    async with svc.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM conversation_notice"))).scalar_one() == 0


def test_push_goes_only_to_the_allowed_push_services() -> None:
    hosts = ("fcm.googleapis.com", "127.0.0.1")
    assert push_endpoint_allowed("https://fcm.googleapis.com/fcm/send/abc", hosts)
    assert push_endpoint_allowed("http://127.0.0.1:4567/push/x", hosts)
    assert not push_endpoint_allowed("http://fcm.googleapis.com/fcm/send/abc", hosts)  # not HTTPS
    assert not push_endpoint_allowed("https://fcm.googleapis.com.evil.test/x", hosts)
    assert not push_endpoint_allowed("https://intranet.corp/x", hosts)
    assert not push_endpoint_allowed("http://10.0.0.1/x", ("10.0.0.1",))


# -- a call, and taking it along -------------------------------------------------------------------------------
async def test_a_call_is_booked_and_the_conversation_taken_along(site: Site) -> None:
    await start(site, f"{CANARY}-start Kunnen we bellen?")
    channel = site.p.channel
    conversation = (await channel.store.inbox(site.p.counsellor_id))[0]
    soon = site.services.clock.now() + timedelta(days=2)
    later = soon + timedelta(days=1)
    await channel.service.offer_slots(site.p.org.id, 90, conversation.id, [soon, later], 45, "Ik bel je.", 1)
    html = await (await site.client.get("/portal/de-linde/conversation")).text()
    slots = re.findall(r'name="slot" value="([^"]+)"', html)
    assert len(slots) == 2
    form = await conversation_form(site)
    booked = await site.client.post("/portal/de-linde/call", data={**form, "slot": slots[1]})
    assert "Je hebt een tijd gekozen" in await booked.text()
    ics = await site.client.get("/portal/de-linde/call.ics")
    assert ics.headers["Content-Type"].startswith("text/calendar")
    raw = await ics.read()
    event = next(iter(Calendar.from_ical(raw).walk("VEVENT")))
    assert event.decoded("dtstart") == later
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=45)
    for secret in (b"Zorggroep", b"de-linde", b"Mira", b"Daan", b"vp.test", b"http", CANARY.encode()):
        assert secret not in raw
    # Booking the same offer again is refused (it is not open any more).
    again = await site.client.post(
        "/portal/de-linde/call", data={**(await conversation_form(site)), "slot": slots[0]}
    )
    assert again.status == 400

    files = aiohttp.FormData({**(await conversation_form(site))})
    files.add_field("file", pdf_with_author(), filename="brief van HR.pdf", content_type="application/pdf")
    assert (await site.client.post("/portal/de-linde/file", data=files)).status == 200
    archive = await site.client.get("/portal/de-linde/export")
    assert archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await archive.read())) as opened:
        names = opened.namelist()
        transcript = opened.read("transcript.txt").decode()
        page = opened.read("transcript.html").decode()
        pdf = opened.read(next(n for n in names if n.endswith(".pdf")))
    assert {"transcript.html", "transcript.txt"} <= set(names)
    assert f"{CANARY}-start Kunnen we bellen?" in transcript
    assert "Ik bel je." in transcript
    assert "Gekozen tijd" in transcript
    assert conversation.started_on.isoformat() in transcript
    assert "<script" not in page
    assert "Zorggroep" not in transcript
    assert pdf.startswith(b"%PDF-")
    assert CANARY.encode() not in pdf
