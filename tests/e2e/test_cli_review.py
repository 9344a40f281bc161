"""`review run` and `review sign`, and the worker's daily sweep and reminder, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from pathlib import Path

from tests.e2e.support import ONE_TIME, Cases, add, assert_ok, assert_refused, count, snapshot, sql

JAN = "2026-01-05T10:00:00+00:00"
DEC = "2026-12-15T12:00:00+00:00"


def test_review_run_writes_html_and_json_and_sign_removes_what_has_no_reason(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pv_ready = pv_ready
    kept = add(pv_ready, 1, ONE_TIME, "--now", JAN)
    assert_ok(pv_ready("relationship", "start", kept, "--now", JAN))
    bare = add(pv_ready, 2, ONE_TIME, "--now", JAN)
    out = tmp_path / "review"
    run = pv_ready.json("review", "run", "--year", "2026", "--out", str(out), "--lang", "en", "--now", DEC)
    assert run["summary"]["without_reason"] == 1 and run["summary"]["by_reason"] == {"agreement": 1, "none": 1}
    files = sorted(out.iterdir())
    assert [f.suffix for f in files] == [".html", ".json"]
    body = files[1].read_bytes()
    assert hashlib.sha256(body).hexdigest() == run["sha256"]  # the file is the hashed text itself
    report = json.loads(body)
    assert {e["id"]: e["reason"] for e in report["subjects"]} == {kept: "agreement", bare: "none"}
    html = files[0].read_text("utf-8")
    assert "Annual review" in html and bare in html and "Person 2" not in html and "example.no" not in html
    signed = pv_ready.json("review", "sign", run["id"], "--now", DEC)
    user = pwd.getpwuid(os.geteuid()).pw_name  # the operating-system user, labelled by PERSONVERN_ACTOR
    assert (signed["archived"], signed["erased"], signed["signed_by"]) == (1, 0, f"os:{user} as tester")
    assert count(pv_ready.db_url, "archive_records") == 1
    assert sql(pv_ready.db_url, "SELECT count(*) FROM subjects")[0][0] == 1
    logged = sql(pv_ready.db_url, "SELECT details FROM audit_log WHERE action = 'review.sign'")
    assert run["sha256"] in logged[0][0]
    assert_ok(pv_ready("audit", "verify"))
    again = pv_ready("review", "sign", run["id"], "--now", DEC)
    assert_refused(again, 5, "signed")


def test_review_bad_input_is_refused_and_changes_nothing(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    add(pv_ready, 1, ONE_TIME, "--now", JAN)
    run = pv_ready.json("review", "run", "--year", "2026", "--now", DEC)
    before = snapshot(pv_ready.db_url)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = Cases()
    with cases.case("a future year"):
        assert_refused(pv_ready("review", "run", "--year", "2027", "--now", DEC), 3, "year")
    with cases.case("a year that is not a number"):
        result = pv_ready("review", "run", "--year", "last", "--now", DEC)
        assert result.exit_code == 2 and "Traceback" not in result.stderr
    with cases.case("out is a file"):
        assert_refused(pv_ready("review", "run", "--year", "2026", "--out", str(blocker)), 3, "out")
    with cases.case("unknown language"):
        assert_refused(pv_ready("review", "run", "--year", "2026", "--lang", "sv"), 3, "lang")
    with cases.case("staff may not review"):
        assert_refused(pv_ready("review", "run", "--year", "2026", "--role", "staff"), 6, "review")
    with cases.case("staff may not sign"):
        assert_refused(pv_ready("review", "sign", run["id"], "--role", "staff"), 6, "review")
    with cases.case("unknown review"):
        assert_refused(pv_ready("review", "sign", "nope", "--now", DEC), 4, "nope")
    cases.check()
    assert snapshot(pv_ready.db_url) == before


def test_a_changed_report_is_not_signed(pv_ready) -> None:  # type: ignore[no-untyped-def]
    add(pv_ready, 1, ONE_TIME, "--now", JAN)
    run = pv_ready.json("review", "run", "--year", "2026", "--now", DEC)
    sql(pv_ready.db_url, "UPDATE reviews SET report = replace(report, '\"none\"', '\"agreement\"')")
    assert_refused(pv_ready("review", "sign", run["id"], "--now", DEC), 7, "sha256")
    assert count(pv_ready.db_url, "archive_records") == 0


def test_the_worker_sweeps_once_a_day_and_reminds_of_the_review(pv_ready) -> None:  # type: ignore[no-untyped-def]
    add(pv_ready, 1, ONE_TIME, "--now", JAN)
    # The first sweep of a register is the CEO's (issue 16): the worker waits for it, and then goes on alone.
    waiting = pv_ready.json("worker", "--once", "--now", "2027-01-09T08:00:00+00:00")
    assert waiting["retention_swept"] == 0 and waiting["retention_waiting"]["waiting"] is True
    assert count(pv_ready.db_url, "archive_records") == 0
    assert pv_ready.json("retention", "run", "--now", "2027-01-09T09:00:00+00:00")["archived"] == 1
    add(pv_ready, 3, ONE_TIME, "--received", "2026-06-01", "--now", "2027-01-09T10:00:00+00:00")  # a prospect once
    first = pv_ready.json("worker", "--once", "--now", "2027-01-10T08:00:00+00:00")
    assert first["retention_swept"] == 1 and count(pv_ready.db_url, "archive_records") == 2
    assert first["retention_waiting"] is None
    assert any("2026" in r and "not signed" in r for r in first["reminders"])
    add(pv_ready, 2, ONE_TIME, "--received", "2026-06-01", "--now", "2027-01-10T09:00:00+00:00")
    second = pv_ready.json("worker", "--once", "--now", "2027-01-10T10:00:00+00:00")
    assert second["retention_swept"] == 0  # once a day
    third = pv_ready.json("worker", "--once", "--now", "2027-01-11T08:00:00+00:00")
    assert third["retention_swept"] == 1
    run = pv_ready.json("review", "run", "--year", "2026", "--now", "2027-01-11T09:00:00+00:00")
    assert_ok(pv_ready("review", "sign", run["id"], "--now", "2027-01-11T09:00:00+00:00"))
    assert pv_ready.json("worker", "--once", "--now", "2027-01-11T10:00:00+00:00")["reminders"] == []
    text = pv_ready("worker", "--once", "--now", "2027-01-12T10:00:00+00:00")
    assert_ok(text)
    assert "reminder" not in text.stdout


def _cells(html: str) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)]


def test_the_review_names_kinds_reasons_and_actions_in_the_reports_language(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Issue 18: the Norwegian review showed raw codes (agreement, bookkeeping, contract_customer).
    from tests.e2e.support import CONTRACT

    kept = add(pv_ready, 1, CONTRACT, "--now", JAN)
    assert_ok(pv_ready("relationship", "start", kept, "--type", "contract", "--now", JAN))
    add(pv_ready, 2, ONE_TIME, "--now", JAN)
    codes = {"agreement", "bookkeeping", "contract_customer", "one_time_customer", "none", "archive", "erase", "all"}
    for lang, words in {
        "nb": ("avtalekunde", "engangskunde", "Gjennomføre avtalen", "Ingen grunn", "Arkiveres", "Alle opplysninger"),
        "en": ("contract customer", "one-time customer", "Performing the agreement", "No reason", "Archived"),
    }.items():
        out = tmp_path / lang
        assert_ok(pv_ready("review", "run", "--year", "2026", "--out", str(out), "--lang", lang, "--now", DEC))
        html = next(out.glob("*.html")).read_text("utf-8")
        cells = _cells(html)
        assert not codes & set(cells), sorted(codes & set(cells))
        for word in words:
            assert word in cells, (lang, word, cells)


def test_no_review_is_owed_for_a_year_before_the_register_held_data(pv) -> None:  # type: ignore[no-untyped-def]
    # Issue 16: a register made in December 2026 was reminded of the review of 2025.
    assert_ok(pv("init", "--now", "2026-12-03T09:00:00+00:00"))
    assert pv.json("worker", "--once", "--now", "2026-12-03T10:00:00+00:00")["reminders"] == []
    add(pv, 1, ONE_TIME, "--received", "2024-05-01", "--now", "2026-12-03T11:00:00+00:00")  # received before: no matter
    assert pv.json("worker", "--once", "--now", "2026-12-04T10:00:00+00:00")["reminders"] == []
    # The register held data in 2026: once December is over, the review of 2026 is owed.
    reminders = pv.json("worker", "--once", "--now", "2027-01-02T10:00:00+00:00")["reminders"]
    assert any("the annual review of 2026 is not signed" in r for r in reminders)
