"""What leaves the conversation as a file: a sent file, a calendar entry for a call, the whole conversation.

Shared by the portal (the employee) and the console (the counsellor). Nothing here carries the organisation's
name, a counsellor's address, a link or the receipt code: a calendar entry says "a conversation" at a time; the
conversation's download holds what the employee already sees, with days (no finer times) as stored.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_datetime
from icalendar import Calendar, Event

from bot.domain.conversations import Attachment, Author, Message, MessageKind, Thread
from bot.media.clean import EXTENSIONS

_UNSAFE = re.compile(r"[^\w .()-]+")


def safe_name(name: str, media_type: str) -> str:
    """A file name fit for a download: no path, no control characters, the extension of what it really is."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    stem = _UNSAFE.sub("_", base.rsplit(".", 1)[0] if "." in base else base).strip(" ._") or "file"
    return f"{stem[:80]}.{EXTENSIONS.get(media_type, 'bin')}"


def file_response(attachment: Attachment) -> web.Response:
    """A download, never shown inline: the browser runs nothing from it and fetches nothing for it."""
    name = safe_name(attachment.name, attachment.media_type)
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "_")
    response = web.Response(body=attachment.data, content_type=attachment.media_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def when(moment: datetime, timezone: str, locale: str) -> str:
    """A call time as the reader reads it, in the organisation's time zone."""
    return format_datetime(moment.astimezone(ZoneInfo(timezone)), "EEEE d MMMM y, HH:mm", locale=locale)


def call_calendar(conversation_id: UUID, booking: Message, summary: str) -> bytes:
    """One VEVENT for the booked call: a time and a neutral title, nothing else."""
    start = booking.slots[0]
    calendar = Calendar()
    calendar.add("prodid", "-//vipbot//call//EN")
    calendar.add("version", "2.0")
    event = Event()
    # Stable per conversation and time (importing twice updates one entry), and says nothing about either.
    uid = hashlib.sha256(conversation_id.bytes + start.isoformat().encode()).hexdigest()[:32]
    event.add("uid", f"{uid}@call.invalid")
    event.add("dtstamp", start)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=booking.minutes or 30))
    event.add("summary", summary)
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def calendar_response(data: bytes) -> web.Response:
    response = web.Response(body=data, content_type="text/calendar", charset="utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="call.ics"'
    return response


def conversation_archive(
    thread: Thread, t: Callable[..., str], timezone: str, locale: str, downloaded_on: str
) -> bytes:
    """The whole conversation as one zip: a readable transcript (HTML and text) and every file."""
    lines: list[str] = [t("portal.export.title"), t("portal.export.downloaded", day=downloaded_on), ""]
    items: list[str] = []
    files: list[tuple[str, Message, Attachment]] = []
    for message in thread.messages:
        who = _who(message, t)
        day = message.day.isoformat()
        body = _body(message, t, timezone, locale)
        if message.attachment is not None:
            path = f"files/{message.sequence:03d}-{safe_name(message.attachment.name, message.attachment.media_type)}"
            files.append((path, message, message.attachment))
            body = t("portal.export.file", path=path)
            items.append(
                f'<li><p class="meta">{html.escape(who)} · {day}</p>'
                f'<p><a href="{html.escape(path)}">{html.escape(body)}</a></p></li>'
            )
        else:
            items.append(
                f'<li><p class="meta">{html.escape(who)} · {day}</p><p style="white-space:pre-wrap">'
                f"{html.escape(body)}</p></li>"
            )
        lines += [f"{who} · {day}", body, ""]
    page = (
        f'<!doctype html><html lang="{html.escape(locale)}"><meta charset="utf-8">'
        f"<title>{html.escape(t('portal.export.title'))}</title>"
        f"<h1>{html.escape(t('portal.export.title'))}</h1>"
        f"<p>{html.escape(t('portal.export.downloaded', day=downloaded_on))}</p>"
        f"<ol>{''.join(items)}</ol></html>\n"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        stamp = _zip_time(thread.summary.last_activity_on.isoformat())
        archive.writestr(zipfile.ZipInfo("transcript.html", stamp), page)
        archive.writestr(zipfile.ZipInfo("transcript.txt", stamp), "\n".join(lines) + "\n")
        for path, message, attachment in files:
            archive.writestr(
                zipfile.ZipInfo(path, _zip_time(message.day.isoformat())),
                attachment.data,
                compress_type=zipfile.ZIP_STORED,
            )
    return out.getvalue()


def _zip_time(day: str) -> tuple[int, int, int, int, int, int]:
    year, month, date_ = (int(part) for part in day.split("-"))
    return (max(year, 1980), month, date_, 0, 0, 0)


def _who(message: Message, t: Callable[..., str]) -> str:
    if message.kind is MessageKind.IDENTITY:
        return t("portal.conversation.identity")
    if message.author is Author.COUNSELLOR:
        return t("portal.conversation.from_counsellor")
    return t("portal.conversation.from_you")


def _body(message: Message, t: Callable[..., str], timezone: str, locale: str) -> str:
    if message.kind is MessageKind.SLOTS:
        times = "; ".join(when(s, timezone, locale) for s in message.slots)
        return "\n".join(filter(None, [t("portal.call.offered", times=times), message.text]))
    if message.kind is MessageKind.BOOKING and message.slots:
        return t("portal.call.picked", time=when(message.slots[0], timezone, locale))
    return message.text
