"""How a request reaches the counsellor's inbox: its state, the unlock cookie, the opened conversation, and the
redirect that keeps what was typed. Shared by the inbox's pages (`inbox.py`) and its calls and files
(`inbox_calls.py`).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from aiohttp import web

from bot.domain.accounts import Account, Role
from bot.domain.conversations import ConversationNotFoundError
from bot.domain.tenancy import Organisation
from bot.security.conversation_keys import UnlockedCounsellorKey
from bot.security.secret import Secret
from bot.storage.tables_conversations import InboxUnlockRow
from bot.web.console.auth import organisation_for
from bot.web.portal.channel import ConfidentialChannel, InboxUnlock
from bot.web.portal.drafts import Draft, Drafts
from bot.web.portal.limits import RateLimiter
from bot.web.shared.urls import url_for


class Outcome(StrEnum):
    OPENED = "opened"
    WRONG = "wrong"
    NO_KEY = "no_key"


@dataclass
class Inbox:
    channel: ConfidentialChannel
    limiter: RateLimiter
    cookie: str
    secure: bool
    lifetime: timedelta
    drafts: Drafts = field(default_factory=Drafts)
    # Each Argon2id unlock takes 256 MiB for about a second: at most two at a time.
    unlocking: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    # Unlocks under way in this process, by their unlock id (the cookie holds it); taken by the waiting page.
    pending: dict[UUID, asyncio.Task[Outcome]] = field(default_factory=dict)


INBOX = web.AppKey("inbox", Inbox)


def inbox_of(request: web.Request) -> Inbox:
    return request.config_dict[INBOX]


def read_cookie(request: web.Request) -> InboxUnlock | None:
    """The browser's half of an unlocked inbox: the unlock id and the key its row is sealed under."""
    raw = request.cookies.get(inbox_of(request).cookie)
    if not raw:
        return None
    try:
        data = base64.urlsafe_b64decode(raw.encode("ascii"))
    except ValueError:
        return None
    if len(data) != 48:
        return None
    return InboxUnlock(UUID(bytes=data[:16]), Secret(data[16:]))


async def unlocked_key(request: web.Request, account: Account) -> UnlockedCounsellorKey | None:
    """The counsellor's key when this browser has their inbox open, else None."""
    if account.counsellor_id is None:
        return None
    cookie = read_cookie(request)
    if cookie is None:
        return None
    key = await inbox_of(request).channel.resume_inbox(cookie)
    if key is None or key.counsellor_id != account.counsellor_id:
        return None
    return key


async def key_from_row(
    request: web.Request, account: Account, row: InboxUnlockRow | None
) -> UnlockedCounsellorKey | None:
    """`unlocked_key` when the page's own query read the unlock row (one session for the page)."""
    cookie = read_cookie(request)
    if account.counsellor_id is None or cookie is None:
        return None
    key = await inbox_of(request).channel.resume_from(row, cookie)
    if key is None or key.counsellor_id != account.counsellor_id:
        return None
    return key


def conversation_url(request: web.Request, org: Organisation, conversation_id: UUID) -> str:
    return url_for(request, "inbox_conversation", org=org.slug, conversation=str(conversation_id))


def conversation_id_of(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["conversation"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def open_conversation(
    request: web.Request,
) -> tuple[Account, Organisation, UnlockedCounsellorKey, UUID]:
    """The signed-in counsellor, the organisation, their unlocked key and the conversation of the address; to
    the locked inbox when the key is not open, 404 when the conversation is not shared with them here."""
    account, org = await organisation_for(request, Role.COUNSELLOR)
    conversation_id = conversation_id_of(request)
    key = await unlocked_key(request, account)
    if key is None:
        raise web.HTTPSeeOther(f"{url_for(request, 'inbox', org=org.slug)}?next={conversation_id}")
    try:
        owner = await inbox_of(request).channel.store.holds_share(conversation_id, key.counsellor_id)
    except ConversationNotFoundError:
        raise web.HTTPNotFound() from None
    if owner != org.id:
        raise web.HTTPNotFound()
    return account, org, key, conversation_id


def again(request: web.Request, url: str, draft: Draft) -> web.HTTPSeeOther:
    """Back to `url` with what went wrong and what was typed kept server-side (never in the URL or a POST body
    the browser keeps)."""
    token = inbox_of(request).drafts.keep(draft)
    separator = "&" if "?" in url else "?"
    return web.HTTPSeeOther(f"{url}{separator}d={token}")
