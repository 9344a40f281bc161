"""The console's door: sign-in good, bad and throttled, the first password, sessions that end, CSRF, roles."""

from __future__ import annotations

from datetime import datetime, timedelta

from personvern.bootstrap import FixedClock
from tests.conftest import NOW
from tests.e2e.support import count


def _cookie(response, name):
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def test_sign_in_sets_a_strict_session_cookie_and_asks_for_a_first_password(console):
    name = console.user("ceo", changed=False, language="nb")
    page = console.page()
    answer = console.sign_in(name, page=page)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/password"
    cookie = _cookie(answer, "pv_session")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert flag.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()  # a browser on this machine's loopback
    # Until the first password is changed, every page leads to the password form (in Norwegian, the default).
    refused = page.get("/console/subjects")
    assert refused.status_code == 303 and refused.headers["location"] == "/console/password"
    form = page.get("/console/password")
    assert "Endre passordet ditt" in form.text and '<html lang="nb">' in form.text
    differ = page.post(
        "/console/password",
        {"current_password": console.passwords[name], "new_password": "a" * 14, "new_password_again": "b" * 14},
    )
    assert differ.status_code == 422
    assert 'id="f-new_password_again-error"' in differ.text and 'aria-invalid="true"' in differ.text
    short = page.post(
        "/console/password",
        {"current_password": console.passwords[name], "new_password": "short", "new_password_again": "short"},
    )
    assert short.status_code == 422 and 'id="f-new_password-error"' in short.text and "12" in short.text
    done = page.post(
        "/console/password",
        {
            "current_password": console.passwords[name],
            "new_password": "correct horse battery staple",
            "new_password_again": "correct horse battery staple",
        },
    )
    assert done.status_code == 303
    overview = page.follow(done)
    assert overview.status_code == 200 and "Passordet ditt er endret." in overview.text
    assert "<title>Oversikt – personvern</title>" in overview.text


def test_outside_loopback_the_cookie_is_secure_and_plain_http_cannot_sign_in(console):
    name = console.user("staff")
    answer = console.sign_in(name, page=console.page("https://console.example.no"))
    assert answer.status_code == 303
    assert "secure" in _cookie(answer, "pv_session").lower()
    # Plain HTTP beyond this machine: the browser would not send a Secure cookie back; the page says why.
    plain = console.page("http://console.example.no")
    form = plain.get("/console/sign-in")
    assert "HTTPS" in form.text
    refused = console.sign_in(name, page=plain)
    assert refused.status_code == 403 and "HTTPS" in refused.text


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(console):
    name = console.user("staff")
    page = console.page()
    for _ in range(3):  # the first few failures are free (typos)
        page.get("/console/sign-in")
        wrong = page.post("/console/sign-in", {"name": name, "password": "not the password"})
        assert wrong.status_code == 401 and "Brukernavnet eller passordet er feil." in wrong.text
        assert "pv_session" not in wrong.headers.get("set-cookie", "")
    page.get("/console/sign-in")
    slowed = page.post("/console/sign-in", {"name": name, "password": console.passwords[name]})
    assert slowed.status_code == 429, slowed.text[:500]
    assert int(slowed.headers["retry-after"]) >= 1
    assert "Prøv igjen om" in slowed.text
    # Another name from the same client address is slowed down too (no trying name after name).
    other = console.page()
    other.get("/console/sign-in?lang=en")
    unknown = other.post("/console/sign-in?lang=en", {"name": "nobody-here", "password": "whatever it is"})
    assert unknown.status_code == 429  # the same client address, slowed down too
    assert "Too many failed sign-ins" in unknown.text


def test_sign_out_ends_the_session_on_the_server(console):
    page = console.signed_in("staff")
    cookie = page.client.cookies.get("pv_session")
    assert page.get("/console/").status_code == 200
    out = page.post("/console/sign-out")
    assert out.status_code == 303 and out.headers["location"].startswith("/console/sign-in")
    # The old cookie, replayed by anyone who kept it, no longer opens a page.
    thief = console.page()
    thief.client.cookies.set("pv_session", cookie)
    again = thief.get("/console/")
    assert again.status_code == 303 and "/console/sign-in" in again.headers["location"]


def test_an_idle_session_ends(console):
    page = console.signed_in("staff")
    later = datetime.fromisoformat(NOW) + timedelta(minutes=31)
    console.runtime.clock = FixedClock(later)
    ended = page.get("/console/subjects")
    assert ended.status_code == 303
    assert ended.headers["location"] == "/console/sign-in?next=/console/subjects&ended=1"
    assert "session has ended" in page.follow(ended).text


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(console):
    page = console.signed_in("ceo")
    before = count(console.pv.db_url, "users")
    refused = page.post("/console/users", {"name": "ola", "role": "staff", "language": "nb"}, csrf=False)
    assert refused.status_code == 403 and "The form was refused" in refused.text
    forged = page.post("/console/users", {"name": "ola", "role": "staff", "csrf": "forged"})
    assert forged.status_code == 403
    assert count(console.pv.db_url, "users") == before
    # The sign-in form has a token of its own, before there is a session.
    fresh = console.page()
    fresh.get("/console/sign-in")
    assert fresh.post("/console/sign-in", {"name": "ceo-user", "password": "x"}, csrf=False).status_code == 403


def test_roles_the_services_refuse_are_a_refusal_page_in_words(console):
    staff = console.signed_in("staff")
    archive = staff.get("/console/archive")
    assert archive.status_code == 403
    assert "Your role (staff) may not read the archive." in archive.text
    assert "<title>You may not do this – personvern</title>" in archive.text
    assert staff.get("/console/users").status_code == 403
    assert staff.get("/console/requests").status_code == 403
    marketing = console.signed_in("marketing", language="nb")
    refused = marketing.get("/console/subjects?q=kari%40example.no")
    assert refused.status_code == 403 and "Rollen din (marketing) har ikke lov til" in refused.text
    missing = staff.get("/console/no-such-page")
    assert missing.status_code == 404


def test_every_page_carries_the_security_headers_and_is_not_cached(console):
    page = console.signed_in("ceo")
    answer = page.get("/console/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    style = page.get("/static/console.css")
    assert style.status_code == 200 and "no-store" not in style.headers.get("cache-control", "")
    assert console.page().get("/").headers["location"] == "/personvern"  # / leads to the privacy page (DESIGN.md §4b)


def test_the_language_is_the_users_own_choice(console):
    page = console.signed_in("staff", language="en")
    assert "<title>Overview – personvern</title>" in page.get("/console/").text
    changed = page.post("/console/account", {"language": "nb"})
    assert changed.status_code == 303
    assert "Språket er endret." in page.follow(changed).text
    bad = page.post("/console/account", {"language": "sv"})
    assert bad.status_code == 422 and 'id="f-language-error"' in bad.text
