"""The console's customers: look-up by each kind of text, the subject page, add and edit forms built from the policy."""

from __future__ import annotations

from personvern.services import consent, register
from tests.e2e.support import CONTRACT, ONE_TIME, ORG_A, count, values


def _add(console, n, kind=ONE_TIME):
    ctx = console.runtime.context()
    return register.add_subject(ctx, kind, values(n, kind), {}).id


def test_look_up_by_email_phone_organisation_name_and_id(console):
    kari = _add(console, 1)
    ola = _add(console, 2, CONTRACT)
    page = console.signed_in("staff")
    for q, by in (
        ("PERSON1@example.no", "auto"),
        ("41 000 001", "auto"),
        (kari, "auto"),
        ("person 1 nordmann", "name"),
        ("Person 1 Nordmann", "auto"),
    ):
        found = page.get("/console/subjects", params={"q": q, "by": by})
        assert found.status_code == 200, (q, found.text[:300])
        assert f"/console/subjects/{kari}" in found.text, q
        assert f"/console/subjects/{ola}" not in found.text, q
    business = page.get("/console/subjects", params={"q": ORG_A})
    assert f"/console/subjects/{ola}" in business.text and f"/console/subjects/{kari}" not in business.text
    nobody = page.get("/console/subjects", params={"q": "nobody@example.no"})
    assert nobody.status_code == 200 and "no subject in the register has that email" in nobody.text
    bad = page.get("/console/subjects", params={"q": "not-an-email@", "by": "email"})
    assert bad.status_code == 422 and "email" in bad.text


def test_the_subject_page_shows_values_consent_with_receipts_retention_and_requests(console):
    kari = _add(console, 1)
    ctx = console.runtime.context()
    given = consent.give_consent(ctx, kari, "marketing", "sms", "phone")
    page = console.signed_in("ceo")
    shown = page.get(f"/console/subjects/{kari}")
    assert shown.status_code == 200
    text = shown.text
    assert "<title>Person 1 Nordmann – personvern</title>" in text
    for expected in ("person1@example.no", "+4741000001", "Consent", "in force", "How long it is kept"):
        assert expected in text, expected
    assert "What each processor received" in text and "Requests from the person" in text
    receipt = page.get(f"/console/subjects/{kari}/receipts/{given.event.id}")
    assert receipt.status_code == 200 and given.event.id in receipt.text and "Consent receipt" in receipt.text
    assert page.get(f"/console/subjects/{kari}/receipts/nope").status_code == 404
    assert page.get("/console/subjects/0123456789abcdef0123456789abcdef").status_code == 404


def test_the_add_form_shows_each_error_beside_its_field_and_stores_nothing(console):
    page = console.signed_in("staff")
    chooser = page.get("/console/subjects/new")
    assert chooser.status_code == 200 and 'name="kind"' in chooser.text
    form = page.get("/console/subjects/new", params={"kind": CONTRACT})
    for name in ("full_name", "phone", "email", "organisation_number", "organisation_name", "billing_address"):
        assert f'id="f-{name}"' in form.text and f'for="f-{name}"' in form.text, name
    before = count(console.pv.db_url, "subjects")
    bad = page.post(
        "/console/subjects/new",
        {
            "kind": CONTRACT,
            "full_name": "Ola Hansen",
            "phone": "12",
            "email": "ola@firma.no",
            "organisation_number": "123456789",
            "organisation_name": "Firma AS",
            "billing_address": "Postboks 12, 0601 Oslo",
        },
    )
    assert bad.status_code == 422
    for field in ("phone", "organisation_number", "billing_address"):  # billing_address: no reason given
        assert f'id="f-{field}-error"' in bad.text, field
    assert 'id="f-email-error"' not in bad.text
    assert 'value="Ola Hansen"' in bad.text  # what was typed is kept
    assert count(console.pv.db_url, "subjects") == before
    good = page.post(
        "/console/subjects/new",
        {
            "kind": CONTRACT,
            "full_name": "Ola Hansen",
            "phone": "482 13 390",
            "email": "ola@firma.no",
            "organisation_number": ORG_A,
            "organisation_name": "Firma AS",
            "billing_address": "Postboks 12, 0601 Oslo",
            "why_billing_address": "invoices go to the PO box",
        },
    )
    assert good.status_code == 303, good.text[:1000]
    added = page.follow(good)
    assert "The customer is added." in added.text and "+4748213390" in added.text
    assert count(console.pv.db_url, "subjects") == before + 1
    twice = page.post(
        "/console/subjects/new",
        {"kind": ONE_TIME, "full_name": "Ola Igjen", "phone": "48213390", "email": "other@firma.no"},
    )
    assert twice.status_code == 409 and "already registered" in twice.text
    assert count(console.pv.db_url, "subjects") == before + 1


def test_the_edit_form_changes_removes_and_refuses_by_field(console):
    kari = _add(console, 1)
    page = console.signed_in("staff")
    form = page.get(f"/console/subjects/{kari}/edit")
    assert 'value="person1@example.no"' in form.text
    same = page.post(
        f"/console/subjects/{kari}/edit",
        {"full_name": "Person 1 Nordmann", "phone": "+4741000001", "email": "person1@example.no"},
    )
    assert same.status_code == 422 and "Nothing was changed" in same.text
    bad = page.post(
        f"/console/subjects/{kari}/edit",
        {"full_name": "Person 1 Nordmann", "phone": "+4741000001", "email": "kari@"},
    )
    assert bad.status_code == 422 and 'id="f-email-error"' in bad.text
    needs_reason = page.post(
        f"/console/subjects/{kari}/edit",
        {
            "full_name": "Person 1 Nordmann",
            "phone": "+4741000001",
            "email": "person1@example.no",
            "postal_address": "x",
        },
    )
    assert needs_reason.status_code == 422 and 'id="f-postal_address-error"' in needs_reason.text
    done = page.post(
        f"/console/subjects/{kari}/edit",
        {"full_name": "Kari Nordmann", "phone": "+4741000001", "email": "kari@example.no"},
    )
    assert done.status_code == 303
    shown = page.follow(done)
    assert "Kari Nordmann" in shown.text and "kari@example.no" in shown.text
    # A required field left empty cannot be removed.
    emptied = page.post(f"/console/subjects/{kari}/edit", {"full_name": "Kari Nordmann", "phone": "+4741000001"})
    assert emptied.status_code == 422 and 'id="f-email-error"' in emptied.text
