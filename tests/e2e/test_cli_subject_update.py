"""`personvern subject update`: the same validation as `add`, required fields stay, one person once."""

from __future__ import annotations

from tests.e2e.support import (
    CONTRACT,
    NOW,
    ONE_TIME,
    ORG_A,
    ORG_B,
    Cases,
    add,
    assert_ok,
    assert_refused,
    e164,
    phone,
)


def test_update_sets_values_normalised(pv_ready):
    sid = add(pv_ready, 1)
    data = pv_ready.json(
        "subject", "update", sid, "--set", "full_name=Kari  Nordmann", "--set", "phone=+47 " + phone(9), "--now", NOW
    )
    assert data == {"id": sid, "updated_at": NOW}
    shown = pv_ready.json("subject", "show", sid)
    assert shown["values"]["full_name"] == "Kari Nordmann"
    assert shown["values"]["phone"] == e164(9)
    assert shown["updated_at"] == NOW
    # The old number no longer finds her; the new one does.
    assert_refused(pv_ready("subject", "show", "--phone", phone(1)), 4, "phone")
    assert pv_ready.json("subject", "show", "--phone", phone(9))["id"] == sid


def test_update_for_a_person(pv_ready):
    sid = add(pv_ready, 1)
    result = pv_ready("subject", "update", sid, "--set", "full_name=Kari")
    assert_ok(result)
    assert f"updated {sid}" in result.stdout


def test_update_a_when_needed_field_with_its_reason_then_remove_it(pv_ready):
    sid = add(pv_ready, 1)
    pv_ready.json("subject", "update", sid, "--set", "postal_address=Storgata 1", "--reason", "postal_address=post")
    assert pv_ready.json("subject", "show", sid)["values"]["postal_address"] == "Storgata 1"
    pv_ready.json("subject", "update", sid, "--unset", "postal_address")
    assert "postal_address" not in pv_ready.json("subject", "show", sid)["values"]


def test_update_the_own_email_in_another_case_is_not_a_duplicate(pv_ready):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("subject", "update", sid, "--set", "email=PERSON1@example.no"))


def test_update_the_organisation_number_moves_the_subject_to_the_new_organisation(pv_ready):
    sid = add(pv_ready, 1, CONTRACT, org=ORG_A)
    pv_ready.json("subject", "update", sid, "--set", f"organisation_number={ORG_B}")
    assert pv_ready.json("subject", "list", "--organisation", ORG_A)["total"] == 0
    assert [s["id"] for s in pv_ready.json("subject", "list", "--organisation", ORG_B)["subjects"]] == [sid]


def test_staff_may_update(pv_ready):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("subject", "update", sid, "--set", "full_name=Kari", "--role", "staff"))


def test_update_refusals_name_the_field_and_store_nothing(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    other = add(pv_ready, 2)
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("required unset", ["--unset", "email"], 3, ["email: ", "required", "cannot be removed"]),
            ("undeclared set", ["--set", "role=CFO", "--reason", "role=contact"], 3, ["role: ", "not declared"]),
            ("undeclared unset", ["--unset", "shoe_size"], 3, ["shoe_size: ", "not declared"]),
            ("bad phone", ["--set", "phone=22123456"], 3, ["phone: ", "mobile"]),
            ("bad email", ["--set", "email=kari@"], 3, ["email: ", "not a valid email"]),
            ("when needed without reason", ["--set", "postal_address=Storgata 1"], 3, ["postal_address: ", "--reason"]),
            ("set and unset", ["--set", "postal_address=X", "--unset", "postal_address"], 3, ["postal_address"]),
            ("nothing to change", [], 3, ["--set", "--unset"]),
            (
                "duplicate email",
                ["--set", "email=Person2@Example.no"],
                5,
                [f"email: is already registered for subject {other}"],
            ),
            (
                "duplicate phone",
                ["--set", f"phone=0047{phone(2)}"],
                5,
                [f"phone: is already registered for subject {other}"],
            ),
            ("auditor", ["--set", "full_name=X", "--role", "auditor"], 6, ["auditor"]),
            ("marketing", ["--set", "full_name=X", "--role", "marketing"], 6, ["marketing"]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("subject", "update", sid, *args), code, *needles)
        with cases.case("one bad value among good ones changes nothing"):
            result = pv_ready("subject", "update", sid, "--set", "full_name=Kari", "--set", "phone=123")
            assert_refused(result, 3, "phone: ")
        with cases.case("unknown id"):
            assert_refused(pv_ready("subject", "update", "f" * 32, "--set", "full_name=X"), 4, "f" * 32)
    cases.check()


def test_a_conflict_message_does_not_repeat_the_value(pv_ready):
    add(pv_ready, 1)
    sid = add(pv_ready, 2)
    result = pv_ready("subject", "update", sid, "--set", "email=person1@example.no")
    assert_refused(result, 5, "email")
    assert "person1" not in result.stderr
    assert pv_ready.json("subject", "show", sid)["values"]["email"] == "person2@example.no"


def test_update_keeps_the_kind(pv_ready):
    sid = add(pv_ready, 1, ONE_TIME)
    pv_ready.json("subject", "update", sid, "--set", "full_name=Kari")
    assert pv_ready.json("subject", "show", sid)["kind"] == ONE_TIME
