"""The record of processing (Art. 30(1)): every element, the roles and what they reach, risks, and live figures."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from personvern.domain.access import Permission
from personvern.domain.errors import Forbidden, InvalidInput
from personvern.policy.loader import load_policy, parse_policy
from personvern.reports.record import build_record, render_record, risk_level
from personvern.reports.record_text import PHRASES
from personvern.services import messaging, outbox, register
from personvern.services.context import Context
from personvern.services.record import record_of_processing
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory

SHA = "c" * 64


@pytest.fixture
def ctx(ceo: Context) -> Context:
    return replace(ceo, policy_sha256=SHA)


def customers(ctx: Context) -> list[str]:
    ids = []
    for n, kind in enumerate(["one_time_customer", "one_time_customer", "contract_customer"], start=1):
        values = {"full_name": f"Kari {n} Nordmann", "phone": f"+474100000{n}", "email": f"kari{n}@example.no"}
        if kind == "contract_customer":
            values |= {"organisation_number": "974760673", "organisation_name": "Firma AS"}
        ids.append(register.add_subject(ctx, kind, values, {}).id)
    return ids


def test_every_element_of_article_30_1(ctx: Context) -> None:
    record, _ = record_of_processing(ctx, "en")
    controller = record["controller"]
    assert (controller["name"], controller["address"]) == ("24 Center AS", "Østensjøveien 43, 0667 Oslo")
    assert controller["privacy_contact"] == {
        "role": "Chief Executive Officer",
        "email": "personvern@24center.no",
        "phone": None,
    }
    assert [p["key"] for p in record["purposes"]] == ["service", "marketing", "bookkeeping", "b2b_contact"]
    assert record["purposes"][3]["legal_basis"] == "6(1)(f)"
    assert [k["key"] for k in record["data_subjects"]] == [
        "one_time_customer",
        "contract_customer",
        "business_representative",
    ]
    assert len(record["personal_data"]) == 11
    assert {r["key"]: r["category"] for r in record["recipients"]} == {
        "auditor": "independent_controller",
        "finago": "processor",
        "hubspot": "processor",
        "linkmobility": "processor",
    }
    [transfer] = record["transfers"]
    assert (transfer["recipient"], transfer["country_name"]) == ("HubSpot", "United States")
    assert "Data Privacy Framework" in transfer["basis"]
    periods = {r["key"]: r["period"] for r in record["retention"]["rules"]}
    assert periods["marketing_consent"] == (
        "up to 10 years from when we received the data, and only as long as the consent lasts"
    )
    assert record["retention"]["message_texts"] == "90 days"
    assert "AES-256-GCM" in record["security"]["measures"]
    assert "72 hours" in record["security"]["breach_handling"]
    assert record["policy"] == {"version": "2026.1", "sha256": SHA}
    assert record["generated_at"] == NOW.isoformat()


def test_the_roles_and_what_each_may_reach(ctx: Context) -> None:
    roles = {r["key"]: r for r in record_of_processing(ctx, "en")[0]["roles"]}
    assert set(roles) == {"ceo", "staff", "marketing", "auditor"}
    assert roles["ceo"]["reaches"] == "Every field in the register; the archive too"
    assert "keep the breach register and notify breaches" in roles["ceo"]["may"]
    assert roles["staff"]["reaches"] == "Every field in the register"
    assert "read the archive" not in roles["staff"]["may"]
    # The auditor sees only the fields that serve bookkeeping (Art. 5(1)(c)).
    assert "national identity number" not in roles["auditor"]["fields"]
    assert {"full name", "billing address", "invoice reference"} <= set(roles["auditor"]["fields"])
    assert roles["marketing"]["reaches"] == "Only mobile phone number and email address of those who consented"
    assert roles["marketing"]["permissions"] == ["audience.read", "sms.marketing"]


def test_the_risk_assessment_is_low_as_the_seed_judges(ctx: Context) -> None:
    record, _ = record_of_processing(ctx, "nb")
    assert [(r["key"], r["level"]) for r in record["risks"]] == [
        ("unauthorised_access", "low"),
        ("over_retention", "low"),
    ]
    assert record["overall_risk"] == "low"
    assert (risk_level("low", "low"), risk_level("medium", "medium"), risk_level("high", "medium")) == (
        "low",
        "medium",
        "high",
    )


def test_live_figures_count_subjects_and_the_processors_actually_used(
    ctx: Context, factory: FakeUnitOfWorkFactory
) -> None:
    before = record_of_processing(ctx)[0]
    assert before["figures"]["total_subjects"] == 0 and before["figures"]["processors_used"] == []
    ids = customers(ctx)
    register.start_relationship(ctx, ids[0], "order")
    queued = messaging.send_sms(ctx, ids[0], "service", "Nøkkelkortet er klart")
    row = factory.state.outbox[queued.outbox_id]
    outbox.record_delivered(replace(ctx, clock=type(ctx.clock)(NOW + timedelta(minutes=1))), row, {"resultCode": 1005})
    record, _ = record_of_processing(ctx, "en")
    assert record["figures"]["subjects"] == {
        "one_time_customer": 2,
        "contract_customer": 1,
        "business_representative": 0,
    }
    assert record["figures"]["total_subjects"] == 3
    assert record["figures"]["deliveries"] == [
        {
            "kind": "sms",
            "recipient": "linkmobility",
            "delivered": 1,
            "last_at": (NOW + timedelta(minutes=1)).isoformat(),
        }
    ]
    assert record["figures"]["processors_used"] == ["LINK Mobility Oy"]
    link = next(r for r in record["recipients"] if r["key"] == "linkmobility")
    assert link["delivered"] == 1
    assert [d["count"] for d in record["data_subjects"]] == [2, 1, 0]


def test_reading_the_record_is_audited_without_personal_values(ctx: Context, factory: FakeUnitOfWorkFactory) -> None:
    record_of_processing(ctx, "nb", "csv")
    [entry] = [e for e in factory.audit_entries() if e.action == "record.export"]
    assert (entry.subject_id, dict(entry.details)) == (None, {"language": "nb", "format": "csv"})


def test_only_the_ceo_and_the_auditor_may_read_it(as_role) -> None:
    for role in ("staff", "marketing"):
        with pytest.raises(Forbidden):
            record_of_processing(as_role(role))
    assert record_of_processing(as_role("auditor"))[0]["language"] == "nb"


def test_bad_language_or_format_is_refused(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match="lang"):
        record_of_processing(ctx, "de")
    with pytest.raises(InvalidInput, match="format"):
        record_of_processing(ctx, "nb", "pdf")


def test_norwegian_and_english_have_the_same_shape(ctx: Context) -> None:
    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items() if k != "when_no_reason"}
        if isinstance(value, list):
            return [shape(v) for v in value]
        return type(value).__name__

    nb, en = record_of_processing(ctx, "nb")[0], record_of_processing(ctx, "en")[0]
    assert shape(nb) == shape(en)
    assert (
        nb["purposes"][0]["label"] == "gjennomføre avtalen" and en["purposes"][0]["label"] == "performing the agreement"
    )


def test_the_three_formats(ctx: Context) -> None:
    record, text = record_of_processing(ctx, "en", "json")
    assert json.loads(text) == record
    rows = list(csv.reader(io.StringIO(render_record(record, "csv"))))
    assert rows[0] == ["section", "item", "attribute", "value"]
    assert all(len(row) == 4 for row in rows)
    assert ["overall_risk", "", "", "low"] in rows
    assert ["recipients", "hubspot", "country", "US"] in rows
    consent = next(r for r in record["retention"]["rules"] if r["key"] == "marketing_consent")
    assert ["retention", "rules.marketing_consent", "period", consent["period"]] in rows
    html = render_record(record, "html")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    for heading in ("Controller (Article 30(1)(a))", "Internal roles and access", "Risk assessment"):
        assert heading in html
    assert "Overall risk to the data subjects&#39; rights and freedoms: low." in html


def test_html_escapes_the_policy_text() -> None:
    text = load_policy().text.replace('en = "Accounting system (processor)."', 'en = "<b>Books</b> & more."')
    record = build_record(parse_policy(text).policy, SHA, "en", NOW, {}, [])
    html = render_record(record, "html")
    assert "&lt;b&gt;Books&lt;/b&gt; &amp; more." in html and "<b>Books</b>" not in html


def test_every_permission_and_phrase_is_worded_in_both_languages() -> None:
    for permission in Permission:
        assert f"perm_{permission.value}" in PHRASES, permission
    for key, (nb, en) in PHRASES.items():
        assert nb.strip() and en.strip(), key
