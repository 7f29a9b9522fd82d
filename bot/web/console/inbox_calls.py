"""The counsellor's side of files and calls in a conversation: `/console/o/{org}/inbox/{conversation}/…`.

Kept beside the inbox (`bot.web.console.inbox`), whose unlocking and access checks it uses: download and send a
file (cleaned and sealed like the employee's), offer times for a call, and the booked call as a calendar file.
Shown on the conversation page by the partial template `_inbox_calls.html`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.domain.conversations import (
    Attachment,
    Author,
    ConversationClosedError,
    InvalidSlotError,
    InvalidTextError,
    StaleWriteError,
    Thread,
)
from bot.media.clean import FileRefusedError, clean
from bot.settings import Settings
from bot.web.console.auth import CONSOLE
from bot.web.console.inbox_access import again, conversation_url, inbox_of, open_conversation
from bot.web.portal.drafts import Draft
from bot.web.portal.take_along import calendar_response, call_calendar, file_response
from bot.web.shared.templates import translate

MAX_OFFERED = 4


def register(console: web.Application) -> None:
    router = console.router
    router.add_get("/o/{org}/inbox/{conversation}/file/{sequence}", download, name="inbox_file")
    router.add_post("/o/{org}/inbox/{conversation}/file", upload, name="inbox_upload")
    router.add_post("/o/{org}/inbox/{conversation}/slots", offer, name="inbox_slots")
    router.add_get("/o/{org}/inbox/{conversation}/call.ics", call_ics, name="inbox_call_ics")


async def _thread(request: web.Request) -> tuple[Thread, str]:
    _account, org, key, conversation_id = await open_conversation(request)
    service = inbox_of(request).channel.service
    conversation_key = await service.counsellor_key(key, conversation_id)
    thread = await service.read(org.id, conversation_id, conversation_key, Author.COUNSELLOR)
    return thread, conversation_url(request, org, conversation_id)


async def download(request: web.Request) -> web.StreamResponse:
    thread, _here = await _thread(request)
    try:
        attachment = thread.attachment(int(request.match_info["sequence"]))
    except ValueError:
        attachment = None
    if attachment is None:
        raise web.HTTPNotFound()
    return file_response(attachment)


async def upload(request: web.Request) -> web.StreamResponse:
    _account, org, _key, conversation_id = await open_conversation(request)
    here = conversation_url(request, org, conversation_id)
    form = await request.post()
    field = form.get("file")
    if not isinstance(field, web.FileField):
        raise again(request, here, Draft("portal.files.error.empty", 400))
    channel = inbox_of(request).channel
    max_bytes = _settings(request).portal_file_mb * 1024 * 1024
    try:
        cleaned = await asyncio.to_thread(clean, field.file.read(max_bytes + 1), max_bytes)
        await channel.service.send_file(
            org.id,
            org.retention_days,
            conversation_id,
            Author.COUNSELLOR,
            Attachment(field.filename or "file", cleaned.media_type, cleaned.data),
            int(str(form.get("after", "-1"))),
        )
    except FileRefusedError as refused:
        raise again(request, here, Draft(f"portal.files.error.{refused.problem.value}", 400)) from None
    except (StaleWriteError, ValueError):
        raise again(request, here, Draft("portal.inbox.stale", 409)) from None
    except InvalidTextError:
        raise again(request, here, Draft("portal.files.error.empty", 400)) from None
    except ConversationClosedError:
        raise again(request, here, Draft("portal.error.closed", 409)) from None
    raise web.HTTPSeeOther(here)


def _settings(request: web.Request) -> Settings:
    return request.config_dict[CONSOLE].services.settings


async def offer(request: web.Request) -> web.StreamResponse:
    """Times for a call, typed in the organisation's time zone (up to four, `datetime-local` fields)."""
    _account, org, _key, conversation_id = await open_conversation(request)
    here = conversation_url(request, org, conversation_id)
    form = await request.post()
    zone = ZoneInfo(org.timezone)
    try:
        slots = [
            datetime.fromisoformat(value).replace(tzinfo=zone)
            for i in range(MAX_OFFERED)
            if isinstance(value := form.get(f"slot{i}"), str) and value
        ]
        minutes = int(str(form.get("minutes", "30")))
        note = form.get("note")
        await inbox_of(request).channel.service.offer_slots(
            org.id,
            org.retention_days,
            conversation_id,
            slots,
            minutes,
            note if isinstance(note, str) else "",
            int(str(form.get("after", "-1"))),
        )
    except (InvalidSlotError, ValueError):
        raise again(request, here, Draft("portal.console.slots_error", 400)) from None
    except StaleWriteError:
        raise again(request, here, Draft("portal.inbox.stale", 409)) from None
    except ConversationClosedError:
        raise again(request, here, Draft("portal.error.closed", 409)) from None
    raise web.HTTPSeeOther(here)


async def call_ics(request: web.Request) -> web.StreamResponse:
    thread, _here = await _thread(request)
    booking = thread.booking
    if booking is None or not booking.slots:
        raise web.HTTPNotFound()
    t = translate(request)
    summary = t("portal.console.ics_summary", day=thread.summary.started_on.isoformat())
    return calendar_response(call_calendar(thread.summary.id, booking, summary))
