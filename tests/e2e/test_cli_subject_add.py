"""`personvern subject add`: only declared fields, valid values, reasons for 'when needed', one person once."""

from __future__ import annotations

import pytest

from tests.e2e.support import (
    BUSINESS_KINDS,
    CONTRACT,
    KINDS,
    NATIONAL_ID,
    NOW,
    ONE_TIME,
    ORG_A,
    REPRESENTATIVE,
    Cases,
    add,
    assert_ok,
    assert_refused,
    e164,
    person,
    phone,
    sets,
)


@pytest.mark.parametrize("kind", KINDS)
def test_add_each_kind(pv_ready, kind):
    result = pv_ready("subject", "add", *person(1, kind), "--now", NOW)
    assert_ok(result)
    assert f"added {kind}" in result.stdout
    sid = result.stdout.split()[-1]
    shown = pv_ready.json("subject", "show", sid)
    assert shown["kind"] == kind
    assert shown["values"]["phone"] == e164(1)
    assert shown["values"]["email"] == "person1@example.no"
    assert shown["source"] == "data_subject"
    assert shown["created_at"] == shown["received_at"] == NOW
    if kind in BUSINESS_KINDS:
        assert shown["values"]["organisation_number"] == ORG_A
        assert shown["organisation_id"]
    else:
        assert shown["organisation_id"] is None


def test_add_prints_the_new_id_as_json(pv_ready):
    data = pv_ready.json("subject", "add", *person(1))
    assert set(data) == {"id", "kind"}
    assert data["kind"] == ONE_TIME
    assert pv_ready.json("subject", "show", data["id"])["id"] == data["id"]


def test_add_normalises_values(pv_ready):
    sid = pv_ready.json("subject", "add", *person(1, CONTRACT, full_name="  Kari   Nordmann "))["id"]
    values = pv_ready.json("subject", "show", sid)["values"]
    assert values["full_name"] == "Kari Nordmann"
    sid2 = pv_ready.json("subject", "add", *person(2, CONTRACT, organisation_number="923 609 016"))["id"]
    assert pv_ready.json("subject", "show", sid2)["values"]["organisation_number"] == ORG_A
    sid3 = pv_ready.json("subject", "add", *person(3, phone="+47 " + phone(3)[:3] + " " + phone(3)[3:]))["id"]
    assert pv_ready.json("subject", "show", sid3)["values"]["phone"] == e164(3)


def test_add_a_when_needed_field_with_its_reason(pv_ready):
    sid = add(
        pv_ready,
        1,
        ONE_TIME,
        *sets({"national_id": NATIONAL_ID, "postal_address": "Storgata 1\n0155 Oslo"}),
        "--reason",
        "national_id=credit check",
        "--reason",
        "postal_address=delivery",
    )
    values = pv_ready.json("subject", "show", sid)["values"]
    assert values["national_id"] == NATIONAL_ID
    assert values["postal_address"] == "Storgata 1\n0155 Oslo"


def test_add_received_and_source(pv_ready):
    sid = add(pv_ready, 1, ONE_TIME, "--received", "2025-03-01", "--source", "phone call", "--now", NOW)
    shown = pv_ready.json("subject", "show", sid)
    assert shown["received_at"] == "2025-03-01T00:00:00+00:00"
    assert shown["source"] == "phone call"
    assert shown["created_at"] == NOW


def test_staff_may_add(pv_ready):
    assert_ok(pv_ready("subject", "add", *person(1), "--role", "staff"))


# ---------------------------------------------------------------- refusals: exit code, field named, nothing stored
# Cases that share a set-up run in one test (an initialised PostgreSQL database costs a third of a second);
# `Cases` reports every failing case by name.

BAD_VALUES = {
    "landline phone": (ONE_TIME, {"phone": "22123456"}, "phone", "mobile"),
    "phone too short": (ONE_TIME, {"phone": "4123"}, "phone", ""),
    "phone letters": (ONE_TIME, {"phone": "call me"}, "phone", ""),
    "email without domain": (ONE_TIME, {"email": "kari@"}, "email", "not a valid email"),
    "email without @": (ONE_TIME, {"email": "kari.example.no"}, "email", "not a valid email"),
    "empty name": (ONE_TIME, {"full_name": "   "}, "full_name", "empty"),
    "long name": (ONE_TIME, {"full_name": "x" * 201}, "full_name", "at most 200"),
    "control character": (ONE_TIME, {"full_name": "Kari\x07"}, "full_name", "control characters"),
    "orgnr check digit": (CONTRACT, {"organisation_number": "123456789"}, "organisation_number", "organisation number"),
    "orgnr 8 digits": (CONTRACT, {"organisation_number": "92360901"}, "organisation_number", "organisation number"),
}


def test_add_refuses_bad_values_naming_field_and_rule(pv_ready, unchanged):
    cases = Cases()
    with unchanged():
        for name, (kind, change, field, rule) in BAD_VALUES.items():
            with cases.case(name):
                assert_refused(pv_ready("subject", "add", *person(1, kind, **change)), 3, f"{field}: ", rule)
        with cases.case("national id check digit"):
            args = [*person(1, national_id="01019010047"), "--reason", "national_id=credit check"]
            assert_refused(pv_ready("subject", "add", *args), 3, "national_id: ", "national identity number")
        with cases.case("three bad fields"):
            result = pv_ready("subject", "add", *person(1, phone="22123456", email="kari@", full_name=""))
            assert_refused(result, 3, "phone: ", "email: ", "full_name: ")
    cases.check()


def test_add_refuses_fields_the_policy_does_not_allow(pv_ready, unchanged):
    cases = Cases()
    with unchanged():
        with cases.case("when needed without a reason"):
            result = pv_ready("subject", "add", *person(1, postal_address="Storgata 1"))
            assert_refused(result, 3, "postal_address: ", "--reason")
        with cases.case("a reason for a field not given"):
            result = pv_ready("subject", "add", *person(1), "--reason", "national_id=credit check")
            assert_refused(result, 3, "national_id: ", "reason")
        for kind, field in [
            (ONE_TIME, "role"),
            (ONE_TIME, "organisation_number"),
            (REPRESENTATIVE, "national_id"),
            (ONE_TIME, "shoe_size"),
        ]:
            with cases.case(f"undeclared {field} for {kind}"):
                result = pv_ready("subject", "add", *person(1, kind, **{field: "x"}), "--reason", f"{field}=because")
                assert_refused(result, 3, f"{field}: ", "not declared", kind)
        with cases.case("unknown kind"):
            result = pv_ready("subject", "add", "--kind", "vip_customer", "--set", "full_name=Kari")
            assert_refused(result, 3, "kind: ", "vip_customer", ONE_TIME)
        with cases.case("no kind"):
            assert_refused(pv_ready("subject", "add", "--set", "full_name=Kari"), 2, "--kind")
    cases.check()


def _without(args, *fields):
    out = list(args)
    for field in fields:
        at = next(i for i, a in enumerate(out) if a.startswith(f"{field}="))
        del out[at - 1 : at + 1]
    return out


def test_add_refuses_a_subject_without_its_required_fields(pv_ready, unchanged):
    cases = Cases()
    with unchanged():
        for kind, missing in [
            (ONE_TIME, ["email"]),
            (ONE_TIME, ["phone", "email"]),
            (CONTRACT, ["organisation_number", "organisation_name"]),
            (REPRESENTATIVE, ["full_name"]),
        ]:
            with cases.case(f"{kind} without {missing}"):
                result = pv_ready("subject", "add", *_without(person(1, kind), *missing))
                assert_refused(result, 3, *(f"{field}: is required for kind {kind}" for field in missing))
    cases.check()


def test_add_refuses_malformed_options(pv_ready, unchanged):
    cases = Cases()
    with unchanged():
        with cases.case("--set without ="):
            assert_refused(pv_ready("subject", "add", "--kind", ONE_TIME, "--set", "Kari"), 3, "--set", "FIELD=VALUE")
        with cases.case("a field twice"):
            result = pv_ready("subject", "add", *person(1), "--set", "full_name=Other")
            assert_refused(result, 3, "full_name", "given twice")
        with cases.case("--reason without ="):
            assert_refused(pv_ready("subject", "add", *person(1), "--reason", "because"), 3, "--reason")
        with cases.case("bad --received"):
            result = pv_ready("subject", "add", *person(1), "--received", "last week")
            assert_refused(result, 3, "received", "ISO-8601")
        with cases.case("blank --source"):
            assert_refused(pv_ready("subject", "add", *person(1), "--source", " "), 3, "source")
        with cases.case("long --source"):
            assert_refused(pv_ready("subject", "add", *person(1), "--source", "x" * 101), 3, "source")
        for now in ["yesterday", "2026-13-01", "25.11.2026"]:
            with cases.case(f"--now {now}"):
                assert_refused(pv_ready("subject", "add", *person(1), "--now", now), 3, "now", "ISO-8601")
    cases.check()


def test_add_a_malformed_assignment_does_not_echo_personal_data(pv_ready):
    result = pv_ready("subject", "add", "--kind", ONE_TIME, "--set", "kari.nordmann@example.no")
    assert_refused(result, 3, "--set")
    assert "kari.nordmann" not in result.stderr


def test_add_the_same_person_twice_names_the_existing_id(pv_ready, unchanged):
    reason = ["--reason", "national_id=credit check"]
    first = add(pv_ready, 1, ONE_TIME, "--set", f"national_id={NATIONAL_ID}", *reason)
    cases = Cases()
    with unchanged():
        for name, change, field in [
            ("email in other case", {"email": "PERSON1@Example.NO"}, "email"),
            ("phone with +47", {"phone": "+47 " + phone(1)}, "phone"),
            ("phone with 0047", {"phone": "0047" + phone(1)}, "phone"),
            ("national id with a space", {"national_id": f"{NATIONAL_ID[:6]} {NATIONAL_ID[6:]}"}, "national_id"),
        ]:
            with cases.case(name):
                why = reason if "national_id" in change else []
                result = pv_ready("subject", "add", *person(2, **change), *why)
                assert_refused(result, 5, f"{field}: is already registered for subject {first}")
                assert "example.no" not in result.stderr.lower()
    cases.check()


def test_roles_that_may_not_write_cannot_add(pv_ready, unchanged):
    cases = Cases()
    with unchanged():
        for role in ("marketing", "auditor"):
            with cases.case(role):
                assert_refused(pv_ready("subject", "add", *person(1), "--role", role), 6, role)
        with cases.case("unknown role"):
            assert_refused(pv_ready("subject", "add", *person(1), "--role", "boss"), 3, "role", "boss", "ceo")
    cases.check()
