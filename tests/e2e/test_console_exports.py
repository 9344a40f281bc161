"""The accounting export in the console on both databases: SAF-T for Finago by the CEO, the auditor's own copy,
refusals by role and bad input, each export recorded (issue 15)."""

from __future__ import annotations

from tests.e2e.support import NOW, add, assert_ok, count
from tests.saft_schema import errors as saft_errors


def _customer(console, n: int) -> str:
    sid = add(console.pv, n)
    assert_ok(console.pv("relationship", "start", sid, "--type", "order", "--now", NOW))
    return sid


def test_the_ceo_downloads_saft_for_finago_and_the_auditor_a_csv_of_their_own(console) -> None:
    _customer(console, 1)
    _customer(console, 2)
    ceo = console.signed_in("ceo")
    shown = ceo.get("/console/exports")
    assert shown.status_code == 200 and 'action="/console/exports"' in shown.text
    assert 'value="finago"' in shown.text and 'href="/console/exports"' in shown.text  # in the menu too
    assert '<option value="finago" selected>' in shown.text  # as `export saft` without --recipient
    saft = ceo.post("/console/exports", {"format": "saft", "recipient": "finago"})
    assert saft.status_code == 200, saft.text[:500]
    assert saft.headers["content-type"].startswith("application/xml")
    assert saft.headers["content-disposition"].startswith('attachment; filename="customers-finago-')
    assert saft_errors(saft.content) == []
    assert count(console.pv.db_url, "exports") == 1

    auditor = console.signed_in("auditor")
    theirs = auditor.get("/console/exports")
    assert theirs.status_code == 200 and 'value="auditor"' in theirs.text and 'value="finago"' not in theirs.text
    assert auditor.post("/console/exports", {"format": "saft", "recipient": "finago"}).status_code == 403
    copy = auditor.post("/console/exports", {"format": "csv", "recipient": "auditor"})
    assert copy.status_code == 200 and copy.headers["content-type"].startswith("text/csv")
    assert copy.content.decode("utf-8").count("\n") >= 3  # the header and the two customers
    assert count(console.pv.db_url, "exports") == 2


def test_other_roles_and_bad_input_are_refused_and_nothing_is_recorded(console) -> None:
    _customer(console, 1)
    for role in ("staff", "marketing"):
        page = console.signed_in(role)
        assert page.get("/console/exports").status_code == 403
        assert page.post("/console/exports", {"format": "csv", "recipient": "finago"}).status_code == 403
    ceo = console.signed_in("ceo")
    bad = ceo.post("/console/exports", {"format": "pdf", "recipient": "finago"})
    assert bad.status_code == 422 and 'id="f-format-error"' in bad.text
    nobody = ceo.post("/console/exports", {"format": "csv", "recipient": "hubspot"})
    assert nobody.status_code == 422 and 'id="f-recipient-error"' in nobody.text
    assert ceo.post("/console/exports", {"format": "csv", "recipient": "finago"}, csrf=False).status_code == 403
    assert count(console.pv.db_url, "exports") == 0
