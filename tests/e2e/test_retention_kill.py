"""A `retention run` killed half-way (SIGKILL, a real process) and started again ends as one uninterrupted run.

Each subject is archived or erased in a transaction of its own batch (one subject, or 50 in bulk): after the
kill, the subjects whose transaction committed are gone from the register (archived, or erased with a
receipt), the others are untouched and still due. The second run does the rest, and nothing is done twice.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.support import ORG_A, assert_ok, killed_once, sql

SCRIPT = Path(sys.executable).with_name("personvern")
ONE_TIME_ROWS = 600
REPRESENTATIVE_ROWS = 300
RECEIVED = "2026-01-05T10:00:00+00:00"
SWEEP = "2026-04-06T12:00:00+00:00"  # past the 90 days the policy keeps people with no order (prospects)


def _csv(path: Path, start: int, rows: int, business: bool) -> Path:
    header = "full_name,phone,email" + (",organisation_number,organisation_name" if business else "")
    lines = [header]
    for n in range(start, start + rows):
        line = f"Person {n} Nordmann,4{1_000_000 + n:07d},person{n}@example.no"
        lines.append(line + (f",{ORG_A},Firma AS" if business else ""))
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _done(url: str) -> int:
    return int(
        sql(url, "SELECT (SELECT count(*) FROM archive_records) + (SELECT count(*) FROM erasure_receipts)")[0][0]
    )


@pytest.mark.parametrize("batch", [1, 50])
def test_a_killed_run_started_again_ends_as_one_uninterrupted_run(pv_ready, tmp_path: Path, batch: int) -> None:  # type: ignore[no-untyped-def]
    pv_ready = pv_ready
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    url = pv_ready.db_url
    # Batches of 50 get five times the people, so that the run still lasts long enough (about 90 transactions)
    # to be killed half-way on a fast machine.
    scale = 1 if batch == 1 else 5
    one_time_rows, representative_rows = ONE_TIME_ROWS * scale, REPRESENTATIVE_ROWS * scale
    one_time = _csv(tmp_path / "one.csv", 0, one_time_rows, business=False)
    reps = _csv(tmp_path / "reps.csv", one_time_rows, representative_rows, business=True)
    assert_ok(pv_ready("subject", "import", str(one_time), "--kind", "one_time_customer", "--now", RECEIVED))
    assert_ok(pv_ready("subject", "import", str(reps), "--kind", "business_representative", "--now", RECEIVED))
    kinds = dict(sql(url, "SELECT id, kind FROM subjects"))
    total = len(kinds)
    plan = pv_ready.json("retention", "plan", "--now", SWEEP)
    assert plan["due"] == total

    argv = [str(SCRIPT), "retention", "run", "--batch", str(batch), "--json", "--now", SWEEP, "--db", url]
    killed_once(argv, lambda: _done(url) > 0)  # once some subjects are done
    done_at_kill = _done(url)
    assert 0 < done_at_kill < total, done_at_kill
    assert done_at_kill % batch == 0, done_at_kill  # whole batches: each is one transaction
    # Nothing is half done: every subject is either whole in the register or gone with its archive/receipt.
    live = {sid for (sid,) in sql(url, "SELECT id FROM subjects")}
    assert len(live) + done_at_kill == total
    assert sql(url, "SELECT count(*) FROM retention_sweeps WHERE finished_at IS NULL")[0][0] == 1

    second = pv_ready.json("retention", "run", "--now", SWEEP)
    assert second["due"] == total - done_at_kill and second["failed"] == []
    assert second["archived"] + second["erased"] == total - done_at_kill

    # The end state of one uninterrupted run: every one-time customer archived once, every representative
    # erased once (the policy erases them), nothing left in the register, nothing due, the chain intact.
    assert sql(url, "SELECT count(*) FROM subjects")[0][0] == 0
    archived = Counter(sid for (sid,) in sql(url, "SELECT subject_id FROM archive_records"))
    erased = Counter(sid for (sid,) in sql(url, "SELECT subject_id FROM erasure_receipts"))
    assert set(archived) == {sid for sid, kind in kinds.items() if kind == "one_time_customer"}
    assert set(erased) == {sid for sid, kind in kinds.items() if kind == "business_representative"}
    assert max(archived.values()) == 1 and max(erased.values()) == 1
    actions = Counter(a for (a,) in sql(url, "SELECT action FROM audit_log WHERE action LIKE 'subject.%'"))
    assert actions["subject.archive"] == one_time_rows and actions["subject.erase"] == representative_rows
    # Only the archive's own keys are left: every subject's data key went with it. On SQLite the key store is a
    # file of its own and a commit is atomic per file (the register's first): a kill between the two leaves the
    # killed batch's keys behind, orphans the sweep deletes (the worker runs it after each day's retention).
    swept = pv_ready.json("keys", "sweep")
    assert swept["orphans"] <= batch and swept["keyless"] == 0, swept
    assert (
        sql(url, "SELECT count(*) FROM keystore.data_keys WHERE owner_id IN (SELECT subject_id FROM archive_records)")[
            0
        ][0]
        == 0
    )
    assert pv_ready.json("retention", "plan", "--now", SWEEP)["due"] == 0
    assert_ok(pv_ready("audit", "verify"))
