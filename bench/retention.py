"""Retention at scale: `retention plan` and `retention run` over N subjects with D due, beside the bare SQL.

    python -m bench.retention                      # SQLite; 1 000 000 subjects, 100 000 due
    BENCH_SUBJECTS=200000 BENCH_DUE=20000 python -m bench.retention
    BENCH_BATCH=500 python -m bench.retention      # the run in batches of 500 (default: the command's, sweep.BATCH)
    PERSONVERN_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python -m bench.retention

The register is built through the real import (so the import's rate with its retention schedules is measured
too); the subjects that are not to be due are then given an open order in bulk SQL, with the schedule an
open order gives (kept open-ended by `agreement`). Half the due subjects are one-time customers (archived),
half business representatives without a contract (erased). The floors: the bare range scan that lists the due
subjects, and a bare DELETE of their rows (subjects, values, look-ups, keys) rolled back.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import commit, load_average
from personvern.bootstrap import FixedClock, Runtime, Settings, initialise
from personvern.services import register, sweep

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
WORK = Path(os.environ.get("BENCH_RETENTION_DIR", "/tmp/personvern-bench-retention"))


def log(message: str) -> None:
    print(message, flush=True)


def _rows(start: int, count: int, business: bool) -> Iterator[tuple[int, dict[str, str]]]:
    for n in range(start, start + count):
        row = {"full_name": f"Person {n} Nordmann", "phone": f"+474{n:07d}", "email": f"p{n}@bench.example.no"}
        if business:
            row |= {"organisation_number": "923609016", "organisation_name": "Bench AS"}
        yield n + 2, row


def _runtime(url: str, key: Path) -> Runtime:
    rt, _ = initialise(Settings(url, key, NOW, "ceo", "bench"))
    return rt


def measure(name: str, url: str, subjects: int, due: int) -> dict[str, Any]:
    key = WORK / f"{name}.masterkey"
    rt = _runtime(url, key)
    received = replace(rt.context(parallel=True), clock=FixedClock(RECEIVED))
    out: dict[str, Any] = {"backend": name, "subjects": subjects, "due": due}
    reps = due // 2
    started = time.perf_counter()
    register.import_subjects(received, "one_time_customer", _rows(0, subjects - reps, False), {})
    register.import_subjects(received, "business_representative", _rows(subjects - reps, reps, True), {})
    out["import_seconds"] = time.perf_counter() - started
    out["import_rows_per_second"] = subjects / out["import_seconds"]
    log(f"{name}: imported {subjects} in {out['import_seconds']:.1f} s ({out['import_rows_per_second']:.0f} rows/s)")

    # Everyone but the first `due - reps` one-time customers (and the representatives) gets an open order.
    with rt.engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM subjects WHERE kind = 'one_time_customer' ORDER BY id"))]
        kept = ids[due - reps :]
        conn.execute(
            text("INSERT INTO relationships (id, subject_id, type, started_on) VALUES (:i, :s, 'order', :d)"),
            [{"i": f"r{n:030d}", "s": sid, "d": date(2026, 1, 5)} for n, sid in enumerate(kept)],
        )
        conn.execute(
            text(
                "UPDATE subjects SET retain_until = NULL, retain_rule = 'agreement', hold_until = :h, hold_fields = :f "
                "WHERE kind = 'one_time_customer' AND id >= :first"
            ),
            {"h": date(2032, 1, 1), "f": "email,full_name", "first": kept[0]},
        )
        conn.execute(text("ANALYZE"))  # the statistics autovacuum would have gathered after a bulk load
    today = NOW.date()
    with rt.engine.connect() as conn:
        started = time.perf_counter()
        listed = conn.execute(
            text(
                "SELECT id, kind, retain_until, retain_action FROM subjects WHERE retain_until <= :d "
                "ORDER BY retain_until, id"
            ),
            {"d": today},
        ).all()
        out["bare_scan_seconds"] = time.perf_counter() - started
    assert len(listed) == due, (len(listed), due)
    started = time.perf_counter()
    planned = sum(1 for _ in sweep.plan(rt.context()))
    out["plan_seconds"] = time.perf_counter() - started
    assert planned == due, planned
    log(f"{name}: plan {out['plan_seconds']:.2f} s for {due} due (bare range scan {out['bare_scan_seconds']:.2f} s)")

    with rt.engine.connect() as conn:
        tx = conn.begin()
        started = time.perf_counter()
        doomed = "SELECT id FROM subjects WHERE retain_until <= :d"
        for table, column in (("subject_values", "subject_id"), ("lookups", "subject_id"), ("data_keys", "owner_id")):
            conn.execute(text(f"DELETE FROM {table} WHERE {column} IN ({doomed})"), {"d": today})
        conn.execute(text("DELETE FROM subjects WHERE retain_until <= :d"), {"d": today})
        out["bare_delete_seconds"] = time.perf_counter() - started
        tx.rollback()
    # BENCH_RUN: run over that many of the due subjects (the earliest due), to time a sample of a long run.
    runs = min(due, int(os.environ.get("BENCH_RUN", str(due))))
    run_ctx = rt.context()
    if runs < due:
        with rt.engine.begin() as conn:
            later = [r[0] for r in conn.execute(text(doomed + " ORDER BY id"), {"d": today}).all()][runs:]
            conn.execute(
                text("UPDATE subjects SET retain_until = :l WHERE id = :i"),
                [{"l": date(2026, 6, 1), "i": i} for i in later],
            )
        run_ctx = replace(run_ctx, clock=FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC)))
    # The batch `personvern retention run` uses (sweep.BATCH), unless BENCH_BATCH says otherwise.
    batch = int(os.environ.get("BENCH_BATCH", str(sweep.BATCH)))
    started = time.perf_counter()
    result = sweep.run(run_ctx, batch=batch)
    out["run_seconds"] = time.perf_counter() - started
    out["run_subjects"] = runs
    out["run_batch"] = batch
    out["run_per_second"] = runs / out["run_seconds"]
    out["run"] = {
        "archived": result.archived,
        "erased": result.erased,
        "held": result.held,
        "failed": len(result.failed),
    }
    log(
        f"{name}: run {out['run_seconds']:.1f} s for {runs} in batches of {batch} "
        f"({out['run_per_second']:.0f} subjects/s: {out['run']}); "
        f"bare DELETE {out['bare_delete_seconds']:.2f} s"
    )
    rt.close()
    return out


def main() -> int:
    subjects = int(os.environ.get("BENCH_SUBJECTS", "1000000"))
    due = int(os.environ.get("BENCH_DUE", str(subjects // 10)))
    WORK.mkdir(parents=True, exist_ok=True)
    results = []
    db = WORK / f"retention-{subjects}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    (WORK / "sqlite.masterkey").unlink(missing_ok=True)
    if os.environ.get("BENCH_SKIP_SQLITE") != "1":
        results.append(measure("sqlite", f"sqlite:///{db}", subjects, due))
    server = os.environ.get("PERSONVERN_BENCH_DATABASE_URL")
    if server:
        from sqlalchemy import create_engine, make_url

        name = f"personvern_bench_retention_{subjects}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        (WORK / "postgresql.masterkey").unlink(missing_ok=True)
        try:
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            results.append(measure("postgresql", url, subjects, due))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(json.dumps({"commit": commit(), "load_average_at_end": load_average(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
