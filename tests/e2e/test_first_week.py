"""Issue 16 done-when: a 10 000-row export moves in with its history; a week of the worker archives no one by surprise.

On a simulation register (`--now`), both databases: the export has orders, contracts (one in twenty ended long
ago), consents with their proof, recent enquiries and people nothing keeps. The import's dry run says how many
are due at once; the worker, run twice a day for a week, archives and erases nobody and says why on every pass;
the CEO then looks at the plan and runs it, and exactly the people without a reason leave (those an ended
contract still keeps for bookkeeping stay, restricted to those fields). Everyone with a reason is still there.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

from tests.e2e.support import ONE_TIME, assert_ok, count, phone, sql

ROWS = 10_000
T0 = date(2026, 11, 23)  # a Monday
HEADER = (
    "full_name,phone,email,received_at,order_date,contract_start,contract_end,"
    "consent_sms_at,consent_email_at,consent_method,consent_proof"
)


def at(day: date, hour: int = 8) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+01:00"


def _kind_of_row(i: int) -> str:
    if i % 20 == 5:
        return "ended_contract"
    return ("order", "order", "order", "order", "contract", "contract", "consent", "consent", "recent", "nothing")[
        i % 10
    ]


def _history(i: int) -> str:
    """received_at … consent_proof for person i (see the module's docstring for the mix)."""
    kind = _kind_of_row(i)
    past = T0 - timedelta(days=1 + i % 1500)
    if kind == "order":
        return f"{(past - timedelta(days=30)).isoformat()},{past.isoformat()},,,,,,"
    if kind == "contract":
        end = "2027-06-30" if i % 3 else ""
        return f"2023-05-02,,2024-01-01,{end},,,,"
    if kind == "ended_contract":
        return "2022-03-01,,2022-04-01,2025-06-30,,,,"
    if kind == "consent":
        sms, email = ("2019-06-01 12:00", "") if i % 4 == 2 else ("", "01.06.2019")
        return f"2019-06-01,,,,{sms},{email},web,HubSpot form «Nyhetsbrev» (export 2026-11)"
    if kind == "recent":
        return f"{(T0 - timedelta(days=30)).isoformat()},,,,,,,"
    return "2020-02-03,,,,,,,"


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    lines = [HEADER] + [f"Person {i} Nordmann,{phone(i)},person{i}@example.no,{_history(i)}" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _expected(kind: str) -> int:
    return sum(1 for i in range(ROWS) if _kind_of_row(i) == kind)


def test_a_week_of_the_worker_after_moving_in_archives_no_one_by_surprise(pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert_ok(pv("init", "--now", at(T0, 7)))
    export = _export(tmp_path)
    surprise = _expected("nothing") + _expected("ended_contract")  # nothing keeps them whole any more
    checked = pv.json("subject", "import", str(export), "--kind", ONE_TIME, "--check", "--now", at(T0))
    assert (checked["would_import"], checked["due_at_once"], checked["worker_waits"]) == (ROWS, surprise, True)
    assert checked["orders"] == _expected("order") and checked["contracts"] == _expected("contract") + _expected(
        "ended_contract"
    )
    assert sum(checked["consents"].values()) == _expected("consent")
    started = time.perf_counter()
    imported = pv.json("subject", "import", str(export), "--kind", ONE_TIME, "--now", at(T0))
    seconds = time.perf_counter() - started
    assert imported["imported"] == ROWS and imported["due_at_once"] == surprise
    print(f"\nimport of {ROWS} rows with history: {seconds:.1f} s ({ROWS / seconds:.0f} rows/s)")

    # A week of the worker, morning and evening: it waits for the CEO, says so every time, and does nothing.
    for day in (T0 + timedelta(days=n) for n in range(7)):
        for hour in (8, 20):
            passed = pv("worker", "--once", "--now", at(day, hour))
            assert_ok(passed)
            assert f"retention sweep waiting for the CEO: {surprise} subject(s) are due on {day.isoformat()}" in (
                passed.stdout
            ), passed.stdout
        assert count(pv.db_url, "subjects") == ROWS
        assert count(pv.db_url, "archive_records") == 0 and count(pv.db_url, "erasure_receipts") == 0
    held = sql(pv.db_url, "SELECT count(*) FROM audit_log WHERE action = 'retention.held'")[0][0]
    assert held == 7  # recorded once a day, said on every pass

    # The CEO looks at the plan: exactly the people nothing keeps, and the ended contracts outside bookkeeping.
    last = T0 + timedelta(days=6)
    plan = pv.json("retention", "plan", "--now", at(last, 21))
    assert plan["due"] == surprise and plan["unattended"]["waiting"] is True
    rules = {(s["rule"], s["action"], s["scope"]) for s in plan["subjects"]}
    assert rules == {("prospect", "archive", "all"), ("agreement", "erase", "outside_hold")}
    run = pv.json("retention", "run", "--now", at(last, 21))
    assert (run["archived"], run["erased_except_held"], run["failed"]) == (
        _expected("nothing"),
        _expected("ended_contract"),
        [],
    )
    assert run["confirmed_wait"] is not None
    assert count(pv.db_url, "subjects") == ROWS - _expected("nothing")
    after = pv.json("worker", "--once", "--now", at(last + timedelta(days=1)))
    assert after["retention_waiting"] is None and after["retention_swept"] == 0

    # Everyone with a reason is still there, whole: a sample of each kind, by email.
    for kind in ("order", "contract", "consent", "recent"):
        for i in [i for i in range(ROWS) if _kind_of_row(i) == kind][:: ROWS // 40][:5]:
            shown = pv.json(
                "subject", "show", "--email", f"person{i}@example.no", "--now", at(last + timedelta(days=1))
            )
            assert set(shown["values"]) == {"full_name", "phone", "email"}, (kind, i)
    gone = pv("subject", "show", "--email", "person9@example.no", "--now", at(last + timedelta(days=1)))
    assert gone.exit_code == 4 and "archived on" in gone.stderr
