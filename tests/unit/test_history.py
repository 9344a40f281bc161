"""The history columns of an import, row by row and in the header, and the column map of another system's export."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from personvern.domain.columns import parse_map
from personvern.domain.consent import ConsentMethod
from personvern.domain.errors import InvalidInput
from personvern.domain.history import NO_HISTORY, check_header, check_history
from personvern.policy.schema import Policy

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OSLO = timezone(timedelta(hours=1))  # Europe/Oslo in winter
VALUES = {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "kari@example.no"}
NOTICE = "4d1da4b1366b" + "0" * 52


def check(policy: Policy, **raw: str):  # type: ignore[no-untyped-def]
    return check_history(policy, VALUES, raw, NOW, line=7)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", datetime(2024, 3, 5, 0, 0, tzinfo=OSLO)),
        ("05.03.2024", datetime(2024, 3, 5, 0, 0, tzinfo=OSLO)),
        ("5.3.2024", datetime(2024, 3, 5, 0, 0, tzinfo=OSLO)),
        ("2024-03-05 14:30", datetime(2024, 3, 5, 14, 30, tzinfo=OSLO)),
        ("2024-03-05T14:30:00+00:00", datetime(2024, 3, 5, 14, 30, tzinfo=UTC)),
        ("2024-03-05T13:30:00Z", datetime(2024, 3, 5, 13, 30, tzinfo=UTC)),
    ],
)
def test_times_are_read_in_the_forms_exports_write_them(policy: Policy, text: str, expected: datetime) -> None:
    found, problems = check(policy, received_at=text)
    assert problems == [] and found.received_at == expected


def test_an_order_a_contract_and_a_consent_with_its_proof(policy: Policy) -> None:
    found, problems = check(
        policy,
        order_date="2024-05-01",
        contract_start="2027-01-01",  # a contract may be signed to begin later
        contract_end="2028-01-01",
        consent_sms_at="2020-01-01 10:00",
        consent_email_at="2021-05-05",
        consent_method="Paper",
        consent_proof="Signed form, binder «Samtykker 2020», page 14",
    )
    assert problems == []
    assert found.order == date(2024, 5, 1) and found.contract == (date(2027, 1, 1), date(2028, 1, 1))
    assert [c for c, _at in found.consents] == ["sms", "email"] and found.method is ConsentMethod.PAPER
    assert (found.notice, found.proof) == (None, "Signed form, binder «Samtykker 2020», page 14")
    by_notice, _ = check(policy, consent_sms_at="2020-01-01", consent_method="web", consent_proof=NOTICE.upper())
    assert (by_notice.notice, by_notice.proof) == (NOTICE, None)
    open_ended, _ = check(policy, contract_start="2025-01-01")
    assert open_ended.contract == (date(2025, 1, 1), None)
    assert check(policy)[0] is NO_HISTORY
    # The method and proof of a row without a consent say nothing (a column map may give them to every row).
    assert check(policy, consent_method="fax", consent_proof="x") == (NO_HISTORY, [])


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        ({"received_at": "yesterday"}, "received_at", "must be a date or time as"),
        ({"received_at": "2026-11-26"}, "received_at", "is after the import"),
        ({"order_date": "03/05/2024"}, "order_date", "must be a date as 2024-03-05 or 05.03.2024"),
        ({"order_date": "2024-03-05 25:00"}, "order_date", "must be a date as"),
        ({"order_date": "2026-11-26"}, "order_date", "an order in the file has been placed"),
        ({"contract_end": "2027-01-01"}, "contract_end", "without contract_start"),
        ({"contract_start": "2026-01-01", "contract_end": "2026-01-01"}, "contract_end", "after the contract's start"),
        ({"consent_sms_at": "2020-01-01", "consent_proof": "x"}, "consent_method", "is required with a consent"),
        ({"consent_sms_at": "2020-01-01", "consent_method": "web"}, "consent_proof", "is required with a consent"),
        ({"consent_sms_at": "2020-01-01", "consent_method": "fax", "consent_proof": "x"}, "consent_method", "one of"),
        ({"consent_sms_at": "2030-01-01", "consent_method": "web", "consent_proof": "x"}, "consent_sms_at", "after"),
        ({"consent_sms_at": "2020-01-01", "consent_method": "web", "consent_proof": "x" * 501}, "consent_proof", "500"),
        (
            {"consent_sms_at": "2020-01-01", "consent_method": "web", "consent_proof": "a\x07b"},
            "consent_proof",
            "control",
        ),
    ],
)
def test_each_bad_cell_is_named_with_its_line_and_the_rule(
    policy: Policy, raw: dict[str, str], field: str, words: str
) -> None:
    found, problems = check_history(policy, VALUES, raw, NOW, line=7)
    assert found is NO_HISTORY
    assert [(p.field, p.line) for p in problems if p.field == field] == [(field, 7)], problems
    assert any(words in p.message for p in problems if p.field == field), problems


def test_a_consent_needs_the_field_its_channel_reaches(policy: Policy) -> None:
    no_phone = {k: v for k, v in VALUES.items() if k != "phone"}
    _found, problems = check_history(
        policy, no_phone, {"consent_sms_at": "2020-01-01", "consent_method": "web", "consent_proof": "x"}, NOW, 3
    )
    assert [(p.field, p.line) for p in problems] == [("consent_sms_at", 3)] and "no phone" in problems[0].message


def test_the_header_says_at_once_what_cannot_work(policy: Policy) -> None:
    kind = "one_time_customer"
    assert check_header(policy, kind, ["full_name", "order_date", "contract_start", "contract_end"]) == []
    problems = check_header(policy, kind, ["contract_end", "consent_sms_at", "consent_proof"])
    assert {(p.field, p.line) for p in problems} == {("contract_end", 1), ("consent_method", 1)}
    assert [p.field for p in check_header(policy, kind, ["consent_method"])] == ["consent_method"]
    renamed = policy.model_copy(update={"fields": {**policy.fields, "order_date": policy.fields["company_name"]}})
    clash = check_header(renamed, kind, ["order_date"])
    assert [p.field for p in clash] == ["order_date"] and "both a field of the policy" in clash[0].message
    no_sms = policy.model_copy(
        update={
            "purposes": {
                **policy.purposes,
                "marketing": policy.purposes["marketing"].model_copy(update={"channels": ["email"]}),
            }
        }
    )
    refused = check_header(no_sms, kind, ["consent_sms_at", "consent_method", "consent_proof"])
    assert [p.field for p in refused] == ["consent_sms_at"] and "no marketing by sms" in refused[0].message


MAP = """
ignore = ["Record ID", "Contact owner"]

[columns]
full_name = ["First Name", "Last Name"]
email = "Email"
phone = "Mobile Phone Number"

[values]
consent_method = "web"
"""


def test_a_column_map_names_the_exports_columns_as_the_policys_fields() -> None:
    mapping = parse_map(MAP, "hubspot.toml")
    header = ["Record ID", "First Name", "Last Name", "Email", "Mobile Phone Number", "Contact owner"]
    assert mapping.check_header(header) == []
    assert mapping.fields == ["full_name", "email", "phone", "consent_method"]
    row = {
        "First Name": " Kari ",
        "Last Name": "Nordmann",
        "Email": "k@x.no",
        "Mobile Phone Number": "",
        "Record ID": "1",
    }
    assert mapping.row(row) == {"full_name": "Kari Nordmann", "email": "k@x.no", "phone": "", "consent_method": "web"}
    assert mapping.row({"Last Name": "Nordmann"})["full_name"] == "Nordmann"
    problems = mapping.check_header(["First Name", "Last Name", "Email", "Lifecycle Stage"])
    assert {(p.field, p.line) for p in problems} == {("Mobile Phone Number", 1), ("Lifecycle Stage", 1)}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[columns", "not valid TOML"),
        ("colour = 1\n[columns]\nemail = 'Email'", "unknown key 'colour'"),
        ("[columns]\nemail = 3", "columns.email: must be a column's name"),
        ("[columns]\nemail = []", "columns.email: must be a column's name"),
        ("[columns]\nemail = 'Email'\n[values]\nemail = 'x'", "email is in both"),
        ("[values]\nconsent_method = 'web'", "maps no field"),
        ("ignore = 'Record ID'\n[columns]\nemail = 'Email'", "ignore must be a list"),
        ("[columns]\nemail = 'Email'\n[values]\nconsent_method = 1", "values.consent_method: must be text"),
    ],
)
def test_a_bad_map_is_refused_naming_the_key(text: str, words: str) -> None:
    with pytest.raises(InvalidInput, match="columns") as refused:
        parse_map(text, "m.toml")
    assert words in str(refused.value)
