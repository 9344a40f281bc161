"""`personvern relationship start|end`: orders and contracts, the customer relationships that keep the data."""

from __future__ import annotations

from tests.e2e.support import NOW, Cases, add, assert_ok, assert_refused

UNKNOWN = "f" * 32


def test_start_an_order_today(pv_ready):
    sid = add(pv_ready, 1)
    rel = pv_ready.json("relationship", "start", sid, "--description", "one sofa", "--now", NOW)
    assert rel["type"] == "order"
    assert rel["started_on"] == NOW[:10]
    assert (rel["ends_on"], rel["ended_on"]) == (None, None)
    assert pv_ready.json("subject", "show", sid)["relationships"] == [rel]


def test_start_a_contract_with_its_end(pv_ready):
    sid = add(pv_ready, 1)
    rel = pv_ready.json(
        "relationship", "start", sid, "--type", "contract", "--on", "2026-01-01", "--ends", "2027-12-31"
    )
    assert (rel["type"], rel["started_on"], rel["ends_on"]) == ("contract", "2026-01-01", "2027-12-31")
    result = pv_ready("subject", "show", sid)
    assert_ok(result)
    assert "contract" in result.stdout
    assert "until 2027-12-31" in result.stdout


def test_start_for_a_person(pv_ready):
    sid = add(pv_ready, 1)
    result = pv_ready("relationship", "start", sid, "--on", "2026-03-01")
    assert_ok(result)
    assert "started order" in result.stdout
    assert "2026-03-01" in result.stdout


def test_end_ends_every_open_relationship(pv_ready):
    sid = add(pv_ready, 1)
    order = pv_ready.json("relationship", "start", sid, "--on", "2026-01-01")
    contract = pv_ready.json("relationship", "start", sid, "--type", "contract", "--on", "2026-02-01")
    ended = pv_ready.json("relationship", "end", sid, "--on", "2026-06-30")["ended"]
    assert {r["id"] for r in ended} == {order["id"], contract["id"]}
    assert {r["ended_on"] for r in ended} == {"2026-06-30"}
    shown = pv_ready.json("subject", "show", sid)["relationships"]
    assert {r["ended_on"] for r in shown} == {"2026-06-30"}
    assert_refused(pv_ready("relationship", "end", sid), 4, sid, "no open")


def test_end_one_type_leaves_the_other_open(pv_ready):
    sid = add(pv_ready, 1)
    pv_ready.json("relationship", "start", sid, "--on", "2026-01-01")
    contract = pv_ready.json("relationship", "start", sid, "--type", "contract", "--on", "2026-01-01")
    ended = pv_ready.json("relationship", "end", sid, "--type", "contract", "--now", NOW)["ended"]
    assert [(r["id"], r["ended_on"]) for r in ended] == [(contract["id"], NOW[:10])]
    still_open = [r for r in pv_ready.json("subject", "show", sid)["relationships"] if r["ended_on"] is None]
    assert [r["type"] for r in still_open] == ["order"]


def test_end_for_a_person(pv_ready):
    sid = add(pv_ready, 1)
    pv_ready.json("relationship", "start", sid, "--on", "2026-01-01")
    result = pv_ready("relationship", "end", sid, "--on", "2026-02-01")
    assert_ok(result)
    assert "ended 1 relationship" in result.stdout


def test_end_one_relationship_by_the_id_start_printed(pv_ready):
    sid = add(pv_ready, 1)
    order = pv_ready.json("relationship", "start", sid, "--on", "2026-01-01")
    contract = pv_ready.json("relationship", "start", sid, "--type", "contract", "--on", "2026-02-01")
    started = pv_ready("relationship", "start", sid, "--on", "2026-03-01")
    assert_ok(started)
    third = started.stdout.split()[2]  # "started order ID on DATE": the id a person copies
    ended = pv_ready.json("relationship", "end", contract["id"], "--on", "2026-06-30")["ended"]
    assert [(r["id"], r["ended_on"]) for r in ended] == [(contract["id"], "2026-06-30")]
    result = pv_ready("relationship", "end", third, "--type", "order", "--on", "2026-07-01")
    assert_ok(result)
    assert f"ended order {third} of {sid} on 2026-07-01" in result.stdout
    shown = {r["id"]: r["ended_on"] for r in pv_ready.json("subject", "show", sid)["relationships"]}
    assert shown == {order["id"]: None, contract["id"]: "2026-06-30", third: "2026-07-01"}


def test_end_by_id_refusals_store_nothing(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    order = pv_ready.json("relationship", "start", sid, "--on", "2026-03-01")["id"]
    done = pv_ready.json("relationship", "start", sid, "--type", "contract", "--on", "2026-01-01")["id"]
    pv_ready.json("relationship", "end", done, "--on", "2026-02-01")
    expired = pv_ready.json(
        "relationship", "start", sid, "--type", "contract", "--on", "2025-01-01", "--ends", "2025-06-30"
    )["id"]
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("other type", [order, "--type", "contract"], 3, ["type", order, "order"]),
            ("before its start", [order, "--on", "2026-02-01"], 3, ["on", "before the start"]),
            ("already ended", [done], 5, [done, "already ended", "2026-02-01"]),
            ("past its stated end", [expired, "--now", NOW], 5, [expired, "2025-06-30"]),
            ("neither subject nor relationship", [UNKNOWN], 4, [UNKNOWN, "relationship"]),
            ("auditor", [order, "--role", "auditor"], 6, ["auditor"]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("relationship", "end", *args), code, *needles)
    cases.check()


def test_start_refusals_name_the_option_and_store_nothing(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("--ends on an order", [sid, "--ends", "2027-01-01"], 3, ["ends", "contract"]),
            (
                "end before start",
                [sid, "--type", "contract", "--on", "2026-05-01", "--ends", "2026-04-30"],
                3,
                ["ends", "after the start", "2026-05-01"],
            ),
            (
                "end on the start day",
                [sid, "--type", "contract", "--on", "2026-05-01", "--ends", "2026-05-01"],
                3,
                ["ends"],
            ),
            ("end before today", [sid, "--type", "contract", "--ends", "2026-01-01", "--now", NOW], 3, ["ends"]),
            ("unknown type", [sid, "--type", "lease"], 3, ["type", "order", "contract"]),
            ("bad date", [sid, "--on", "01.05.2026"], 3, ["on", "YYYY-MM-DD"]),
            ("no such day", [sid, "--on", "2026-02-30"], 3, ["on"]),
            ("bad end date", [sid, "--type", "contract", "--ends", "someday"], 3, ["ends", "YYYY-MM-DD"]),
            ("empty description", [sid, "--description", " "], 3, ["description"]),
            ("unknown subject", [UNKNOWN], 4, [UNKNOWN]),
            ("auditor", [sid, "--role", "auditor"], 6, ["auditor"]),
            ("no subject", [], 2, ["subject_id"]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("relationship", "start", *args), code, *needles)
    cases.check()


def test_end_refusals_name_the_option_and_store_nothing(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    pv_ready.json("relationship", "start", sid, "--on", "2026-03-01")
    pv_ready.json("relationship", "start", sid, "--type", "contract", "--on", "2026-01-01")
    bare = add(pv_ready, 2)
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("before the start of one of them", [sid, "--on", "2026-02-01"], 3, ["on", "before the start"]),
            ("bad date", [sid, "--on", "tomorrow"], 3, ["on", "YYYY-MM-DD"]),
            ("unknown type", [sid, "--type", "lease"], 3, ["type"]),
            ("nothing open", [bare], 4, [bare, "no open"]),
            ("nothing open of that type", [bare, "--type", "contract"], 4, ["contract"]),
            ("unknown subject", [UNKNOWN], 4, [UNKNOWN]),
            ("marketing", [sid, "--role", "marketing"], 6, ["marketing"]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("relationship", "end", *args), code, *needles)
    cases.check()
