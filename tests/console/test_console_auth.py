"""Sign-in, second factor, lockout, session fixation, CSRF and invitations, against the real app on loopback."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Services, build_app
from bot.domain.accounts import MAX_FAILURES, Role
from bot.domain.clock import FixedClock
from bot.domain.tenancy import Organisation
from bot.security import Secret, totp_code
from bot.storage.accounts import SqlAccountRepository
from tests.console.helpers import (
    PASSWORD,
    csrf_from,
    database_rows,
    fill,
    form_for,
    form_token,
    make_person,
    other_browser,
    routes_of,
    seed_organisation,
    sign_in,
)


async def test_pages_need_sign_in_and_carry_security_headers(client: TestClient) -> None:
    response = await client.get("/console/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/console/login"
    page = await client.get("/console/login")
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert '<html lang="nl">' in await page.text()


async def test_admin_signs_in_with_password_and_code(
    client: TestClient, console_services: Services, clock: FixedClock
) -> None:
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    await sign_in(client, admin, clock)
    home = await client.get("/console/")
    assert home.status == 200
    assert "Admin" in await home.text()


async def test_wrong_code_and_replayed_code_are_refused(
    client: TestClient, console_services: Services, clock: FixedClock
) -> None:
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    assert admin.totp is not None
    token = await form_token(client, "/console/login")
    await client.post(
        "/console/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token}
    )
    token = await form_token(client, "/console/login/code")
    code = totp_code(admin.totp, clock.now().timestamp())
    wrong = "000000" if code != "000000" else "111111"
    refused = await client.post("/console/login/code", data={"code": wrong, "csrf_token": token})
    assert refused.status == 401
    assert (await client.get("/console/", allow_redirects=False)).status == 303  # still not signed in
    accepted = await client.post(
        "/console/login/code", data={"code": code, "csrf_token": token}, allow_redirects=False
    )
    assert accepted.status == 303
    # sign out, sign in again within the same 30 s: the same code is refused (used once)
    token = await form_token(client, "/console/")
    await client.post("/console/logout", data={"csrf_token": token})
    token = await form_token(client, "/console/login")
    await client.post(
        "/console/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token}
    )
    token = await form_token(client, "/console/login/code")
    replay = await client.post("/console/login/code", data={"code": code, "csrf_token": token})
    assert replay.status == 401


async def test_lockout_after_repeated_failures(
    client: TestClient, console_services: Services, clock: FixedClock
) -> None:
    viewer_org = await console_services.organisations.add_organisation(
        "Org", "org", "Europe/Amsterdam", "nl", 90
    )
    viewer = await make_person(console_services, Role.VIEWER, "mt@org.test", viewer_org.id)
    token = await form_token(client, "/console/login")
    for _ in range(MAX_FAILURES):
        response = await client.post(
            "/console/login",
            data={"email": viewer.email, "password": "wrong password!!", "csrf_token": token},
        )
        assert response.status == 401
    # now even the right password is refused, with the same message (no hint that the account exists)
    locked = await client.post(
        "/console/login", data={"email": viewer.email, "password": PASSWORD, "csrf_token": token}
    )
    assert locked.status == 401
    unknown = await client.post(
        "/console/login", data={"email": "nobody@org.test", "password": PASSWORD, "csrf_token": token}
    )
    assert unknown.status == 401
    assert _message(await locked.text()) == _message(await unknown.text())
    clock.advance(timedelta(minutes=16))
    opened = await client.post(
        "/console/login",
        data={"email": viewer.email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    assert opened.status == 303


def _message(html: str) -> str:
    start = html.index('role="alert"')
    return html[start : html.index("</p>", start)]


async def test_session_id_is_rotated_at_sign_in(
    client: TestClient, console_services: Services, clock: FixedClock
) -> None:
    """Session fixation: a session id planted before sign-in never becomes a signed-in session."""
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    assert admin.totp is not None
    token = await form_token(client, "/console/login")
    await client.post(
        "/console/login", data={"email": admin.email, "password": PASSWORD, "csrf_token": token}
    )
    pending = client.session.cookie_jar.filter_cookies(client.make_url("/console/"))["vipbot_session"].value
    token = await form_token(client, "/console/login/code")
    await client.post(
        "/console/login/code",
        data={"code": totp_code(admin.totp, clock.now().timestamp()), "csrf_token": token},
    )
    signed_in = client.session.cookie_jar.filter_cookies(client.make_url("/console/"))["vipbot_session"].value
    assert signed_in != pending
    # the pre-sign-in id is dead: a browser holding only it is not signed in
    async with other_browser(client) as attacker:
        attacker.cookie_jar.update_cookies({"vipbot_session": pending})
        response = await attacker.get("/console/", allow_redirects=False)
        assert response.status == 303
        attacker.cookie_jar.update_cookies({"vipbot_session": "planted-by-attacker"})
        response = await attacker.get("/console/", allow_redirects=False)
        assert response.status == 303
    # and the cookie is HttpOnly and SameSite
    response = await client.get("/console/")
    assert response.status == 200


async def test_cookie_flags(client: TestClient, console_services: Services) -> None:
    org = await console_services.organisations.add_organisation("Org", "org", "Europe/Amsterdam", "nl", 90)
    viewer = await make_person(console_services, Role.VIEWER, "mt@org.test", org.id)
    token = await form_token(client, "/console/login")
    response = await client.post(
        "/console/login",
        data={"email": viewer.email, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
    )
    cookies = response.headers.getall("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("vipbot_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Strict" in session_cookie
    assert any(c.startswith("vipbot_csrf=") for c in cookies)  # CSRF value rotated at sign-in


async def test_csrf_is_required_on_every_form(
    client: TestClient, console_services: Services, clock: FixedClock
) -> None:
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    await sign_in(client, admin, clock)
    form = {"name": "Gemeente Zuid", "slug": "zuid", "timezone": "Europe/Amsterdam", "locale": "nl"}
    missing = await client.post("/console/organisations/new", data=form)
    assert missing.status == 403
    forged = await client.post("/console/organisations/new", data={**form, "csrf_token": "x" * 43})
    assert forged.status == 403
    token = await form_token(client, "/console/organisations/new")
    foreign = await client.post(
        "/console/organisations/new",
        data={**form, "csrf_token": token},
        headers={"Origin": "https://evil.test"},
    )
    assert foreign.status == 403
    assert await console_services.organisations.list_organisations() == []
    made = await client.post(
        "/console/organisations/new", data={**form, "csrf_token": token}, allow_redirects=False
    )
    assert made.status == 303
    assert [o.slug for o in await console_services.organisations.list_organisations()] == ["zuid"]
    # a token from another browser does not work in this one
    async with other_browser(client) as other:
        other_token = await form_token(other, "/console/login")
    assert other_token != token
    refused = await client.post(
        "/console/organisations/new", data={**form, "slug": "zuid2", "csrf_token": other_token}
    )
    assert refused.status == 403


async def test_invitation_is_single_use_and_needs_authenticator(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    await sign_in(client, admin, clock)
    token = await form_token(client, "/console/accounts")
    page = await client.post(
        "/console/accounts/invite",
        data={
            "email": "vp@practice.test",
            "role": "counsellor",
            "organisation": str(org_a.id),
            "csrf_token": token,
        },
    )
    html = await page.text()
    link = html.split('id="invitation-link">', 1)[1].split("<", 1)[0]
    path = link.removeprefix("http://vipbot.test")
    assert path.startswith("/console/invitation/")
    async with other_browser(client) as invitee:
        form = await invitee.get(path)
        assert form.status == 200
        token = csrf_from(await form.text())
        short = await invitee.post(
            path,
            data={
                "display_name": "Vera",
                "password": "short",
                "password_repeat": "short",
                "csrf_token": token,
            },
        )
        assert short.status == 400
        accepted = await invitee.post(
            path,
            data={
                "display_name": "Vera",
                "password": PASSWORD,
                "password_repeat": PASSWORD,
                "csrf_token": token,
            },
            allow_redirects=False,
        )
        assert accepted.status == 303
        assert accepted.headers["Location"] == "/console/login/authenticator"
        # no console page before the authenticator is set up
        assert (await invitee.get("/console/", allow_redirects=False)).status == 303
        again = await invitee.get(path)
        assert again.status == 404


async def test_behind_https_cookies_are_secure_and_host_prefixed(console_services: Services) -> None:
    from aiohttp.test_utils import TestServer

    from bot.app import build_app
    from bot.web import console

    secure = console_services.settings.model_copy(update={"base_url": "https://vp.example.test"})
    services = Services(
        settings=secure,
        clock=console_services.clock,
        engine=console_services.engine,
        content=console_services.content,
    )
    async with TestClient(
        TestServer(build_app(services, features=[console.install]), host="127.0.0.1")
    ) as https:
        page = await https.get("/console/login")
        cookie = page.headers["Set-Cookie"]
        assert cookie.startswith("__Host-vipbot_csrf=")
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_blocking_an_account_and_signing_out_take_effect_at_once(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    viewer = await make_person(console_services, Role.VIEWER, "mt@linde.test", org_a.id)
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    await sign_in(client, viewer, clock)
    assert (await client.get("/console/o/de-linde/insights")).status == 200
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/console/"))["vipbot_session"].value
    async with other_browser(client) as admin_browser:
        await sign_in(admin_browser, admin, clock)
        token = await form_token(admin_browser, "/console/accounts")
        blocked = await admin_browser.post(
            "/console/accounts/disable",
            data={"csrf_token": token, "account": str(viewer.account.id), "disabled": "1"},
            allow_redirects=False,
        )
        assert blocked.status == 303
    assert (await client.get("/console/o/de-linde/insights", allow_redirects=False)).status == 303
    # signing out kills the cookie for anyone who copied it
    async with other_browser(client) as admin_browser:
        await sign_in(admin_browser, admin, clock)
        copied = admin_browser.cookie_jar.filter_cookies(client.make_url("/console/"))["vipbot_session"].value
        assert (await admin_browser.get("/console/accounts")).status == 200
        token = await form_token(admin_browser, "/console/accounts")
        await admin_browser.post("/console/logout", data={"csrf_token": token})
    async with other_browser(client) as thief:
        thief.cookie_jar.update_cookies({"vipbot_session": copied})
        assert (await thief.get("/console/accounts", allow_redirects=False)).status == 303
    assert cookie != copied


async def test_english_switch_is_remembered(client: TestClient) -> None:
    dutch = await client.get("/console/login")
    assert "<h1>Aanmelden</h1>" in await dutch.text()
    english = await client.get("/console/login?lang=en")
    html = await english.text()
    assert '<html lang="en">' in html
    assert "<h1>Sign in</h1>" in html
    again = await client.get("/console/login")
    assert "<h1>Sign in</h1>" in await again.text()
    missing = await client.get("/console/o/nowhere/insights", allow_redirects=False)
    assert missing.status == 303  # not signed in: to the sign-in page, whatever the address


def _wrong_code(secret: Secret[bytes], now: float) -> str:
    """A six-digit code that no step near `now` accepts."""
    near = {totp_code(secret, now + offset) for offset in (-90, -60, -30, 0, 30, 60, 90)}
    return next(code for code in (f"{n:06d}" for n in range(1000000)) if code not in near)


async def test_lockout_after_repeated_wrong_codes(
    client: TestClient, console_services: Services, clock: FixedClock
) -> None:
    """The right password and then five wrong authenticator codes: the session ends and the account is locked
    (a second browser waiting at the code step cannot finish either) until the lockout has passed."""
    admin = await make_person(console_services, Role.ADMIN, "admin@practice.test")
    assert admin.totp is not None

    async def password_step(browser: TestClient | aiohttp.ClientSession) -> int:
        token = await form_token(browser, "/console/login")
        response = await browser.post(
            "/console/login",
            data={"email": admin.email, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        )
        if response.headers.get("Location", "").startswith("/console/login?d="):  # refused: POST/redirect/GET
            return (await browser.get(response.headers["Location"])).status
        return response.status

    async with other_browser(client) as waiting:
        assert await password_step(waiting) == 303  # a second browser stops at the code step
        assert await password_step(client) == 303
        token = await form_token(client, "/console/login/code")
        wrong = _wrong_code(admin.totp, clock.now().timestamp())
        for _ in range(MAX_FAILURES - 1):
            refused = await client.post(
                "/console/login/code", data={"code": wrong, "csrf_token": token}, allow_redirects=False
            )
            assert refused.status == 401
        last = await client.post(
            "/console/login/code", data={"code": wrong, "csrf_token": token}, allow_redirects=False
        )
        assert last.status == 303
        assert last.headers["Location"] == "/console/login"
        back = await client.get("/console/login/code", allow_redirects=False)
        assert back.headers["Location"] == "/console/login"  # the half-signed-in session is gone

        # locked: the right code from the other browser, and the right password, are refused
        token = await form_token(waiting, "/console/login/code")
        right = totp_code(admin.totp, clock.now().timestamp())
        late = await waiting.post(
            "/console/login/code", data={"code": right, "csrf_token": token}, allow_redirects=False
        )
        assert late.status == 303
        assert late.headers["Location"] == "/console/login"
        assert (await waiting.get("/console/", allow_redirects=False)).status == 303
    assert await password_step(client) == 401

    clock.advance(timedelta(minutes=14))
    assert await password_step(client) == 401  # still locked

    # a quarter of an hour after the last wrong code the account opens again: password and a fresh code
    clock.advance(timedelta(minutes=1, seconds=30))
    assert await password_step(client) == 303
    token = await form_token(client, "/console/login/code")
    signed_in = await client.post(
        "/console/login/code",
        data={"code": totp_code(admin.totp, clock.now().timestamp()), "csrf_token": token},
        allow_redirects=False,
    )
    assert signed_in.status == 303
    assert (await client.get("/console/accounts")).status == 200


async def test_every_post_route_of_the_console_and_the_portal_needs_its_csrf_token(
    console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    """The whole service as `vipbot serve` mounts it: every POST route under /console and /portal, with real
    ids and a form that would be accepted, is refused by the CSRF check (without a token, with a forged one,
    with a valid token from another site, and from a browser without the CSRF cookie), by a signed-in
    administrator who could otherwise do anything; and nothing in the database changes."""
    services = Services(
        settings=console_services.settings.model_copy(update={"scheduler_enabled": False}),
        clock=clock,
        engine=console_services.engine,
        content=console_services.content,
        password_policy=console_services.password_policy,
    )
    seeded = await seed_organisation(services, org_a, "vp@linde.test")
    admin = await make_person(services, Role.ADMIN, "admin@practice.test")
    invitation = await SqlAccountRepository(services.sessions).invite(
        "nieuw@linde.test", Role.VIEWER, org_a.id, admin.account.id, clock.now()
    )
    app = build_app(services)
    forms = [(m, p) for m, p in routes_of(app) if m == "POST" and p.startswith(("/console/", "/portal/"))]
    paths = {p for _m, p in forms}
    assert {
        "/console/login",
        "/console/logout",
        "/console/o/{org}/content/own/{item}/delete",
        "/console/o/{org}/inbox/unlock",
        "/portal/{org}/start",
        "/portal/{org}/return",
        "/portal/{org}/conversation",
        "/portal/{org}/delete",
        "/portal/{org}/leave",
    } <= paths
    assert not [m for m, p in routes_of(app) if m in {"PUT", "PATCH", "DELETE"} and p.startswith("/console/")]
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await sign_in(client, admin, clock)
        token = await form_token(client, "/console/")
        await client.get("/portal/de-linde")
        before = await database_rows(services, skip=frozenset({"console_session"}))
        raw = {"Accept": "application/json"}  # the bare refusal, with its reason, instead of the error page
        async with other_browser(client) as fresh:
            for _method, template in forms:
                path = fill(template.replace("{token}", invitation), "de-linde", seeded)
                form = form_for(seeded, token)
                without = {k: v for k, v in form.items() if k != "csrf_token"}
                tries = (
                    (client, without, raw, "invalid CSRF token"),
                    (client, {**form, "csrf_token": "x" * 43}, raw, "invalid CSRF token"),
                    (client, form, {**raw, "Origin": "https://evil.test"}, "cross-origin request refused"),
                    (client, form, {**raw, "Sec-Fetch-Site": "cross-site"}, "cross-origin request refused"),
                    (fresh, form, raw, "missing CSRF cookie"),
                )
                for browser, data, headers, reason in tries:
                    response = await browser.post(path, data=data, headers=headers, allow_redirects=False)
                    assert (response.status, response.reason) == (403, reason), (path, headers, reason)
                assert (await client.post(path, data=without, allow_redirects=False)).status == 403
        assert await database_rows(services, skip=frozenset({"console_session"})) == before
        assert (
            await client.get("/console/accounts")
        ).status == 200  # still signed in: logout was refused too
