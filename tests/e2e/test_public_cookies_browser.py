"""The cookie banner in a real browser: Debian's Chromium driven by Playwright, on the example website page.

One server and one browser for the module (SQLite; the endpoint is tested on both databases in
test_public_cookies.py). Each test has a fresh browser context, so a fresh cookie jar: what the jar holds after
the visitor's choice is what the website stored on the device.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import NOW
from tests.e2e.conftest import needs_chromium
from tests.e2e.support import app_on_loopback

PAGE = "/personvern/nettsted-eksempel"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The base address, and the runtime (to read what was recorded)."""
    from personvern.bootstrap import Settings, initialise

    folder = tmp_path_factory.mktemp("cookies")
    runtime, _ = initialise(Settings.resolve(f"sqlite:///{folder / 'pv.db'}", NOW, "ceo", environ={}))
    with app_on_loopback(runtime) as base:
        yield base, runtime


def _page(browser: Any, base: str, **options: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    refused: list[str] = []  # what the browser refused under the Content-Security-Policy
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}{PAGE}")
    return context, page, refused


def _jar(context: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies()}


def _wait_for_cookie(context: Any, name: str) -> None:
    # Polled from here: the page's CSP forbids the eval Playwright's wait_for_function would use.
    deadline = time.monotonic() + 10
    while name not in _jar(context):
        assert time.monotonic() < deadline, f"no cookie {name!r}: {_jar(context)}"
        time.sleep(0.05)


def _choices(runtime: Any) -> list[tuple[str, str]]:
    """Every choice recorded, as (method, visitor)."""
    from sqlalchemy import select

    from personvern.store import tables as t

    c = t.cookie_consents.c
    with runtime.engine.connect() as conn:
        return [(r.method, r.visitor) for r in conn.execute(select(c.method, c.visitor))]


def test_nothing_optional_runs_before_a_choice_and_reject_all_stores_only_the_choice(
    browser: Any, site: tuple[str, Any]
) -> None:
    base, runtime = site
    context, page, refused = _page(browser, base)
    banner = page.get_by_role("region", name="Informasjonskapsler", exact=True)
    banner.wait_for()
    # Before any choice: the optional script has not run, and the device holds nothing.
    assert _jar(context) == {}
    assert page.locator("html").get_attribute("data-demo-statistics") is None
    # The heading has the focus, so a keyboard or screen reader user starts in the banner.
    assert page.evaluate("document.activeElement.id") == "pv-consent-title"
    # Refusing is as easy as accepting: the same element, the same class, side by side on the first layer.
    accept = banner.get_by_role("button", name="Godta alle")
    reject = banner.get_by_role("button", name="Avvis alle")
    assert accept.get_attribute("class") == reject.get_attribute("class")
    assert accept.evaluate("e => e.tagName") == reject.evaluate("e => e.tagName") == "BUTTON"
    size = accept.bounding_box(), reject.bounding_box()
    assert abs(size[0]["height"] - size[1]["height"]) < 1
    reject.click()
    banner.wait_for(state="detached")
    page.wait_for_timeout(200)  # an optional script, had it been let in, would have run by now
    jar = _jar(context)
    assert set(jar) == {"pv_consent"}, jar
    assert page.locator("html").get_attribute("data-demo-statistics") is None
    stored = page.evaluate("window.personvernConsent.choices()")
    assert stored == {"necessary": True, "statistics": False, "marketing": False}
    visitor = page.evaluate("JSON.parse(decodeURIComponent(document.cookie.split('pv_consent=')[1])).v")
    assert ("reject_all", visitor) in _choices(runtime)
    # The next page view does not ask again.
    page.reload()
    page.wait_for_timeout(300)
    assert page.get_by_role("region", name="Informasjonskapsler", exact=True).count() == 0
    assert not refused, refused
    context.close()


def test_accept_all_runs_the_statistics_script_and_the_link_reopens_the_banner(
    browser: Any, site: tuple[str, Any]
) -> None:
    base, _runtime = site
    context, page, refused = _page(browser, base)
    banner = page.get_by_role("region", name="Informasjonskapsler", exact=True)
    banner.get_by_role("button", name="Godta alle").click()
    _wait_for_cookie(context, "demo_statistics")
    assert set(_jar(context)) == {"pv_consent", "demo_statistics"}
    # Change the choice later: the link reopens it, and a refusal of statistics deletes its cookie at once.
    link = page.get_by_role("link", name="Endre cookievalg")
    link.click()
    banner.wait_for()
    toggle = banner.get_by_role("button", name="Velg selv")
    toggle.press("Enter")
    assert toggle.get_attribute("aria-expanded") == "true"
    box = banner.get_by_role("checkbox", name="Statistikk")
    assert box.is_checked()
    assert banner.get_by_role("checkbox", name="Nødvendige (alltid på)").is_disabled()
    box.press("Space")
    assert not box.is_checked()
    banner.get_by_role("button", name="Lagre valgene").click()
    banner.wait_for(state="detached")
    assert set(_jar(context)) == {"pv_consent"}
    # Focus goes back where it was: the link the visitor used.
    assert page.evaluate("document.activeElement.textContent") == "Endre cookievalg"
    assert not refused, refused
    context.close()


def test_a_gpc_browser_gets_no_banner_and_no_optional_cookie(browser: Any, site: tuple[str, Any]) -> None:
    base, runtime = site
    before = sum(1 for method, _ in _choices(runtime) if method == "gpc")
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{base}{PAGE}")
    _wait_for_cookie(context, "pv_consent")
    page.wait_for_timeout(200)
    assert page.get_by_role("region", name="Informasjonskapsler", exact=True).count() == 0
    assert set(_jar(context)) == {"pv_consent"}
    assert page.locator("html").get_attribute("data-demo-statistics") is None
    assert sum(1 for method, _ in _choices(runtime) if method == "gpc") == before + 1
    # Once recorded, a GPC refusal is not sent again on the next page.
    page.reload()
    page.wait_for_timeout(300)
    assert sum(1 for method, _ in _choices(runtime) if method == "gpc") == before + 1
    context.close()


def test_axe_finds_no_serious_violation_on_the_example_page_with_the_banner_open(
    browser: Any, site: tuple[str, Any]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    base, _runtime = site
    context, page, refused = _page(browser, base)
    banner = page.get_by_role("region", name="Informasjonskapsler", exact=True)
    banner.wait_for()
    banner.get_by_role("button", name="Velg selv").click()  # the second layer open too
    results = Axe().run(page)
    for v in results.response["violations"] if os.environ.get("PV_AXE_REPORT") else []:
        print(f"axe: {v['id']} ({v.get('impact')}) {v['help']} {[n['target'] for n in v['nodes']][:3]}")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not bad, "\n".join(bad)
    assert not refused, refused
    context.close()
