"""The console in a real browser: Debian's Chromium driven by Playwright, against uvicorn serving create_app.

One server and one browser for the module (SQLite is enough here; the forms are tested on both databases in
test_console_*.py). Without Chromium the tests are skipped, saying so; CI has it (apt-get install chromium).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW
from tests.e2e.conftest import needs_chromium
from tests.e2e.support import ONE_TIME, app_on_loopback, values

NEW_PASSWORD = "correct horse battery staple"

pytestmark = needs_chromium


@dataclass
class Site:
    base: str
    kari: str  # a customer with an order
    request: str  # an access request of hers, opened and not verified
    waiting: str  # an erasure carried out that waits for the CEO's Finago task (issue 15)
    review: str  # an annual review of this year, run and not signed
    ceo: tuple[str, str]  # name, first password (to be changed at the first sign-in)
    boss: tuple[str, str]  # another CEO, password changed already
    staff: tuple[str, str]  # name, password (changed already)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from personvern.bootstrap import Settings, initialise
    from personvern.services import exports, register, review, rights, users
    from tests.e2e.conftest import cheap_passwords

    with pytest.MonkeyPatch.context() as patch:
        cheap_passwords(patch)
        folder = tmp_path_factory.mktemp("console")
        runtime, _ = initialise(Settings.resolve(f"sqlite:///{folder / 'pv.db'}", NOW, "ceo", environ={}))
        ctx = runtime.context()
        kari = register.add_subject(ctx, ONE_TIME, values(1) | {"full_name": "Kari Nordmann"}, {}).id
        register.start_relationship(ctx, kari, "order", description="Key card")
        request = rights.open_request(ctx, "access", subject_id=kari, channel="letter").request.id
        ola = register.add_subject(ctx, ONE_TIME, values(2), {}).id
        register.start_relationship(ctx, ola, "order")
        exports.export_customers(ctx, "saft")  # Finago now holds Ola: his erasure gives the CEO a task
        waiting = rights.open_request(ctx, "erasure", subject_id=ola, channel="letter").request.id
        rights.verify_request(ctx, waiting, "bankid")
        rights.fulfil_request(ctx, waiting)
        annual = review.run_review(ctx, 2026).record.id
        chief = users.add_user(ctx, "chief", "ceo", "nb")
        for name, role in (("boss", "ceo"), ("clerk", "staff")):
            issued = users.add_user(ctx, name, role, "en")
            users.change_password(runtime.uow, runtime.clock, issued.user, issued.password or "", NEW_PASSWORD)
        with app_on_loopback(runtime) as base:
            yield Site(
                base,
                kari,
                request,
                waiting,
                annual,
                ("chief", chief.password or ""),
                ("boss", NEW_PASSWORD),
                ("clerk", NEW_PASSWORD),
            )


def _sign_in(page: Any, site: Site, who: tuple[str, str], name_label: str, password_label: str, button: str) -> None:
    if "/console/sign-in" not in page.url:
        page.goto(f"{site.base}/console/sign-in")
    page.get_by_label(name_label).fill(who[0])
    page.get_by_label(password_label, exact=False).first.fill(who[1])
    page.get_by_role("button", name=button).click()


def _context(browser: Any, **options: Any) -> Any:
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    return context


def _staff(browser: Any, site: Site) -> tuple[Any, Any]:
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{site.base}/console/sign-in?lang=en")
    _sign_in(page, site, site.staff, "User name", "Password", "Sign in")
    page.wait_for_url(f"{site.base}/console/")
    return context, page


def test_the_ceo_signs_in_finds_a_customer_and_answers_an_access_request(browser: Any, site: Site) -> None:
    # With JavaScript turned off: the console needs none.
    context = _context(browser, accept_downloads=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site.base}/console/")
    assert page.url.startswith(f"{site.base}/console/sign-in")
    assert page.title() == "Logg inn – personvern"
    _sign_in(page, site, site.ceo, "Brukernavn", "Passord", "Logg inn")
    # The first password was seen by whoever made the user: it is changed before anything else.
    page.wait_for_url(f"{site.base}/console/password")
    page.get_by_label("Nåværende passord").fill(site.ceo[1])
    page.get_by_label("Nytt passord", exact=False).first.fill(NEW_PASSWORD)
    page.get_by_label("Nytt passord en gang til").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Endre passordet").click()
    page.wait_for_url(f"{site.base}/console/?said=password_changed")
    assert page.title() == "Oversikt – personvern"
    # Find Kari by her e-mail address and open her page.
    page.get_by_role("searchbox", name="Finn en kunde").fill("person1@example.no")
    page.get_by_role("button", name="Finn", exact=True).click()
    page.get_by_role("link", name="Kari Nordmann").click()
    page.wait_for_url(f"{site.base}/console/subjects/{site.kari}")
    assert page.get_by_role("heading", name="Kari Nordmann", level=1).is_visible()
    # Her access request: open, verify, fulfil, and the answer downloads.
    page.get_by_role("link", name="Registrer en forespørsel fra denne personen").click()
    page.get_by_label("Type").select_option("access")
    page.get_by_role("button", name="Registrer forespørselen").click()
    page.wait_for_url("**/console/requests/*?said=opened")
    page.get_by_label("Hvordan identiteten ble kontrollert").select_option("bankid")
    page.get_by_role("button", name="Identitet bekreftet").click()
    page.wait_for_url("**?said=verified")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Utfør og last ned svaret").click()
    download = downloading.value
    assert download.suggested_filename.startswith("request-") and download.suggested_filename.endswith(".zip")
    answer = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert answer.namelist() == ["letter.html", "data.json"]
    assert b"Kari Nordmann" in answer.read("data.json")
    page.reload()
    assert page.get_by_text("besvart", exact=True).is_visible()
    context.close()


def test_staff_get_a_refusal_on_the_archive(browser: Any, site: Site) -> None:
    context, page = _staff(browser, site)
    assert page.get_by_role("link", name="Archive").count() == 0  # not offered
    answer = page.goto(f"{site.base}/console/archive")
    assert answer is not None and answer.status == 403
    assert page.title() == "You may not do this – personvern"
    assert page.get_by_text("Your role (staff) may not read the archive.").is_visible()
    context.close()


def test_a_form_posted_without_its_csrf_token_is_refused(browser: Any, site: Site) -> None:
    context, page = _staff(browser, site)
    page.goto(f"{site.base}/console/account")
    form = page.locator("form.stack")
    form.locator("input[name=csrf]").evaluate("input => input.remove()")
    page.get_by_label("The console's language").select_option("nb")
    with page.expect_response(lambda r: r.url.endswith("/console/account") and r.request.method == "POST") as posted:
        page.get_by_role("button", name="Save").click()
    assert posted.value.status == 403
    assert page.title() == "The form was refused – personvern"
    page.goto(f"{site.base}/console/account")
    assert page.title() == "My account – personvern"  # still English: nothing was changed
    context.close()


def test_signing_out_ends_the_session(browser: Any, site: Site) -> None:
    context, page = _staff(browser, site)
    kept = [c for c in context.cookies() if c["name"] == "pv_session"]
    assert kept and kept[0]["httpOnly"] and kept[0]["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in?said=signed_out")
    assert page.get_by_text("You have signed out.").is_visible()
    page.goto(f"{site.base}/console/")
    assert "/console/sign-in" in page.url
    # The cookie as it was before signing out opens nothing: the session ended on the server.
    other = _context(browser)
    other.add_cookies(kept)
    replay = other.new_page()
    replay.goto(f"{site.base}/console/subjects")
    assert "/console/sign-in" in replay.url and "ended=1" in replay.url
    other.close()
    context.close()


def test_staff_send_a_service_sms_from_a_customers_page_and_see_it_listed(browser: Any, site: Site) -> None:
    context, page = _staff(browser, site)
    page.goto(f"{site.base}/console/subjects/{site.kari}")
    page.get_by_role("link", name="Send an SMS").click()
    page.get_by_label("The message", exact=False).fill("Your key card is ready at the reception.")
    page.get_by_role("button", name="Preview").click()
    assert page.get_by_text("Preview: nothing is sent yet").is_visible()
    page.get_by_role("button", name="Send it").click()
    page.wait_for_url(f"{site.base}/console/sms?subject={site.kari}&said=queued")
    assert page.get_by_text("The SMS is queued").is_visible()
    assert page.get_by_role("cell", name="waiting in the outbox").count() == 1
    context.close()


def test_axe_finds_no_serious_accessibility_violation_on_the_main_pages(browser: Any, site: Site) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = _context(browser)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    refused: list[str] = []  # what the browser refused under the Content-Security-Policy (inline style, script)

    def watch(p: Any) -> None:
        p.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    watch(page)

    def check(path: str) -> None:
        page.goto(f"{site.base}{path}")
        assert page.url == f"{site.base}{path}", f"{path} led to {page.url}"
        results = axe.run(page)
        for v in results.response["violations"] if os.environ.get("PV_AXE_REPORT") else []:
            print(f"axe {path}: {v['id']} ({v.get('impact')}) {v['help']} {[n['target'] for n in v['nodes']][:3]}")
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        if bad:
            found[path] = [
                f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}" for v in bad
            ]

    check("/console/sign-in")
    _sign_in(page, site, site.staff, "Brukernavn", "Passord", "Logg inn")
    page.wait_for_url(f"{site.base}/console/")
    for path in (
        "/console/",
        f"/console/subjects?q={site.kari}",
        f"/console/subjects/{site.kari}",
        "/console/subjects/new?kind=contract_customer",
        f"/console/subjects/{site.kari}/edit",
        "/console/account",
        "/console/password",
        "/console/notice",
        f"/console/subjects/{site.kari}/sms",
        "/console/sms",
        "/console/outbox",
    ):
        check(path)
    context.close()
    context = _context(browser)
    page = context.new_page()
    watch(page)
    page.goto(f"{site.base}/console/sign-in?lang=en")
    _sign_in(page, site, site.boss, "User name", "Password", "Sign in")
    page.wait_for_url(f"{site.base}/console/")
    for path in (
        "/console/",
        f"/console/subjects/{site.kari}",
        "/console/requests",
        "/console/requests/new",
        f"/console/requests/{site.request}",
        f"/console/requests/{site.waiting}",  # its recipients, and the task's form
        "/console/tasks",
        "/console/breaches",
        "/console/breaches/new",
        "/console/retention",
        "/console/retention/run",
        "/console/archive",
        "/console/users",
        "/console/record",
        "/console/exports",
        "/console/sms/marketing",
        "/console/review",
        f"/console/review/{site.review}",
        "/console/audit?action=review",  # a few entries: the markup is the same for many
    ):
        check(path)
    # A form sent back with its errors beside the fields.
    page.goto(f"{site.base}/console/subjects/new?kind=one_time_customer")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Add the customer").click()
    page.wait_for_selector("#f-email-error")
    results = axe.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    if bad:
        found["the add form with errors"] = [f"{v['id']} ({v['impact']}): {v['help']}" for v in bad]
    context.close()
    assert not found, "\n".join(f"{path}: {line}" for path, lines in found.items() for line in lines)
    assert not refused, refused
