"""The accounting exports (services.exports): SAF-T that validates, CSV that no spreadsheet runs, each a disclosure."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET

import pytest

from personvern.domain.errors import Forbidden, InvalidInput
from personvern.reports.accounting import NS, split_name
from personvern.reports.spreadsheet import cell as safe_cell
from personvern.services import consent, exports, processors, record, register, rights
from personvern.services.context import Context
from tests.saft_schema import errors
from tests.unit.fakes import FakeUnitOfWorkFactory

ORG = "974760673"
KARI = {"full_name": "Kåre Ødegård Ærlig", "phone": "+4791234567", "email": "kaare@example.no"}
FIRMA = {
    "full_name": "Åse Bjørnstad",
    "phone": "+4791234568",
    "email": "ase@firma.no",
    "organisation_number": ORG,
    "organisation_name": "Bøler Økonomi AS",
}
Q = f"{{{NS}}}"


def customer(ceo: Context, kind: str, values: dict[str, str], reasons: dict[str, str] | None = None) -> str:
    sid = register.add_subject(ceo, kind, values, reasons or {}).id
    register.start_relationship(ceo, sid, "order")
    return sid


@pytest.fixture
def people(ceo: Context) -> dict[str, str]:
    return {
        "private": customer(ceo, "one_time_customer", KARI, {}),
        "company": customer(
            ceo,
            "contract_customer",
            FIRMA | {"billing_address": "Postboks 12 Økern, 0508 Oslo", "invoice_reference": "=HYPERLINK(1)"},
            {"billing_address": "invoices", "invoice_reference": "invoices"},
        ),
        # Held for marketing alone, no order: not in the accounts.
        "prospect": register.add_subject(
            ceo, "one_time_customer", {"full_name": "Per Prospekt", "phone": "+4791234569", "email": "per@x.no"}, {}
        ).id,
    }


def test_the_saft_export_validates_against_skatteetatens_schema(ceo: Context, people: dict[str, str]) -> None:
    done = exports.export_customers(ceo, "saft")
    assert errors(done.content) == []
    root = ET.fromstring(done.content)
    found = {c.findtext(f"{Q}CustomerID"): c for c in root.iter(f"{Q}Customer")}
    assert set(found) == {people["private"], people["company"]}
    private, company = found[people["private"]], found[people["company"]]
    assert private.findtext(f"{Q}Name") == "Kåre Ødegård Ærlig"
    assert private.findtext(f"{Q}PartyInfo/{Q}Type") == "Private"
    assert private.findtext(f"{Q}Contact/{Q}ContactPerson/{Q}LastName") == "Ærlig"
    assert private.findtext(f"{Q}Contact/{Q}Email") == "kaare@example.no"
    assert company.findtext(f"{Q}RegistrationNumber") == ORG
    assert company.findtext(f"{Q}Name") == "Bøler Økonomi AS"
    assert company.findtext(f"{Q}PartyInfo/{Q}Type") == "Company"
    address = company.find(f"{Q}Address")
    assert address is not None
    assert [address.findtext(f"{Q}{n}") for n in ("StreetName", "Number", "City", "PostalCode", "AddressType")] == [
        "Postboks 12 Økern",
        None,
        "Oslo",
        "0508",
        "BillingAddress",
    ]
    header = root.find(f"{Q}Header/{Q}Company")
    assert header is not None and header.findtext(f"{Q}RegistrationNumber") == ceo.policy.accounting.organisation_number  # type: ignore[union-attr]
    # Only the fields the policy gives Finago: never the phone, never a national identity number.
    assert b"+4791234567" not in done.content and b"91234567" not in done.content
    assert done.record.fields == (
        "full_name",
        "email",
        "organisation_number",
        "organisation_name",
        "company_name",
        "billing_address",
        "invoice_reference",
    )


def test_each_export_is_a_disclosure_in_the_access_answer_the_audit_and_the_record(
    ceo: Context, factory: FakeUnitOfWorkFactory, people: dict[str, str]
) -> None:
    done = exports.export_customers(ceo, "saft")
    assert done.record.subjects == 2
    with factory() as uow:
        [finago] = [t for t in processors.transfers(uow, people["private"]) if t.recipient == "finago"]
        assert uow.exports.recipients_of(list(people.values())) == {
            people["private"]: {"finago"},
            people["company"]: {"finago"},
        }
    assert (finago.kinds, finago.fields, finago.delivered) == (("export.saft",), ("email", "full_name"), 1)
    trail = [(e.subject_id, e.action) for e in factory.audit_entries() if e.action == "subject.disclose"]
    assert sorted(trail) == sorted((sid, "subject.disclose") for sid in (people["private"], people["company"]))
    assert "Kåre" not in json.dumps([dict(e.details) for e in factory.audit_entries()], ensure_ascii=False)
    data, _text = record.record_of_processing(ceo)
    [row] = [r for r in data["figures"]["deliveries"] if r["kind"] == "export.saft"]
    assert (row["recipient"], row["delivered"]) == ("finago", 2)
    opened = rights.open_request(ceo, "access", subject_id=people["private"])
    rights.verify_request(ceo, opened.request.id, "bankid")
    answer = json.loads(rights.fulfil_request(ceo, opened.request.id).files["data.json"])
    assert [r["recipient"] for r in answer["recipients"]] == ["finago"]


def test_the_csv_export_neutralises_cells_that_look_like_formulas(ceo: Context, people: dict[str, str]) -> None:
    done = exports.export_customers(ceo, "csv")
    text = done.content.decode("utf-8")
    assert text.startswith("\ufeffcustomer_id,type,status,full_name,email,")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    company = next(r for r in rows if r["customer_id"] == people["company"])
    assert company["invoice_reference"] == "'=HYPERLINK(1)"
    assert company["organisation_name"] == "Bøler Økonomi AS" and company["type"] == "company"
    assert "phone" not in rows[0]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+2", "'=1+2"),
        ("+4791234567", "+4791234567"),  # a number calls nothing and stays machine-readable
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Kari", "Kari"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_safe_cell(value: str, shown: str) -> None:
    assert safe_cell(value) == shown


def test_a_restricted_customer_is_left_out(ceo: Context, people: dict[str, str]) -> None:
    consent.restrict(ceo, people["private"])
    done = exports.export_customers(ceo, "csv")
    assert done.restricted_left_out == 1 and done.record.subjects == 1
    assert people["private"].encode() not in done.content


def test_the_auditor_exports_the_auditors_copy_only(as_role, people: dict[str, str]) -> None:
    auditor = as_role("auditor")
    done = exports.export_customers(auditor, "saft")
    assert done.record.recipient == "auditor"
    with pytest.raises(Forbidden, match="auditor's own copy"):
        exports.export_customers(auditor, "saft", "finago")
    for role in ("staff", "marketing"):
        with pytest.raises(Forbidden, match="export customers' master data"):
            exports.export_customers(as_role(role), "csv")


def test_bad_input_names_the_field_and_records_nothing(
    ceo: Context, factory: FakeUnitOfWorkFactory, people: dict[str, str]
) -> None:
    commits = factory.commits
    with pytest.raises(InvalidInput) as bad:
        exports.export_customers(ceo, "xlsx")
    assert bad.value.problems[0].field == "format"
    with pytest.raises(InvalidInput) as bad:
        exports.export_customers(ceo, "csv", "hubspot")
    assert bad.value.problems[0].field == "recipient"
    without = Context(ceo.policy.model_copy(update={"accounting": None}), ceo.uow, ceo.clock, ceo.actor)
    with pytest.raises(InvalidInput) as bad:
        exports.export_customers(without, "saft")
    assert bad.value.problems[0].field == "accounting" and "organisation number" in str(bad.value)
    assert factory.commits == commits


def test_a_street_address_is_taken_apart() -> None:
    from personvern.reports.accounting import Fitted, _address

    node = ET.Element("x")
    _address(node, "Storgata 1B\n0155 Oslo", "BillingAddress", Fitted())
    [address] = list(node)
    assert [(c.tag.removeprefix(Q), c.text) for c in address] == [
        ("StreetName", "Storgata"),
        ("Number", "1B"),
        ("City", "Oslo"),
        ("PostalCode", "0155"),
        ("Country", "NO"),
        ("AddressType", "BillingAddress"),
    ]


def test_names_split_into_first_and_last() -> None:
    assert split_name("Kari Hansen Nordmann") == ("Kari Hansen", "Nordmann")
    assert split_name("Cher") == ("Cher", "")
