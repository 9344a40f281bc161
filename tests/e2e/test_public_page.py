"""The public privacy page through the app factory, on SQLite and PostgreSQL: forms that work without JavaScript."""

from __future__ import annotations

import re
from typing import Any

import pytest

from personvern.web import public_pages
from tests.e2e.support import snapshot
from tests.e2e.test_public_requests import PHONE, Outbox, code_in, customer

__all__ = ["Outbox"]


@pytest.fixture(autouse=True)
def _no_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_pages, "FLOOR", 0.0)


@pytest.fixture
def messages(api: Any) -> Outbox:
    return Outbox(api)


def test_root_leads_to_the_norwegian_page_and_both_languages_show_the_notice(api: Any) -> None:
    root = api.client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/personvern"
    nb = api.client.get("/personvern")
    assert nb.status_code == 200 and 'lang="nb"' in nb.text
    assert "Personvern hos 24 Center" in nb.text or "24 Center" in nb.text
    assert 'action="/personvern/foresporsel"' in nb.text and 'href="/privacy"' in nb.text
    en = api.client.get("/privacy")
    assert en.status_code == 200 and 'lang="en"' in en.text and "Use your rights" in en.text
    assert "set-cookie" not in {k.lower() for k in en.headers}  # the page sets no cookie
    assert "<script" not in en.text or 'src="/consent.js"' in en.text  # no inline script


def test_a_visitor_asks_types_the_code_and_gets_a_receipt(api: Any, messages: Outbox) -> None:
    customer(api)
    posted = api.client.post(
        "/privacy/request", data={"type": "access", "contact": "41 23 45 67"}, follow_redirects=False
    )
    assert posted.status_code == 303, posted.text
    code_page = posted.headers["location"]
    assert re.fullmatch(r"/privacy/request/[0-9a-f]+\?via=sms", code_page)
    page = api.client.get(code_page)
    assert "mobile number you gave" in page.text
    code = code_in(messages()[-1]["text"])
    wrong = api.client.post(code_page.split("?")[0], data={"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 422 and "Tries left: 4" in wrong.text
    done = api.client.post(code_page.split("?")[0], data={"code": code})
    assert done.status_code == 200 and "Your request is registered" in done.text
    assert "25 Dec 2026" in done.text


def test_problems_are_shown_by_their_field_and_nothing_is_stored(api: Any) -> None:
    before = snapshot(api.pv.db_url)
    page = api.client.post("/personvern/foresporsel", data={"type": "access", "contact": "12"})
    assert page.status_code == 422
    assert 'id="f-contact-error"' in page.text and 'aria-invalid="true"' in page.text
    wrong_field = api.client.post(
        "/personvern/foresporsel", data={"type": "rectification", "contact": PHONE, "field": "email", "value": "x"}
    )
    assert wrong_field.status_code == 422 and 'id="f-value-error"' in wrong_field.text
    assert snapshot(api.pv.db_url) == before


def test_the_answer_page_sends_a_code_and_serves_the_zip_once(api: Any, messages: Outbox) -> None:
    customer(api)
    posted = api.client.post(
        "/personvern/foresporsel", data={"type": "access", "contact": PHONE}, follow_redirects=False
    )
    pending = posted.headers["location"].split("?")[0]
    api.client.post(pending, data={"code": code_in(messages()[-1]["text"])})
    rid = api.get("/api/v1/requests").json()["items"][0]["id"]
    assert api.post(f"/api/v1/requests/{rid}/fulfil", json={}).status_code == 200
    link = re.search(r"http://127\.0\.0\.1:8000(/personvern/svar/[\w-]+)", messages()[-1]["text"])
    assert link, messages()[-1]["text"]
    page = api.client.get(link.group(1))
    assert (page.status_code == 200 and "Send meg en kode" in page.text) or "Send me a code" in page.text
    sent = api.client.post(f"{link.group(1)}/kode", follow_redirects=False)
    assert sent.status_code == 303
    code = code_in(messages()[-1]["text"])
    got = api.client.post(f"{link.group(1)}/hent", data={"code": code})
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    assert got.content[:2] == b"PK"
    again = api.client.get(link.group(1))
    assert (again.status_code == 200 and "works once" in again.text) or "én gang" in again.text
    refused = api.client.post(f"{link.group(1)}/hent", data={"code": code})
    assert refused.status_code == 409
    assert api.client.get("/personvern/svar/not-a-real-token").status_code == 404


def test_the_consent_link_goes_to_the_number_typed_and_the_page_reads_the_same(api: Any, messages: Outbox) -> None:
    customer(api)
    pages = []
    for phone in (PHONE, "+4799887766"):
        page = api.client.post("/privacy/consent", data={"contact": phone})
        assert page.status_code == 200
        pages.append(page.text)
    assert pages[0] == pages[1]
    texts = [m["text"] for m in messages()]
    assert re.search(r"http://127\.0\.0\.1:8000/privacy/consent/[\w.-]+", texts[0])
    assert "We hold none" in texts[1] and "http" not in texts[1]
    refused = api.client.post("/personvern/samtykke", data={"contact": "not a number"})
    assert refused.status_code == 422 and 'id="f-consent_contact-error"' in refused.text


def test_the_console_shows_the_answer_links_fate(api: Any, messages: Outbox, console: Any) -> None:
    customer(api)
    posted = api.client.post("/privacy/request", data={"type": "access", "contact": PHONE}, follow_redirects=False)
    api.client.post(posted.headers["location"].split("?")[0], data={"code": code_in(messages()[-1]["text"])})
    from personvern.services import rights

    _today, found = rights.list_requests(api.runtime.context())
    rid = found[0].id
    page = console.signed_in("ceo")  # the console's own CEO (the API's token user is not needed here)
    assert page.post(f"/console/requests/{rid}/fulfil").status_code == 200
    shown = page.get(f"/console/requests/{rid}").text
    assert "The answer&#39;s link" in shown or "The answer's link" in shown
    assert "not yet" in shown
    token = re.search(r"/privacy/answer/([\w-]+)", messages()[-1]["text"])
    assert token
    link = f"/privacy/answer/{token.group(1)}"
    api.client.post(f"{link}/code")
    got = api.client.post(f"{link}/fetch", data={"code": code_in(messages()[-1]["text"])})
    assert got.status_code == 200
    assert "not yet" not in page.get(f"/console/requests/{rid}").text
