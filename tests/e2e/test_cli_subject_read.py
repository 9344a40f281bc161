"""`personvern subject show|list`: find one person, list many; reads are audited, lookups never echo the value."""

from __future__ import annotations

from tests.e2e.support import (
    CONTRACT,
    NOW,
    ONE_TIME,
    ORG_A,
    ORG_B,
    REPRESENTATIVE,
    Cases,
    add,
    assert_ok,
    assert_refused,
    e164,
    phone,
    sets,
)


def _entries(pv):
    return pv.json("audit", "verify")["entries"]


def test_show_by_id_email_and_phone_finds_the_same_person(pv_ready):
    sid = add(pv_ready, 1)
    add(pv_ready, 2)
    by_id = pv_ready.json("subject", "show", sid)
    by_email = pv_ready.json("subject", "show", "--email", "Person1@EXAMPLE.no")
    by_phone = pv_ready.json("subject", "show", "--phone", "+47 " + phone(1))
    assert by_id == by_email == by_phone
    assert by_id["id"] == sid
    assert by_id["values"] == {"full_name": "Person 1 Nordmann", "phone": e164(1), "email": "person1@example.no"}
    assert by_id["relationships"] == []


def test_show_for_a_person(pv_ready):
    sid = add(pv_ready, 1, ONE_TIME, "--now", NOW)
    result = pv_ready("subject", "show", sid)
    assert_ok(result)
    for text in (sid, ONE_TIME, "Person 1 Nordmann", e164(1), "person1@example.no", NOW):
        assert text in result.stdout


def test_show_is_recorded_in_the_audit_log(pv_ready):
    sid = add(pv_ready, 1)
    before = _entries(pv_ready)
    pv_ready.json("subject", "show", sid)
    assert _entries(pv_ready) == before + 1


def test_show_what_is_not_there_is_not_found_and_never_echoes_the_search(pv_ready, unchanged):
    add(pv_ready, 1)
    cases = Cases()
    with unchanged():
        with cases.case("id"):
            assert_refused(pv_ready("subject", "show", "f" * 32), 4, "f" * 32)
        with cases.case("email"):
            result = pv_ready("subject", "show", "--email", "Nobody.Here@Example.no")
            assert_refused(result, 4, "email")
            assert "nobody" not in result.stderr.lower()
        with cases.case("phone"):
            result = pv_ready("subject", "show", "--phone", "+47 48 12 34 56")
            assert_refused(result, 4, "phone")
            assert "48" not in result.stderr
            assert "56" not in result.stderr
    cases.check()


def test_show_refuses_a_malformed_search_without_echoing_it(pv_ready, unchanged):
    cases = Cases()
    with unchanged():
        with cases.case("email"):
            result = pv_ready("subject", "show", "--email", "kari.nordmann.example.no")
            assert_refused(result, 3, "email")
            assert "nordmann" not in result.stderr
        with cases.case("phone"):
            result = pv_ready("subject", "show", "--phone", "kari-nordmann")
            assert_refused(result, 3, "phone")
            assert "nordmann" not in result.stderr
    cases.check()


def test_show_needs_exactly_one_selector(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    cases = Cases()
    with unchanged():
        for name, args in {
            "none": [],
            "id and email": [sid, "--email", "person1@example.no"],
            "email and phone": ["--email", "person1@example.no", "--phone", phone(1)],
        }.items():
            with cases.case(name):
                assert_refused(pv_ready("subject", "show", *args), 3, "subject", "exactly one")
    cases.check()


def test_show_refuses_an_unknown_purpose_and_roles_without_access(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    cases = Cases()
    with unchanged():
        with cases.case("purpose"):
            assert_refused(pv_ready("subject", "show", sid, "--purpose", "curiosity"), 3, "purpose", "curiosity")
        with cases.case("marketing"):
            assert_refused(pv_ready("subject", "show", sid, "--role", "marketing"), 6, "marketing")
    cases.check()


BOOKKEEPING = {"full_name", "email", "organisation_number", "organisation_name", "invoice_reference"}


def test_the_auditor_sees_only_bookkeeping_fields(pv_ready):
    extra = sets({"role": "CFO", "invoice_reference": "PO-17", "postal_address": "Storgata 1"})
    reasons = ["--reason", "role=contact", "--reason", "invoice_reference=billing", "--reason", "postal_address=post"]
    sid = add(pv_ready, 1, REPRESENTATIVE, *extra, *reasons)
    assert set(pv_ready.json("subject", "show", sid)["values"]) == BOOKKEEPING | {"phone", "role", "postal_address"}

    audited = pv_ready.json("subject", "show", sid, "--role", "auditor")
    assert set(audited["values"]) == BOOKKEEPING
    result = pv_ready("subject", "show", "--email", "person1@example.no", "--role", "auditor")
    assert_ok(result)
    assert "CFO" not in result.stdout
    assert e164(1) not in result.stdout
    listed = pv_ready.json("subject", "list", "--role", "auditor")
    assert set(listed["subjects"][0]["values"]) == BOOKKEEPING


def test_staff_may_read(pv_ready):
    sid = add(pv_ready, 1)
    assert pv_ready.json("subject", "show", sid, "--role", "staff")["values"]["phone"] == e164(1)


# ---------------------------------------------------------------- list


def test_list_by_kind(pv_ready):
    ids = {kind: [add(pv_ready, n + 10 * i, kind) for n in range(i + 1)] for i, kind in enumerate([ONE_TIME, CONTRACT])}
    everyone = pv_ready.json("subject", "list")
    assert everyone["total"] == 3
    assert {s["id"] for s in everyone["subjects"]} == {*ids[ONE_TIME], *ids[CONTRACT]}
    contracts = pv_ready.json("subject", "list", "--kind", CONTRACT)
    assert contracts["total"] == 2
    assert {s["id"] for s in contracts["subjects"]} == set(ids[CONTRACT])
    assert pv_ready.json("subject", "list", "--kind", REPRESENTATIVE) == {"total": 0, "subjects": []}


def test_list_by_organisation_links_a_contract_customer_and_its_representatives(pv_ready):
    customer = add(pv_ready, 1, CONTRACT, org=ORG_A)
    reps = [add(pv_ready, n, REPRESENTATIVE, org=ORG_A) for n in (2, 3)]
    add(pv_ready, 4, CONTRACT, org=ORG_B)
    add(pv_ready, 5, ONE_TIME)
    linked = pv_ready.json("subject", "list", "--organisation", "923 609 016")
    assert linked["total"] == 3
    assert {s["id"] for s in linked["subjects"]} == {customer, *reps}
    assert len({s["organisation_id"] for s in linked["subjects"]}) == 1
    only_reps = pv_ready.json("subject", "list", "--organisation", ORG_A, "--kind", REPRESENTATIVE)
    assert {s["id"] for s in only_reps["subjects"]} == set(reps)
    assert pv_ready.json("subject", "list", "--organisation", "998877660")["total"] == 0


def test_list_pages_with_limit_and_offset(pv_ready):
    ids = [add(pv_ready, n) for n in range(5)]
    pages = [pv_ready.json("subject", "list", "--limit", "2", "--offset", str(at)) for at in (0, 2, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [len(p["subjects"]) for p in pages] == [2, 2, 1]
    assert [s["id"] for p in pages for s in p["subjects"]] == ids  # oldest first, no gaps, no repeats
    assert pv_ready.json("subject", "list", "--offset", "5")["subjects"] == []


def test_list_for_a_person(pv_ready):
    add(pv_ready, 1)
    add(pv_ready, 2)
    result = pv_ready("subject", "list", "--limit", "1")
    assert_ok(result)
    assert "1 of 2 subjects" in result.stdout
    assert "Person 1 Nordmann" in result.stdout
    assert "Person 2" not in result.stdout


def test_list_records_a_read_of_each_subject_shown(pv_ready):
    for n in range(3):
        add(pv_ready, n)
    before = _entries(pv_ready)
    pv_ready.json("subject", "list", "--limit", "2")
    assert _entries(pv_ready) == before + 2


def test_list_refuses_bad_filters(pv_ready, unchanged):
    add(pv_ready, 1)
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("unknown kind", ["--kind", "vip"], 3, ["kind", "vip", ONE_TIME]),
            ("limit 0", ["--limit", "0"], 3, ["limit"]),
            ("limit too high", ["--limit", "10001"], 3, ["limit"]),
            ("negative offset", ["--offset", "-1"], 3, ["offset"]),
            ("bad organisation number", ["--organisation", "123456789"], 3, ["organisation"]),
            ("limit not a number", ["--limit", "many"], 2, ["--limit"]),
            ("marketing role", ["--role", "marketing"], 6, ["marketing"]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("subject", "list", *args), code, *needles)
    cases.check()


def test_a_role_may_look_people_up_only_by_a_field_it_may_read(pv_ready, unchanged):
    """The auditor may not read phone numbers, so it may not find people by one (Art. 5(1)(b), 25(2)); the refusal
    is the same whether the number is someone's, nobody's or not a number, so it tells nothing either."""
    add(pv_ready, 1, REPRESENTATIVE, org=ORG_A)
    answers = []
    with unchanged():
        for number in ("+47 " + phone(1), "+47 " + phone(7), "not a number"):
            result = pv_ready("subject", "show", "--phone", number, "--role", "auditor")
            assert_refused(result, 6, "auditor", "phone")
            assert result.stdout == ""
            answers.append(result.stderr)
    assert answers[0] == answers[1] == answers[2]
    assert "Nordmann" not in answers[0] and "person1" not in answers[0]
    # A field the auditor reads is a field it may search by.
    assert pv_ready.json("subject", "show", "--email", "person1@example.no", "--role", "auditor")["values"]
    assert pv_ready.json("subject", "list", "--organisation", ORG_A, "--role", "auditor")["total"] == 1
    # Staff reads phone numbers, and so finds people by them.
    assert pv_ready.json("subject", "show", "--phone", phone(1), "--role", "staff")["values"]["phone"] == e164(1)


def test_list_gives_each_subjects_relationships_as_show_does(pv_ready):
    # Issue 18: `subject list --json` said "relationships": [] for a customer with a contract.
    customer = add(pv_ready, 1, CONTRACT)
    buyer = add(pv_ready, 2)
    nobody = add(pv_ready, 3)
    assert_ok(
        pv_ready(
            "relationship", "start", customer, "--type", "contract", "--on", "2026-01-01", "--ends", "2027-12-31",
            "--description", "Kontor i 3. etasje",
        )
    )  # fmt: skip
    assert_ok(pv_ready("relationship", "start", buyer, "--type", "order"))
    listed = {s["id"]: s["relationships"] for s in pv_ready.json("subject", "list")["subjects"]}
    for sid in (customer, buyer, nobody):
        assert listed[sid] == pv_ready.json("subject", "show", sid)["relationships"], sid
    assert [(r["type"], r["description"]) for r in listed[customer]] == [("contract", "Kontor i 3. etasje")]
    assert [r["type"] for r in listed[buyer]] == ["order"]
    assert listed[nobody] == []
