"""Sign-in, second factor, first-time authenticator set-up, invitations and sign-out."""

from __future__ import annotations

import base64
import io
from uuid import UUID

import segno
from aiohttp import web

from bot.domain.accounts import Account, SessionStage, is_locked, password_problem
from bot.errors import ConflictError, NotFoundError
from bot.logs import get_logger
from bot.security import DecryptionError, Secret
from bot.storage.console_policy import SqlConsolePolicy
from bot.storage.login_throttle import SqlLoginThrottle
from bot.usecases.audit import AuditAction
from bot.web.console.auth import (
    PENDING_ACCOUNT,
    SESSION_STAGE,
    base32,
    begin_session,
    console_of,
    current_account,
    end_session,
    new_totp_for_enrolment,
    provisioning_uri,
)
from bot.web.console.throttle import remember_device, throttle_keys
from bot.web.portal.drafts import Draft
from bot.web.shared.templates import render
from bot.web.shared.urls import url_for

log = get_logger(__name__)
MAX_FIELD = 500


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip()[:MAX_FIELD] if isinstance(value, str) else ""


def _raw(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _after_sign_in(request: web.Request, account: Account) -> str:
    return url_for(request, "home")


async def login_form(request: web.Request) -> web.StreamResponse:
    if current_account(request) is not None:
        return see_other(url_for(request, "home"))
    draft = console_of(request).drafts.take(request.query.get("d"))
    if draft is not None:
        return render(
            request, "login.html", status=draft.status, error=draft.error, email=draft.fields["email"]
        )
    # A fresh install: the page says how to create the first administrator instead of leaving people guessing.
    first_run = await console_of(request).accounts.count_accounts() == 0
    return render(request, "login.html", error=None, email="", first_run=first_run)


def _refused(request: web.Request, email: str) -> web.StreamResponse:
    """A refused sign-in, as a redirect to the sign-in page: a page answering the POST would leave the password
    in the browser's session-restore files (see `bot.web.portal.drafts`)."""
    token = console_of(request).drafts.keep(Draft("console.login.failed", 401, {"email": email}))
    return see_other(url_for(request, "login") + "?d=" + token)


async def login_submit(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await request.post()
    email, password = _field(form, "email"), _raw(form, "password")
    credentials = await console.accounts.credentials(email) if email else None
    now = console.now()
    # Counted before any password is checked, in one statement: a burst of parallel guesses gets no further.
    keys = throttle_keys(request, email, credentials.account.id if credentials else None)
    throttle = SqlLoginThrottle(console.services.engine)
    for key, policy in keys:
        if not await throttle.admit(key, now, policy):
            return _refused(request, email)
    if credentials is None or credentials.account.disabled:
        await console.verify(None, password or "x")
        return _refused(request, email)
    if is_locked(credentials.locked_until, now):
        await console.verify(None, password or "x")  # the same work as any refusal: lockout reveals nothing
        return _refused(request, email)
    if not password or not await console.verify(credentials.password_hash, password):
        return _refused(request, email)
    account = credentials.account
    await throttle.forget(*(key for key, _policy in keys))
    if console.needs_rehash(credentials.password_hash):
        await console.accounts.set_password_hash(account.id, await console.hash(password))
    response = await _after_password(request, account, credentials.totp_secret)
    remember_device(request, response, account.id)
    return response


async def needs_second_factor(request: web.Request, account: Account) -> bool:
    """Admins and counsellors always; a management viewer who set one up, or whose organisation requires it."""
    if account.role.needs_totp or account.totp_enabled:
        return True
    organisation_id = account.viewer_organisation
    if organisation_id is None:
        return False
    return await SqlConsolePolicy(console_of(request).services.engine).requires_totp(organisation_id)


async def _after_password(request: web.Request, account: Account, sealed: bytes | None) -> web.StreamResponse:
    if await needs_second_factor(request, account):
        if account.totp_enabled and _readable_totp(request, account.id, sealed):
            await begin_session(request, account, SessionStage.TOTP)
            return see_other(url_for(request, "login_code"))
        return await _enrol_anew(request, account)
    await console_of(request).accounts.record_success(account.id)
    await begin_session(request, account, SessionStage.FULL)
    return see_other(_after_sign_in(request, account))


def _readable_totp(request: web.Request, account_id: UUID, sealed: bytes | None) -> bool:
    """Whether the stored authenticator secret still opens: after `VIPBOT_SECRET_KEY` changed it does not."""
    if sealed is None:
        return False
    try:
        console_of(request).open_totp(account_id, sealed)
    except DecryptionError:
        return False
    return True


async def _enrol_anew(request: web.Request, account: Account) -> web.StreamResponse:
    """No usable authenticator (none yet, or sealed under a former secret key): set one up after the password."""
    console = console_of(request)
    if account.totp_enabled:
        log.warning("console sign-in: an authenticator secret no longer opens; the account enrols again")
        await console.accounts.reset_second_factor(account.id)
    await begin_session(request, account, SessionStage.ENROL)
    return see_other(url_for(request, "setup_totp"))


def _pending(request: web.Request, stage: SessionStage) -> Account:
    if PENDING_ACCOUNT not in request or request.get(SESSION_STAGE) is not stage:
        raise web.HTTPSeeOther(url_for(request, "login"))
    return request[PENDING_ACCOUNT]


async def code_form(request: web.Request) -> web.StreamResponse:
    _pending(request, SessionStage.TOTP)
    return render(request, "login_code.html", error=None)


async def code_submit(request: web.Request) -> web.StreamResponse:
    account = _pending(request, SessionStage.TOTP)
    console = console_of(request)
    form = await request.post()
    credentials = await console.accounts.credentials_by_id(account.id)
    now = console.now()
    if credentials is None or credentials.totp_secret is None or is_locked(credentials.locked_until, now):
        await end_session(request)
        return see_other(url_for(request, "login"))
    if not _readable_totp(request, account.id, credentials.totp_secret):
        return await _enrol_anew(request, account)
    step = console.match_totp(account.id, credentials.totp_secret, _field(form, "code"))
    if step is None or not await console.accounts.claim_totp_step(account.id, step):
        until = await console.accounts.record_failure(account.id, now)
        if is_locked(until, now):
            await end_session(request)
            return see_other(url_for(request, "login"))
        return render(request, "login_code.html", status=401, error="console.login.code_failed")
    await begin_session(request, account, SessionStage.FULL)
    return see_other(_after_sign_in(request, account))


def _qr_data_uri(uri: Secret[str]) -> str:
    buffer = io.BytesIO()
    segno.make(uri.reveal(), error="m").save(buffer, kind="png", scale=6, border=2)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _enrolment_page(
    request: web.Request, account: Account, secret: Secret[bytes], error: str | None, status: int = 200
) -> web.Response:
    console = console_of(request)
    sealed = console.totp_box().encrypt(secret.reveal(), associated=b"enrol" + account.id.bytes)
    return render(
        request,
        "setup_totp.html",
        status=status,
        error=error,
        qr=_qr_data_uri(provisioning_uri(secret, account.email)),
        secret_text=base32(secret),
        sealed=base64.urlsafe_b64encode(sealed).decode("ascii"),
    )


async def setup_totp_form(request: web.Request) -> web.StreamResponse:
    account = _pending(request, SessionStage.ENROL)
    return _enrolment_page(request, account, new_totp_for_enrolment(), None)


async def setup_totp_submit(request: web.Request) -> web.StreamResponse:
    account = _pending(request, SessionStage.ENROL)
    console = console_of(request)
    form = await request.post()
    try:
        sealed = base64.urlsafe_b64decode(_field(form, "sealed").encode("ascii"))
        secret = Secret(console.totp_box().decrypt(sealed, associated=b"enrol" + account.id.bytes))
    except (ValueError, DecryptionError):
        return _enrolment_page(request, account, new_totp_for_enrolment(), "console.totp.failed", 400)
    from bot.security import match_totp

    step = match_totp(secret, _field(form, "code"), console.now().timestamp())
    if step is None:
        return _enrolment_page(request, account, secret, "console.totp.failed", 400)
    await console.accounts.set_totp(account.id, console.seal_totp(account.id, secret), step)
    await begin_session(request, account, SessionStage.FULL)
    return see_other(_after_sign_in(request, account))


async def logout(request: web.Request) -> web.StreamResponse:
    from bot.web.console.inbox import lock_on_sign_out
    from bot.web.shared.csrf import rotate_csrf

    account = current_account(request)
    await end_session(request)
    rotate_csrf(request)
    if account is not None:
        await console_of(request).services.audit.record(account.id, AuditAction.SIGNED_OUT)
    response = see_other(url_for(request, "login"))
    await lock_on_sign_out(request, response)  # signing out of the console locks the inbox
    return response


async def invitation_form(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    invitation = await console.accounts.invitation(request.match_info["token"])
    if invitation is None or not invitation.usable(console.now()):
        return render(request, "invitation.html", status=404, invitation=None, error=None, name="")
    return render(request, "invitation.html", invitation=invitation, error=None, name="")


async def invitation_submit(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    token = request.match_info["token"]
    invitation = await console.accounts.invitation(token)
    now = console.now()
    if invitation is None or not invitation.usable(now):
        return render(request, "invitation.html", status=404, invitation=None, error=None, name="")
    form = await request.post()
    name = _field(form, "display_name")[:200]
    password, repeated = _raw(form, "password"), _raw(form, "password_repeat")
    problem = "console.invitation.name_missing" if not name else None
    problem = problem or password_problem(password, repeated, invitation.email)
    if problem:
        return render(request, "invitation.html", status=400, invitation=invitation, error=problem, name=name)
    from bot.web.shared.templates import request_locale

    try:
        account = await console.accounts.accept_invitation(
            token, name, await console.hash(password), now, locale=request_locale(request)
        )
    except (NotFoundError, ConflictError):
        return render(request, "invitation.html", status=404, invitation=None, error=None, name="")
    if await needs_second_factor(request, account):
        await begin_session(request, account, SessionStage.ENROL)
        return see_other(url_for(request, "setup_totp"))
    await begin_session(request, account, SessionStage.FULL)
    return see_other(_after_sign_in(request, account))


async def offer_totp_form(request: web.Request) -> web.StreamResponse:
    """A management viewer may add a second factor of their own accord."""
    account = current_account(request)
    if account is None:
        return see_other(url_for(request, "login"))
    return render(request, "offer_totp.html", account=account, enabled=account.totp_enabled)


async def offer_totp_submit(request: web.Request) -> web.StreamResponse:
    account = current_account(request)
    if account is None:
        raise web.HTTPForbidden()
    if account.totp_enabled:
        return see_other(url_for(request, "offer_totp"))
    await begin_session(request, account, SessionStage.ENROL)
    return see_other(url_for(request, "setup_totp"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/account/authenticator", offer_totp_form, name="offer_totp")
    app.router.add_post("/account/authenticator", offer_totp_submit)
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_get("/login/code", code_form, name="login_code")
    app.router.add_post("/login/code", code_submit)
    app.router.add_get("/login/authenticator", setup_totp_form, name="setup_totp")
    app.router.add_post("/login/authenticator", setup_totp_submit)
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/invitation/{token}", invitation_form, name="invitation")
    app.router.add_post("/invitation/{token}", invitation_submit)
