"""Sign-in, second factor, first-time authenticator set-up, invitations and sign-out."""

from __future__ import annotations

import base64
import io

import segno
from aiohttp import web

from bot.domain.accounts import Account, SessionStage, is_locked, password_problem
from bot.errors import ConflictError, NotFoundError
from bot.security import DecryptionError, Secret
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
from bot.web.shared.templates import render

MAX_FIELD = 500


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _url(request: web.Request, name: str, **parts: str) -> str:
    return str(request.app.router[name].url_for(**parts))


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip()[:MAX_FIELD] if isinstance(value, str) else ""


def _raw(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _after_sign_in(request: web.Request, account: Account) -> str:
    return _url(request, "home")


async def login_form(request: web.Request) -> web.StreamResponse:
    if current_account(request) is not None:
        return see_other(_url(request, "home"))
    # A fresh install: the page says how to create the first administrator instead of leaving people guessing.
    first_run = await console_of(request).accounts.count_accounts() == 0
    return render(request, "login.html", error=None, email="", first_run=first_run)


async def login_submit(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await request.post()
    email, password = _field(form, "email"), _raw(form, "password")
    credentials = await console.accounts.credentials(email) if email else None
    now = console.now()
    if credentials is None or credentials.account.disabled:
        await console.verify(None, password or "x")
        return render(request, "login.html", status=401, error="console.login.failed", email=email)
    if is_locked(credentials.locked_until, now):
        await console.verify(None, password or "x")  # the same work as any refusal: lockout reveals nothing
        return render(request, "login.html", status=401, error="console.login.failed", email=email)
    if not password or not await console.verify(credentials.password_hash, password):
        await console.accounts.record_failure(credentials.account.id, now)
        return render(request, "login.html", status=401, error="console.login.failed", email=email)
    account = credentials.account
    if console.needs_rehash(credentials.password_hash):
        await console.accounts.set_password_hash(account.id, await console.hash(password))
    if account.role.needs_totp:
        if account.totp_enabled:
            await begin_session(request, account, SessionStage.TOTP)
            return see_other(_url(request, "login_code"))
        await begin_session(request, account, SessionStage.ENROL)
        return see_other(_url(request, "setup_totp"))
    await console.accounts.record_success(account.id)
    await begin_session(request, account, SessionStage.FULL)
    return see_other(_after_sign_in(request, account))


def _pending(request: web.Request, stage: SessionStage) -> Account:
    if PENDING_ACCOUNT not in request or request.get(SESSION_STAGE) is not stage:
        raise web.HTTPSeeOther(_url(request, "login"))
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
        return see_other(_url(request, "login"))
    step = console.match_totp(account.id, credentials.totp_secret, _field(form, "code"))
    if step is None or not await console.accounts.claim_totp_step(account.id, step):
        until = await console.accounts.record_failure(account.id, now)
        if is_locked(until, now):
            await end_session(request)
            return see_other(_url(request, "login"))
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
    await end_session(request)
    from bot.web.shared.csrf import rotate_csrf

    rotate_csrf(request)
    return see_other(_url(request, "login"))


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
    if account.role.needs_totp:
        await begin_session(request, account, SessionStage.ENROL)
        return see_other(_url(request, "setup_totp"))
    await begin_session(request, account, SessionStage.FULL)
    return see_other(_after_sign_in(request, account))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_get("/login/code", code_form, name="login_code")
    app.router.add_post("/login/code", code_submit)
    app.router.add_get("/login/authenticator", setup_totp_form, name="setup_totp")
    app.router.add_post("/login/authenticator", setup_totp_submit)
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/invitation/{token}", invitation_form, name="invitation")
    app.router.add_post("/invitation/{token}", invitation_submit)
