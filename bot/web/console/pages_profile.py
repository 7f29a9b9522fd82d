"""The counsellor's own page, `/console/me`: becoming the counsellor (an administrator who is also one), the key
(created and rotated here, with the passphrase typed in this browser and never on the server's terminal), the
photo and the introduction that Slack Home and the Teams welcome card show.

Forms that carry a passphrase are answered with a redirect to the GET page whatever the outcome, so the
browser's session-restore files keep no passphrase (see `bot.web.portal.drafts`).
"""

from __future__ import annotations

import functools
from uuid import UUID

from aiohttp import web
from multidict import MultiDictProxy

from bot.domain.accounts import Account, Role
from bot.domain.practice import CounsellorProfile
from bot.errors import ConflictError, NotFoundError
from bot.security.secret import Secret
from bot.storage.practice import SqlPracticeStore
from bot.usecases import counsellors, profile
from bot.usecases.audit import AuditAction
from bot.web.console.auth import Console, Handler, console_of, current_account, forget_sessions, require
from bot.web.console.cache import Expiring
from bot.web.console.pages_auth import see_other
from bot.web.portal.channel import ConfidentialChannel
from bot.web.portal.drafts import Draft
from bot.web.shared.templates import render
from bot.web.shared.urls import url_for

PAGE = "profile"
#: The profile is remembered this long: every change made on this page forgets it at once; a change made
#: elsewhere (`vipbot counsellor …`) shows within this time.
PROFILE_TTL = 5.0


async def counsellor_profile(console: Console, counsellor_id: UUID) -> CounsellorProfile:
    store = SqlPracticeStore(console.services.sessions)
    return await _profiles(console).get_or_compute(counsellor_id, lambda: store.profile(counsellor_id))


def _profiles(console: Console) -> Expiring[CounsellorProfile]:
    """Never answered past the ttl: a change made elsewhere shows within PROFILE_TTL."""
    return console.expiring("counsellor_profiles", PROFILE_TTL, stale_factor=1.0)


def changes_profile(handler: Handler) -> Handler:
    """For the page's forms: whatever the outcome, the signed-in counsellor's remembered profile is forgotten.
    (An account that only now becomes a counsellor has none remembered.)"""

    @functools.wraps(handler)
    async def changing(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            account = current_account(request)
            if account is not None and account.counsellor_id is not None:
                _profiles(console_of(request)).pop(account.counsellor_id)

    return changing


def _store(request: web.Request) -> SqlPracticeStore:
    return SqlPracticeStore(console_of(request).services.sessions)


def _channel(request: web.Request) -> ConfidentialChannel:
    services = console_of(request).services
    return ConfidentialChannel(services.engine, services.settings, services.clock)


async def _person(request: web.Request) -> Account:
    """Administrators and counsellors; management viewers have no profile here."""
    return await require(request, Role.COUNSELLOR)


def _again(request: web.Request, error: str, status: int = 400) -> web.HTTPSeeOther:
    token = console_of(request).drafts.keep(Draft(error, status))
    return web.HTTPSeeOther(f"{url_for(request, 'profile')}?d={token}")


async def _audit(request: web.Request, account: Account, action: AuditAction, subject: str) -> None:
    await console_of(request).services.audit.record(account.id, action, subject=subject)


def _text(form: MultiDictProxy[str | bytes | bytearray | web.FileField], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def profile_page(request: web.Request) -> web.StreamResponse:
    account = await _person(request)
    draft = console_of(request).drafts.take(request.query.get("d"))
    counsellor = None
    if account.counsellor_id is not None:
        counsellor = await counsellor_profile(console_of(request), account.counsellor_id)
    return render(
        request,
        "profile.html",
        status=draft.status if draft else 200,
        account=account,
        page=PAGE,
        counsellor=counsellor,
        error=draft.error if draft else None,
        done=request.query.get("done"),
        max_photo_mb=profile.MAX_UPLOAD_BYTES // 1_000_000 or 1,
        max_intro=profile.MAX_INTRO,
    )


async def become_counsellor(request: web.Request) -> web.StreamResponse:
    account = await _person(request)
    try:
        await console_of(request).accounts.become_counsellor(account.id)
    except (ConflictError, NotFoundError):
        raise _again(request, "console.profile.problem.not_counsellor", 403) from None
    forget_sessions(request)  # the account now carries its counsellor id
    await _audit(request, account, AuditAction.PROFILE_CHANGED, "counsellor")
    return see_other(url_for(request, "profile") + "?done=counsellor")


async def create_key(request: web.Request) -> web.StreamResponse:
    account = await _person(request)
    form = await request.post()
    try:
        passphrase = counsellors.check_passphrase(
            _text(form, "passphrase"), _text(form, "repeat"), account.email
        )
        await counsellors.create_key(_channel(request), account, passphrase)
    except counsellors.CounsellorKeyError as exc:
        raise _again(request, f"console.keys.problem.{exc.code.value}") from None
    await _audit(request, account, AuditAction.KEY_CREATED, "key")
    raise web.HTTPSeeOther(url_for(request, "profile") + "?done=key")


async def rotate_key(request: web.Request) -> web.StreamResponse:
    account = await _person(request)
    form = await request.post()
    current = _text(form, "current")
    try:
        new = counsellors.check_passphrase(_text(form, "passphrase"), _text(form, "repeat"), account.email)
        if len(current) > counsellors.MAX_PASSPHRASE:
            raise counsellors.CounsellorKeyError(counsellors.KeyProblem.WRONG_PASSPHRASE)
        await counsellors.rotate_key(_channel(request), account.counsellor_id, Secret(current), new)
    except counsellors.CounsellorKeyError as exc:
        raise _again(request, f"console.keys.problem.{exc.code.value}") from None
    await _audit(request, account, AuditAction.KEY_ROTATED, "key")
    raise web.HTTPSeeOther(url_for(request, "profile") + "?done=rotated")


async def upload_photo(request: web.Request) -> web.StreamResponse:
    account = await _person(request)
    if account.counsellor_id is None:
        raise _again(request, "console.profile.problem.not_counsellor", 403)
    form = await request.post()
    upload = form.get("photo")
    if not isinstance(upload, web.FileField):
        raise _again(request, "console.profile.problem.photo_type")
    data = upload.file.read(profile.MAX_UPLOAD_BYTES + 1)
    try:
        await profile.set_photo(
            _store(request),
            console_of(request).services.settings.public_base_url,
            account.counsellor_id,
            data,
        )
    except profile.ProfileError as exc:
        raise _again(request, f"console.profile.problem.{exc.code.value}") from None
    await _audit(request, account, AuditAction.PROFILE_CHANGED, "photo")
    return see_other(url_for(request, "profile") + "?done=photo")


async def remove_photo(request: web.Request) -> web.StreamResponse:
    account = await _person(request)
    if account.counsellor_id is not None:
        await _store(request).remove_photo(account.counsellor_id)
        await _audit(request, account, AuditAction.PROFILE_CHANGED, "photo")
    return see_other(url_for(request, "profile") + "?done=photo_removed")


async def save_introduction(request: web.Request) -> web.StreamResponse:
    account = await _person(request)
    if account.counsellor_id is None:
        raise _again(request, "console.profile.problem.not_counsellor", 403)
    form = await request.post()
    try:
        await profile.set_introduction(
            _store(request),
            account.counsellor_id,
            _text(form, "intro_nl").replace("\r\n", "\n"),
            _text(form, "intro_en").replace("\r\n", "\n"),
        )
    except profile.ProfileError as exc:
        raise _again(request, f"console.profile.problem.{exc.code.value}") from None
    await _audit(request, account, AuditAction.PROFILE_CHANGED, "introduction")
    return see_other(url_for(request, "profile") + "?done=intro")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/me", profile_page, name="profile")
    app.router.add_post("/me/counsellor", changes_profile(become_counsellor), name="profile_become")
    app.router.add_post("/me/key", changes_profile(create_key), name="key_create")
    app.router.add_post("/me/key/rotate", changes_profile(rotate_key), name="key_rotate")
    app.router.add_post("/me/photo", changes_profile(upload_photo), name="profile_photo")
    app.router.add_post("/me/photo/remove", changes_profile(remove_photo), name="profile_photo_remove")
    app.router.add_post("/me/introduction", changes_profile(save_introduction), name="profile_intro")
