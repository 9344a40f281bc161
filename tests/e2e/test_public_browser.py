"""The public privacy page in a real browser, against a real `personvern serve` with its worker and a fake LINK
Mobility on 127.0.0.1: a visitor asks, reads the code from the SMS, confirms; the CEO answers; the visitor fetches
the answer once with a fresh code; a stranger's flow reads the same; axe finds no serious violation.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import needs_chromium
from tests.e2e.support import free_port
from tests.fakes_linkmobility import ENV, FakeLink

pytestmark = needs_chromium

KARI = "+4741234567"
STRANGER = "+4799887766"


@dataclass
class Site:
    base: str
    fake: FakeLink
    token: str  # the CEO's API token

    def texts_to(self, phone: str) -> list[str]:
        with self.fake.lock:
            return [m["userData"] for m in self.fake.received if m.get("destination") == phone]

    def wait_for_text(self, phone: str, after: int, timeout: float = 15) -> str:
        """The first SMS to `phone` beyond the `after` already seen, as LINK Mobility received it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = self.texts_to(phone)
            if len(texts) > after:
                return texts[after]
            time.sleep(0.05)
        raise AssertionError(f"no SMS to {phone} within {timeout} s")

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kw)


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "personvern", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("public")
    db = f"sqlite:///{folder / 'pv.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fake = FakeLink()
    with fake.serve() as link_url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")},
            **ENV,
            "PERSONVERN_LINKMOBILITY_URL": link_url,
            "PERSONVERN_PUBLIC_URL": base,
            "PERSONVERN_DATABASE_URL": db,
        }
        _cli(env, "init")
        _cli(
            env,
            "subject",
            "add",
            "--kind",
            "one_time_customer",
            "--set",
            "full_name=Kari Nordmann",
            "--set",
            f"phone={KARI}",
            "--set",
            "email=kari@example.no",
        )
        token = json.loads(_cli(env, "user", "add", "chief", "--role", "ceo", "--json"))["token"]
        server = subprocess.Popen(
            [sys.executable, "-m", "personvern", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # serve and the worker it starts: one group, stopped together below
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and server.poll() is None, "personvern serve did not start"
                time.sleep(0.1)
            yield Site(base, fake, token)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            # A serve killed before it stopped its worker leaves the worker running: nothing of the group may
            # outlive the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)


def _code(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)


def _ask_and_confirm(page: Any, site: Site, phone: str) -> tuple[str, str]:
    """Make an access request on the English page and confirm it with the code from the SMS; the pages' texts."""
    seen = len(site.texts_to(phone))
    page.goto(f"{site.base}/privacy")
    page.get_by_label("A copy of the data you hold about me (access)").check()
    page.get_by_label("Your mobile number or e-mail address").fill(phone)
    page.get_by_role("button", name="Send me a code").click()
    page.wait_for_url(re.compile(r".*/privacy/request/[0-9a-f]+\?via=sms$"))
    code_page = page.locator("main").inner_text()
    page.get_by_label("The code").fill(_code(site.wait_for_text(phone, seen)))
    page.get_by_role("button", name="Register the request").click()
    page.get_by_role("heading", name="Your request is registered").wait_for()
    receipt = page.locator("main").inner_text()
    return code_page, re.sub(r"Reference: \w+", "Reference: REF", receipt)


def test_a_visitor_asks_confirms_and_fetches_the_answer_once(browser: Any, site: Site) -> None:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    _ask_and_confirm(page, site, KARI)
    assert context.cookies() == []  # the privacy page set no cookie at all
    receipt_sms = site.wait_for_text(KARI, 1)
    assert "You will have the answer by" in receipt_sms

    # The CEO answers (the console's own browser test does it by hand).
    listed = site.api("GET", "/api/v1/requests").json()["items"]
    request = next(r for r in listed if r["channel"] == "web")
    assert request["state"] == "verified" and request["subject_id"]
    assert site.api("POST", f"/api/v1/requests/{request['id']}/fulfil", json={}).status_code == 200

    link = re.search(r"(https?://\S+/privacy/answer/[\w-]+)", site.wait_for_text(KARI, 2))
    assert link, site.texts_to(KARI)
    page.goto(link.group(1))
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("The code").fill(_code(site.wait_for_text(KARI, 3)))
    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download the answer (zip)").click()
    blob = Path(downloaded.value.path()).read_bytes()
    names = set(zipfile.ZipFile(io.BytesIO(blob)).namelist())
    assert {"letter.html", "data.json"} <= names
    assert "Kari Nordmann" in zipfile.ZipFile(io.BytesIO(blob)).read("data.json").decode()

    # Once: the page now says so, and a second download with the same code is refused.
    page.goto(link.group(1))
    assert page.get_by_text("The link works once").count() == 1
    again = page.request.post(f"{link.group(1)}/fetch", form={"code": "123456"})
    assert again.status == 409
    shown = site.api("GET", f"/api/v1/requests/{request['id']}").json()
    assert shown["answer_links"][0]["fetched_at"] is not None
    context.close()


def test_a_strangers_flow_reads_the_same_as_a_customers(browser: Any, site: Site) -> None:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    customer = _ask_and_confirm(page, site, KARI)
    stranger = _ask_and_confirm(page, site, STRANGER)
    assert customer == stranger
    context.close()


def test_axe_finds_no_serious_violation_on_the_public_pages(browser: Any, site: Site) -> None:
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = browser.new_context()
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    found: dict[str, list[str]] = {}
    for path in ("/personvern", "/privacy", "/privacy/request/0123abcd", "/personvern/svar/not-a-link"):
        page.goto(f"{site.base}{path}")
        bad = [v for v in axe.run(page).response["violations"] if v.get("impact") in ("serious", "critical")]
        if bad:
            found[path] = [f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}" for v in bad]
    assert not found, found
    assert not refused, refused
    context.close()
