"""`personvern record export`: the record of processing from the policy and the live register, on both databases."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest

from tests.e2e.support import NOW, Cases, add, assert_ok, assert_refused
from tests.fakes_linkmobility import FakeLink, pointed_at

LATER = "2026-11-25T13:00:00+00:00"


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLink]:
    fake = FakeLink()
    with pointed_at(fake, monkeypatch):
        yield fake


def test_export_counts_the_register_and_the_processors_used(pv_ready, link):
    data = pv_ready.json("record", "export")
    assert data["figures"]["total_subjects"] == 0 and data["figures"]["processors_used"] == []
    sid = add(pv_ready, 1)
    add(pv_ready, 2, "contract_customer")
    assert_ok(pv_ready("relationship", "start", sid, "--now", NOW))
    assert_ok(
        pv_ready("sms", "send", sid, "--purpose", "service", "--text", "Nøkkelkortet er klart", "--yes", "--now", NOW)
    )
    assert pv_ready.json("worker", "--once", "--now", LATER)["delivered"] == 1
    data = pv_ready.json("record", "export", "--lang", "en", "--now", LATER)
    assert data["figures"]["subjects"] == {"one_time_customer": 1, "contract_customer": 1, "business_representative": 0}
    assert data["figures"]["processors_used"] == ["LINK Mobility Oy"]
    [sms] = data["figures"]["deliveries"]
    assert (sms["kind"], sms["recipient"], sms["delivered"]) == ("sms", "linkmobility", 1)
    assert data["overall_risk"] == "low"
    assert data["generated_at"] == LATER


def test_export_as_csv_and_html_in_both_languages(pv_ready):
    result = pv_ready("record", "export", "--format", "csv", "--lang", "nb")
    assert_ok(result)
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["section", "item", "attribute", "value"]
    assert ["purposes", "marketing", "legal_basis", "6(1)(a)"] in rows
    assert ["transfers", "0", "country", "US"] in rows
    html = pv_ready("record", "export", "--format", "html", "--lang", "en")
    assert_ok(html)
    assert "<h2>Transfers outside the EEA (Article 30(1)(e))</h2>" in html.stdout
    nb = pv_ready("record", "export", "--format", "html")
    assert "<h2>Risikovurdering</h2>" in nb.stdout and "Samlet risiko" in nb.stdout


def test_the_auditor_may_read_it(pv_ready):
    data = pv_ready.json("record", "export", "--role", "auditor")
    assert data["title"] == "Protokoll over behandlingsaktiviteter for 24 Center AS"


def test_bad_input_is_refused_and_nothing_is_stored(pv_ready, unchanged):
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("unknown format", ("--format", "pdf"), 3, ("format", "json, csv, html")),
            ("unknown language", ("--lang", "de"), 3, ("lang", "nb, en")),
            ("--json with csv", ("--format", "csv", "--json"), 3, ("format", "--json prints the record as JSON")),
            ("staff", ("--role", "staff"), 6, ("role 'staff' may not",)),
            ("marketing", ("--role", "marketing"), 6, ("role 'marketing' may not",)),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("record", "export", *args), code, *needles)
    cases.check()


def test_the_notice_and_the_record_hold_no_personal_data(pv):
    """Load the demo register, then look for every person's every value in every rendering."""
    assert_ok(pv("demo", "--subjects", "40", "--now", NOW))
    listed = pv.json("subject", "list", "--limit", "1000")
    values = {v for s in listed["subjects"] for v in s["values"].values() if len(v) >= 4}
    ids = {s["id"] for s in listed["subjects"]}
    assert len(values) > 100
    documents = {}
    for lang in ("nb", "en"):
        for fmt in ("md", "html"):
            documents[f"notice {lang} {fmt}"] = pv.json("notice", "render", "--lang", lang, "--format", fmt)["text"]
        for fmt in ("json", "csv", "html"):
            result = pv("record", "export", "--lang", lang, "--format", fmt)
            assert_ok(result)
            documents[f"record {lang} {fmt}"] = result.stdout
    record = json.loads(documents["record nb json"])
    assert record["figures"]["total_subjects"] == 40
    for name, text in documents.items():
        folded = text.casefold()
        leaked = sorted(v for v in values if v.casefold() in folded)
        assert not leaked, f"{name} holds personal data: {leaked[:5]}"
        assert not any(i in text for i in ids), f"{name} names a subject"
