"""`retention plan` and `retention run` on simulated timelines (--now), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.support import (
    CONTRACT,
    ONE_TIME,
    REPRESENTATIVE,
    Cases,
    add,
    assert_ok,
    assert_refused,
    count,
    snapshot,
    sql,
)

JAN = "2026-01-05T10:00:00+00:00"
PROSPECT_OVER = "2026-04-06"  # received in JAN with no order, contract or consent: the policy kept them 90 days


def at(day: str) -> tuple[str, str]:
    return ("--now", f"{day}T12:00:00+00:00")


def due(pv, day: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {d["subject_id"]: d for d in pv.json("retention", "plan", *at(day))["subjects"]}


def test_one_time_customer_order_ends_then_bookkeeping_hold_then_archive(pv_ready) -> None:  # type: ignore[no-untyped-def]
    pv_ready = pv_ready
    sid = add(
        pv_ready,
        1,
        ONE_TIME,
        "--set",
        "billing_address=Storgata 1, 0155 Oslo",
        "--reason",
        "billing_address=faktura",
        "--now",
        JAN,
    )
    assert_ok(pv_ready("relationship", "start", sid, "--type", "order", "--on", "2026-01-05", "--now", JAN))
    assert due(pv_ready, "2026-01-31") == {}  # the order is open
    assert_ok(pv_ready("relationship", "end", sid, "--on", "2026-02-01", *at("2026-02-01")))
    [item] = due(pv_ready, "2026-02-01").values()
    assert (item["action"], item["rule"], item["since"], item["scope"], item["held_until"], item["then"]) == (
        "erase",
        "agreement",
        "2026-02-01",
        "outside_hold",
        "2032-01-01",
        "archive",
    )
    assert item["fields_due"] == ["phone"] and "billing_address" in item["fields_held"]
    run = pv_ready.json("retention", "run", *at("2026-02-02"))
    assert (run["due"], run["erased_except_held"], run["archived"], run["failed"]) == (1, 1, 0, [])
    shown = pv_ready.json("subject", "show", sid, *at("2026-02-02"))
    assert "phone" not in str(shown) and "billing_address" in str(shown)
    assert due(pv_ready, "2031-12-31") == {}  # bokføringsloven § 13: five years after the financial year
    assert due(pv_ready, "2032-01-01")[sid]["action"] == "archive"
    run = pv_ready.json("retention", "run", *at("2032-01-01"))
    assert (run["archived"], run["erased"]) == (1, 0)
    assert_refused(pv_ready("subject", "show", sid, *at("2032-01-01")), 4)
    assert count(pv_ready.db_url, "archive_records") == 1
    # The archive is found by what a request names (email, phone), not by a name: no name digest is kept.
    archived_lookups = {field for (field,) in sql(pv_ready.db_url, "SELECT field FROM archive_lookups")}
    assert "full_name" not in archived_lookups
    assert_ok(pv_ready("audit", "verify"))


def test_contract_customers_with_and_without_marketing_consent(pv_ready) -> None:  # type: ignore[no-untyped-def]
    plain = add(pv_ready, 1, CONTRACT, "--now", JAN)
    consented = add(pv_ready, 2, CONTRACT, "--now", JAN)
    for sid in (plain, consented):
        assert_ok(
            pv_ready(
                "relationship",
                "start",
                sid,
                "--type",
                "contract",
                "--on",
                "2026-01-05",
                "--ends",
                "2027-06-30",
                "--now",
                JAN,
            )
        )
    assert_ok(
        pv_ready(
            "consent",
            "give",
            "--method",
            "web",
            consented,
            "--purpose",
            "marketing",
            "--channel",
            "email",
            "--now",
            JAN,
        )
    )
    assert due(pv_ready, "2027-06-29") == {}
    assert set(due(pv_ready, "2027-06-30")) == {plain}  # the contract's stated end
    pv_ready.json("retention", "run", *at("2027-06-30"))
    # What the plain customer's bookkeeping needs is held until five years after 2027, then archived.
    assert due(pv_ready, "2032-12-31") == {}
    [held] = due(pv_ready, "2033-01-01").values()
    assert (held["subject_id"], held["rule"], held["action"], held["scope"]) == (plain, "bookkeeping", "archive", "all")
    pv_ready.json("retention", "run", *at("2033-01-01"))
    # The consent keeps the whole record ten years from receipt (2026-01-05).
    assert due(pv_ready, "2036-01-04") == {}
    [item] = due(pv_ready, "2036-01-05").values()
    assert (item["rule"], item["since"], item["scope"], item["action"]) == (
        "marketing_consent",
        "2036-01-05",
        "all",
        "archive",
    )


def test_withdrawn_consent_ends_the_reason_at_once(pv_ready) -> None:  # type: ignore[no-untyped-def]
    sid = add(pv_ready, 1, ONE_TIME, "--now", JAN)
    assert_ok(pv_ready("relationship", "start", sid, "--on", "2020-01-05", "--now", JAN))
    assert_ok(pv_ready("relationship", "end", sid, "--on", "2020-02-01", "--now", JAN))
    assert_ok(
        pv_ready("consent", "give", "--method", "web", sid, "--purpose", "marketing", "--channel", "sms", "--now", JAN)
    )
    assert due(pv_ready, "2027-03-01") == {}
    assert_ok(
        pv_ready(
            "consent",
            "withdraw",
            "--method",
            "web",
            sid,
            "--purpose",
            "marketing",
            "--channel",
            "sms",
            *at("2027-03-01"),
        )
    )
    [item] = due(pv_ready, "2027-03-01").values()
    # The order's year (2020) is bookkept until 2026-01-01: nothing is held any more, all of it is archived.
    assert (item["rule"], item["since"], item["scope"], item["action"]) == (
        "marketing_consent",
        "2027-03-01",
        "all",
        "archive",
    )


def test_objection_makes_the_record_erased_not_archived(pv_ready) -> None:  # type: ignore[no-untyped-def]
    sid = add(pv_ready, 1, ONE_TIME, "--now", JAN)
    rep = add(pv_ready, 2, REPRESENTATIVE, "--now", JAN)
    assert_ok(
        pv_ready("consent", "give", "--method", "web", sid, "--purpose", "marketing", "--channel", "sms", "--now", JAN)
    )
    # No relationship of its organisation, and past the 90 days of a prospect: nothing keeps it.
    assert due(pv_ready, PROSPECT_OVER).keys() == {rep}
    assert_ok(pv_ready("object", sid, "--purpose", "marketing", *at(PROSPECT_OVER)))
    items = due(pv_ready, PROSPECT_OVER)
    assert items[sid]["action"] == "erase" and items[rep]["action"] == "erase"
    run = pv_ready.json("retention", "run", *at(PROSPECT_OVER))
    assert (run["erased"], run["archived"]) == (2, 0)
    assert count(pv_ready.db_url, "archive_records") == 0 and count(pv_ready.db_url, "erasure_receipts") == 2


def test_plan_as_a_table_and_as_csv(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ids = [add(pv_ready, n, ONE_TIME, "--now", JAN) for n in range(3)]
    table = pv_ready("retention", "plan", "--limit", "2", *at(PROSPECT_OVER))
    assert_ok(table)
    assert "3 subject(s)" in table.stdout and "and 1 more" in table.stdout
    out = tmp_path / "due.csv"
    assert_ok(pv_ready("retention", "plan", "--csv", str(out), *at(PROSPECT_OVER)))
    lines = out.read_text("utf-8").splitlines()
    assert lines[0].startswith("subject_id,kind,action,rule,since") and len(lines) == 4
    assert {line.split(",")[0] for line in lines[1:]} == set(ids)
    nothing = pv_ready("retention", "run", *at("2026-01-04"))
    assert_ok(nothing)
    assert "0 due" in nothing.stdout


def test_bad_input_is_refused_and_changes_nothing(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add(pv_ready, 1, ONE_TIME, "--now", JAN)
    before = snapshot(pv_ready.db_url)
    cases = Cases()
    with cases.case("csv into a missing folder"):
        assert_refused(pv_ready("retention", "plan", "--csv", str(tmp_path / "no" / "x.csv")), 3, "csv", "cannot")
    with cases.case("negative limit"):
        assert_refused(pv_ready("retention", "plan", "--limit", "-1"), 3, "limit")
    with cases.case("batch of zero"):
        assert_refused(pv_ready("retention", "run", "--batch", "0"), 3, "batch")
    with cases.case("staff may not run retention"):
        refused = pv_ready("retention", "run", "--role", "staff")
        assert_refused(refused, 6, "may not plan or carry out archiving and erasure")
    with cases.case("auditor may not plan"):
        assert_refused(pv_ready("retention", "plan", "--role", "auditor"), 6, "retention")
    with cases.case("a bad --now"):
        assert_refused(pv_ready("retention", "plan", "--now", "yesterday"), 3, "now")
    cases.check()
    assert snapshot(pv_ready.db_url) == before


def test_an_uninitialised_database_is_not_ready(pv) -> None:  # type: ignore[no-untyped-def]
    assert_refused(pv("retention", "plan"), 9)
    assert_refused(pv("retention", "run"), 9)


def test_an_upgraded_register_is_scheduled_before_it_is_planned(pv_ready) -> None:  # type: ignore[no-untyped-def]
    sid = add(pv_ready, 1, ONE_TIME, "--now", JAN)
    sql(pv_ready.db_url, "UPDATE subjects SET retain_until = NULL, retain_action = NULL, retention_at = NULL")
    assert set(due(pv_ready, PROSPECT_OVER)) == {sid}
