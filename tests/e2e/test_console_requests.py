"""The request workflow through the console's forms: open, verify, extend, fulfil or reject, the answer as a zip."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

from personvern.services import register
from tests.e2e.support import ONE_TIME, count, values


def _request_id(response):
    assert response.status_code == 303, response.text[:1000]
    found = re.fullmatch(r"/console/requests/([0-9a-f]{32})\?said=opened", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


def test_an_access_request_from_opened_to_a_downloaded_answer(console):
    kari = register.add_subject(console.runtime.context(), ONE_TIME, values(1), {}).id
    page = console.signed_in("ceo")
    form = page.get(f"/console/requests/new?subject={kari}")
    assert form.status_code == 200 and f'value="{kari}"' in form.text
    request_id = _request_id(
        page.post("/console/requests/new", {"type": "access", "email": "Person1@Example.no", "channel": "email"})
    )
    opened = page.get(f"/console/requests/{request_id}?said=opened")
    assert "received, not verified" in opened.text and kari in opened.text
    # Nothing is disclosed before the identity is verified: fulfilling now is refused, in words.
    early = page.post(f"/console/requests/{request_id}/fulfil")
    assert early.status_code == 409 and "application/zip" not in early.headers["content-type"]
    bad = page.post(f"/console/requests/{request_id}/verify", {"method": "a hunch"})
    assert bad.status_code == 422 and 'id="f-method-error"' in bad.text
    verified = page.post(f"/console/requests/{request_id}/verify", {"method": "bankid"})
    assert verified.status_code == 303 and "The identity is verified." in page.follow(verified).text
    no_reason = page.post(f"/console/requests/{request_id}/extend", {"reason": "", "months": "2"})
    assert no_reason.status_code == 422 and 'id="f-reason-error"' in no_reason.text
    extended = page.post(f"/console/requests/{request_id}/extend", {"reason": "many requests", "months": "1"})
    assert extended.status_code == 303
    answer = page.post(f"/console/requests/{request_id}/fulfil")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert f'filename="request-{request_id}.zip"' in answer.headers["content-disposition"]
    files = zipfile.ZipFile(io.BytesIO(answer.content))
    assert files.namelist() == ["letter.html", "data.json"]
    assert b"person1@example.no" in files.read("data.json")
    done = page.get(f"/console/requests/{request_id}")
    assert "fulfilled" in done.text
    for name in files.namelist():  # the page names the very files downloaded, by their sha256
        assert hashlib.sha256(files.read(name)).hexdigest() in done.text, name
    again = page.post(f"/console/requests/{request_id}/fulfil")
    assert again.status_code == 409
    # The answer's files are kept sealed for the policy's keep_answer: the same zip can be fetched again.
    assert f"/console/requests/{request_id}/package" in done.text
    fetched = page.get(f"/console/requests/{request_id}/package")
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(fetched.content)).read("data.json") == files.read("data.json")
    staff = console.signed_in("staff")
    assert staff.get(f"/console/requests/{request_id}/package").status_code == 403
    listed = page.get("/console/requests?all=1")
    assert request_id in listed.text


def test_a_rejection_downloads_the_letter_and_bad_input_stores_nothing(console):
    page = console.signed_in("ceo")
    before = count(console.pv.db_url, "requests")
    none = page.post("/console/requests/new", {"type": "access", "channel": "email"})
    assert none.status_code == 422 and 'id="f-identity-error"' in none.text
    two = page.post("/console/requests/new", {"type": "access", "email": "a@example.no", "phone": "41000001"})
    assert two.status_code == 422 and 'id="f-identity-error"' in two.text
    bad_email = page.post("/console/requests/new", {"type": "access", "email": "not an address"})
    assert bad_email.status_code == 422 and 'id="f-email-error"' in bad_email.text
    bad_type = page.post("/console/requests/new", {"type": "gossip", "email": "a@example.no"})
    assert bad_type.status_code == 422 and 'id="f-type-error"' in bad_type.text
    bad_line = page.post(
        "/console/requests/new", {"type": "rectification", "email": "a@example.no", "corrections": "no equals sign"}
    )
    assert bad_line.status_code == 422 and 'id="f-corrections-error"' in bad_line.text
    assert count(console.pv.db_url, "requests") == before
    # Someone who is not a customer gets a request and an answer too (the answer says we hold nothing).
    request_id = _request_id(page.post("/console/requests/new", {"type": "erasure", "phone": "41 00 00 99"}))
    assert "nobody in the register" in page.get(f"/console/requests/{request_id}").text
    no_reason = page.post(f"/console/requests/{request_id}/reject", {"rejection": " "})
    assert no_reason.status_code == 422 and 'id="f-rejection-error"' in no_reason.text
    letter = page.post(f"/console/requests/{request_id}/reject", {"rejection": "manifestly unfounded"})
    assert letter.headers["content-type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(letter.content)).namelist() == ["letter.html"]
    assert "rejected" in page.get(f"/console/requests/{request_id}").text


def test_a_rectification_opened_through_the_form_corrects_the_value(console):
    kari = register.add_subject(console.runtime.context(), ONE_TIME, values(1), {}).id
    page = console.signed_in("ceo")
    request_id = _request_id(
        page.post(
            "/console/requests/new",
            {"type": "rectification", "subject": kari, "corrections": "full_name = Kari Nordmann", "channel": "letter"},
        )
    )
    assert page.post(f"/console/requests/{request_id}/verify", {"method": "signed_letter"}).status_code == 303
    assert page.post(f"/console/requests/{request_id}/fulfil").status_code == 200
    assert "Kari Nordmann" in page.get(f"/console/subjects/{kari}").text


def test_only_the_roles_that_handle_requests_see_them(console):
    staff = console.signed_in("staff")
    assert staff.get("/console/requests").status_code == 403
    refused = staff.post("/console/requests/new", {"type": "access", "email": "a@example.no"})
    assert refused.status_code == 403 and "may not open a data subject request" in refused.text
    assert staff.get("/console/requests/0123456789abcdef0123456789abcdef").status_code == 403
    ceo = console.signed_in("ceo")
    assert ceo.get("/console/requests/0123456789abcdef0123456789abcdef").status_code == 404


def test_an_erasure_is_carried_out_only_once_confirmed(console):
    kari = register.add_subject(console.runtime.context(), ONE_TIME, values(1), {}).id
    page = console.signed_in("ceo")
    request_id = _request_id(page.post("/console/requests/new", {"type": "erasure", "subject": kari}))
    assert page.post(f"/console/requests/{request_id}/verify", {"method": "in_person"}).status_code == 303
    form = page.get(f"/console/requests/{request_id}")
    assert 'for="f-confirm"' in form.text
    unconfirmed = page.post(f"/console/requests/{request_id}/fulfil")
    assert unconfirmed.status_code == 422 and 'id="f-confirm-error"' in unconfirmed.text
    assert count(console.pv.db_url, "subjects") == 1
    erased = page.post(f"/console/requests/{request_id}/fulfil", {"confirm": "yes"})
    assert erased.headers["content-type"] == "application/zip"
    assert count(console.pv.db_url, "subjects") == 0
    assert page.get(f"/console/subjects/{kari}").status_code == 404
