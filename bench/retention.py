"""Retention at scale: `retention plan` and `retention run` over N subjects with a tenth due, beside the bare SQL.

Part of `make bench` (BENCH_OPS=retention); alone:

    python -m bench.retention                      # SQLite; 1 000 000 subjects, 100 000 due
    BENCH_SUBJECTS=200000 BENCH_DUE=20000 python -m bench.retention
    BENCH_BATCH=500 python -m bench.retention      # the run in batches of 500 (default: the command's, sweep.BATCH)
    PERSONVERN_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres python -m bench.retention

A run leaves the register smaller, so each measurement builds a register of its own (database `pv_retention_N`,
dropped after) through the real import (the import's rate over a million rows is recorded too); the subjects
that are not to be due are then given an open order in bulk SQL, with the schedule an open order gives (kept
open-ended by `agreement`). Half the due subjects are one-time customers (archived), half business
representatives without a contract (erased). The floors: the bare range scan that lists the due subjects, and a
bare DELETE of their rows (subjects, values, look-ups, keys), rolled back.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from datetime import UTC, date, datetime

from sqlalchemy import text

from bench.common import Backend, commit, db_name, load_average, traced_peak
from bench.load import table_counts
from bench.ops import Figure
from personvern.bootstrap import FixedClock, Runtime, initialise
from personvern.services import register, sweep

RECEIVED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
PLAN_RUNS = 3


def log(message: str) -> None:
    print(message, flush=True)


def _rows(start: int, count: int, business: bool) -> Iterator[tuple[int, dict[str, str]]]:
    for n in range(start, start + count):
        row = {"full_name": f"Person {n} Nordmann", "phone": f"+474{n:07d}", "email": f"p{n}@bench.example.no"}
        if business:
            row |= {"organisation_number": "923609016", "organisation_name": "Bench AS"}
        yield n + 2, row


def _build(rt: Runtime, subjects: int, due: int, log: Callable[[str], None]) -> float:
    """Import the register and make `due` of it due today; the import's seconds."""
    received = replace(rt.context(parallel=True), clock=FixedClock(RECEIVED))
    reps = due // 2
    started = time.perf_counter()
    register.import_subjects(received, "one_time_customer", _rows(0, subjects - reps, False), {})
    register.import_subjects(received, "business_representative", _rows(subjects - reps, reps, True), {})
    seconds = time.perf_counter() - started
    log(f"  imported {subjects} in {seconds:.1f} s ({subjects / seconds:,.0f} rows/s)")
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
    return seconds


DOOMED = "SELECT id FROM subjects WHERE retain_until <= :d"


def _bare_scan(rt: Runtime, day: date) -> tuple[float, int]:
    with rt.engine.connect() as conn:
        started = time.perf_counter()
        listed = conn.execute(
            text("SELECT id, kind, retain_until, retain_action FROM subjects WHERE retain_until <= :d "
                 "ORDER BY retain_until, id"),
            {"d": day},
        ).all()  # fmt: skip
        return time.perf_counter() - started, len(listed)


def _bare_delete(rt: Runtime, day: date) -> float:
    with rt.engine.connect() as conn:
        tx = conn.begin()
        started = time.perf_counter()
        doomed = (("subject_values", "subject_id"), ("lookups", "subject_id"), ("keystore.data_keys", "owner_id"))
        for table, column in doomed:
            conn.execute(text(f"DELETE FROM {table} WHERE {column} IN ({DOOMED})"), {"d": day})
        conn.execute(text("DELETE FROM subjects WHERE retain_until <= :d"), {"d": day})
        seconds = time.perf_counter() - started
        tx.rollback()
    return seconds


def retention_figures(backend: Backend, subjects: int, log: Callable[[str], None] = log) -> list[Figure]:
    """`retention plan` (several runs; it only reads) and `retention run` (once, timed per batch) on a register
    built for the purpose, each beside its floor, with what each did checked."""
    due = int(os.environ.get("BENCH_DUE", str(subjects // 10)))
    batch = int(os.environ.get("BENCH_BATCH", str(sweep.BATCH)))  # default: what `retention run` uses
    name = db_name(f"retention_{subjects}")
    backend.create(name)
    rt, _ = initialise(backend.settings(name))
    try:
        log(f"{backend.name}: retention over {subjects} subjects, {due} due (a register of its own)")
        import_seconds = _build(rt, subjects, due, log)
        day = rt.context().clock.now().date()
        plan, run = _plan(rt, day, due), _run(rt, day, due, batch, log)
        for fig in (plan, run):
            fig.checks["import_rows_per_second"] = round(subjects / import_seconds)
        return [plan, run]
    finally:
        rt.close()
        backend.drop(name)


def _plan(rt: Runtime, day: date, due: int) -> Figure:
    fig = Figure(
        f"retention plan ({due:,} due)", "≤ 5 s at 1 000 000 subjects with 100 000 due; within 5× of the floor"
    )
    op, floor = [], []
    for _ in range(PLAN_RUNS):
        seconds, listed = _bare_scan(rt, day)
        if listed != due:
            raise SystemExit(f"retention plan: the bare range scan found {listed} due, not {due}")
        floor.append(seconds)
        started = time.perf_counter()
        planned = sum(1 for _ in sweep.plan(rt.context()))
        op.append(time.perf_counter() - started)
        if planned != due:
            raise SystemExit(f"retention plan: it listed {planned} due, not {due}")
    fig.settle(op, floor)
    fig.peak_memory, _ = traced_peak(lambda: sum(1 for _ in sweep.plan(rt.context())))
    fig.meets_target = fig.median <= 5 if due >= 100_000 else None
    fig.checks = {"listed_each_run": due}
    fig.notes = [
        f"op: every due subject through sweep.plan (what `retention plan` prints); {PLAN_RUNS} runs, p99 the slowest",
        "floor: the bare range scan on retain_until that lists them, fetched",
        "peak mem: one more plan, traced",
    ]
    return fig


def _run(rt: Runtime, day: date, due: int, batch: int, log: Callable[[str], None]) -> Figure:
    fig = Figure(f"retention run ({due:,} due)", "≥ 5 000 subjects/s at 1 000 000 subjects; within 5× of the floor")
    floor = _bare_delete(rt, day) / due
    with rt.engine.connect() as conn:
        before = table_counts(conn)
    marks: list[float] = []
    sizes: list[int] = []
    traced = due >= 3 * batch  # the first batch traced (its peak is the run's), the rest timed

    def start(_due: int) -> None:
        if traced:
            tracemalloc.start()
        marks.append(time.perf_counter())

    def progress(done: int) -> None:
        if traced and len(marks) == 1:
            fig.peak_memory = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        marks.append(time.perf_counter())
        sizes.append(done)

    started = time.perf_counter()
    result = sweep.run(rt.context(), batch=batch, progress=progress, start=start)
    total = time.perf_counter() - started
    with rt.engine.connect() as conn:
        after = table_counts(conn)
        left = conn.scalar(text(f"SELECT count(*) FROM ({DOOMED}) AS due"), {"d": day})
    grown = {k: after[k] - before[k] for k in before}
    if result.failed or result.archived + result.erased != due or left:
        raise SystemExit(f"retention run: {result} with {due} due; still due after: {left}")
    if grown["subjects"] != -due or grown["erasure_receipts"] != result.erased:
        raise SystemExit(f"retention run: the tables changed by {grown}")
    per_subject = [(marks[i + 1] - marks[i]) / sizes[i] for i in range(len(sizes))][1 if traced else 0 :]
    fig.settle(per_subject, [floor])
    fig.rate = {
        "unit": "subjects",
        "per_second_median": round(1 / fig.median),
        "per_second_slowest": round(1 / max(per_subject)),
        "floor_per_second": round(1 / floor),
        "whole_run_per_second": round(due / total),
    }
    fig.meets_target = due / total >= 5_000 if due >= 100_000 else None
    fig.checks = {
        "archived": result.archived,
        "erased": result.erased,
        "held": result.held,
        "batches": len(sizes),
        "tables_grown": grown,
        "whole_run_seconds": round(total, 2),
    }
    fig.notes = [
        f"op: sweep.run (`retention run`) in batches of {batch}, per batch: median and slowest, as subjects/s"
        + ("; the first batch traced for peak memory, not timed" if traced else ""),
        "floor: a bare DELETE of the due subjects' rows (subjects, values, look-ups, keys), rolled back, per subject",
    ]
    log(f"  run: {due / total:,.0f} subjects/s over the whole run ({result.archived} archived, {result.erased} erased)")
    return fig


def main() -> int:
    subjects = int(os.environ.get("BENCH_SUBJECTS", "1000000"))
    backends = [Backend("sqlite")]
    server = os.environ.get("PERSONVERN_BENCH_DATABASE_URL")
    if server:
        backends.append(Backend("postgresql", server))
    out = {"commit": commit(), "results": {}}
    for backend in backends:
        out["results"][backend.name] = [asdict(f) for f in retention_figures(backend, subjects)]
    out["load_average_at_end"] = load_average()
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
