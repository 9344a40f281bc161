"""`make bench`: every hot path beside its floor, on SQLite and (when configured) PostgreSQL.

Environment:
  BENCH_SUBJECTS                 register size (default 1 000 000; 100000 for a quick run)
  PERSONVERN_BENCH_DATABASE_URL  a PostgreSQL server, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres
  BENCH_RUNS                     timed runs of each interactive operation (default 200, after 20 warm-up runs)
  BENCH_IMPORT_ROWS, BENCH_IMPORT_RUNS   the CLI import: rows in its file (100000) and runs (3)
  BENCH_OPS                      a comma-separated subset of: import, lookup, consent, audience, audit, outbox,
                                 review, retention, http, rights (default: all)
  BENCH_DUE, BENCH_BATCH         retention: subjects due (a tenth), and the run's batch (the command's)
  BENCH_VERIFY_RUNS              audit verify: runs over the whole chain (3)
  BENCH_OUTBOX_ROUNDS, BENCH_OUTBOX_MESSAGES   outbox delivery: rounds (5) of how many SMS (1000)
  BENCH_REVIEW_RUNS              the annual review: runs over the whole register (3)
  BENCH_HTTP_CLIENTS, BENCH_HTTP_READS, BENCH_HTTP_FLOWS, BENCH_HTTP_WORKERS   the API over HTTP: concurrent
                                 clients (16), subject reads (2000), access and erasure flows (300 each), and
                                 `personvern serve --workers` (1)
  BENCH_REBUILD=1                build the cached registers again
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine

from bench import supply
from bench.batch import OPERATIONS as BATCH_OPERATIONS
from bench.common import (
    RESULTS_FILE,
    Backend,
    env_int,
    fmt_bytes,
    fmt_seconds,
    load_average,
    machine,
    register_name,
)
from bench.http_api import http_erasures, http_figures
from bench.load import ensure_register
from bench.ops import Bench, Figure, audience, consent_changes, import_cli, lookups_and_show
from bench.retention import retention_figures
from bench.rights import rights_ops

OPS = ("import", "lookup", "consent", "audience", "audit", "outbox", "review", "retention", "http", "rights")


def log(message: str) -> None:
    print(message, flush=True)


def run_backend(backend: Backend, subjects: int, ops: set[str]) -> dict[str, Any]:
    runs = env_int("BENCH_RUNS", 200)
    warmup = min(20, max(2, runs // 10))
    started = time.perf_counter()
    meta = ensure_register(backend, subjects, rebuild=os.environ.get("BENCH_REBUILD") == "1", log=log)
    if meta.get("reused"):
        # Earlier runs used subjects up (consent given, people erased): below what a run needs, start afresh.
        engine = create_engine(backend.url(register_name(subjects)))
        try:
            with engine.connect() as conn:
                short = supply.shortfall(conn, supply.needs(ops, warmup, runs, http_erasures()))
        finally:
            engine.dispose()
        if short:
            log(f"{backend.name}: the register is used up by earlier runs ({short}); building it again")
            meta = ensure_register(backend, subjects, rebuild=True, log=log)
    figures: list[Figure] = []

    def attempt(name: str, measure: Callable[[], list[Figure]]) -> None:
        try:
            figures.extend(measure())
        except (SystemExit, Exception) as exc:  # one broken operation must not hide the others' figures
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            log(f"{backend.name}: {name} FAILED: {reason}")
            traceback.print_exc()  # to stderr: the engineer who reads the failure needs where it happened
            figures.append(Figure(name, "", failed=f"{type(exc).__name__}: {str(exc)[-1500:]}"))

    if "import" in ops:
        rows = env_int("BENCH_IMPORT_ROWS", 100_000)
        log(f"{backend.name}: import of {rows} rows through the CLI")
        attempt("import", lambda: [import_cli(backend, rows, env_int("BENCH_IMPORT_RUNS", 3), log)])
    bench = Bench(backend, subjects, runs, warmup, log)
    try:
        if "lookup" in ops:
            log(f"{backend.name}: look-up and show, {runs} runs each")
            attempt("look-up and show", lambda: lookups_and_show(bench))
        if "consent" in ops:
            log(f"{backend.name}: giving and withdrawing consent, {runs} runs each")
            attempt("consent", lambda: consent_changes(bench))
        if "audience" in ops:
            log(f"{backend.name}: marketing audience")
            attempt("marketing audience", lambda: audience(bench, meta))
        for name, what in (
            ("audit", "audit verify over the whole chain"),
            ("outbox", "outbox delivery to a local fake LINK Mobility"),
            ("review", "the annual review"),
        ):
            if name in ops:
                log(f"{backend.name}: {what}")
                attempt(what, lambda measure=BATCH_OPERATIONS[name]: measure(bench))
        if "retention" in ops:  # on a register of its own: a run leaves it smaller
            attempt("retention", lambda: retention_figures(backend, subjects, log))
        if "http" in ops:  # the API over HTTP; its erasure flow leaves the register smaller, as the rights do
            log(f"{backend.name}: the HTTP API, loaded from another process")
            attempt("http", lambda: http_figures(bench, meta))
        if "rights" in ops:  # last: its erasures leave the register smaller (and bench_meta says by how much)
            log(f"{backend.name}: access package and erasure, {runs} runs each")
            attempt("rights", lambda: rights_ops(bench, meta))
    finally:
        bench.close()
    for fig in figures:
        if fig.skipped:
            log(f"{backend.name}: skipped {fig.operation}: {fig.skipped}")
    return {
        "version": backend.version(),
        "register": {**meta, "database_bytes": backend.size(register_name(subjects))},
        "operations": [asdict(f) for f in figures],
        "seconds": round(time.perf_counter() - started, 1),
    }


def table(backend: str, subjects: int, figures: list[dict[str, Any]], register: dict[str, Any]) -> str:
    head = ("operation", "median", "p99", "floor", "ratio", "floor+audit", "ratio", "stmts", "req/s", "peak mem",
            "target", "")  # fmt: skip
    lines = [head]
    for f in figures:
        if f["skipped"] or f["failed"]:
            why = f["skipped"] or f["failed"].strip().splitlines()[-1]
            state = "skipped" if f["skipped"] else "FAILED"
            lines.append((f["operation"], state, "", "", "", "", "", "", "", "", f["target"].split(";")[0], why[:70]))
            continue
        rate = f["rate"]
        if "unit" in rate:  # a throughput: items per second (the seconds per item are in results.json)
            unit = rate["unit"]
            med = f"{rate['per_second_median']:,} {unit}/s"
            slow = f"{rate['per_second_slowest']:,} {unit}/s"
            floor = f"{rate['floor_per_second']:,} {unit}/s"
        elif "rows_per_second_median" in rate:
            med = f"{rate['rows_per_second_median']:,} rows/s"
            slow = f"{rate['rows_per_second_slowest']:,} rows/s"
            floor = f"{rate['floor_rows_per_second']:,} rows/s"
        else:
            med, slow, floor = fmt_seconds(f["median"]), fmt_seconds(f["p99"]), fmt_seconds(f["floor"])
        ratio = f"{f['ratio']:.1f}×" if f["ratio"] else "-"
        ratio_a = f"{f['ratio_with_audit']:.1f}×" if f["ratio_with_audit"] else "-"
        verdict = []
        if f["meets_target"] is not None:
            verdict.append("target met" if f["meets_target"] else "TARGET MISSED")
        if f["within_5x"] is not None:
            verdict.append("≤5× floor" if f["within_5x"] else ">5× FLOOR")
        if f.get("versus"):
            verdict.append(f["versus"])
        lines.append(
            (
                f["operation"],
                med,
                slow,
                floor,
                ratio,
                f"{rate['floor_with_audit_per_second']:,} {rate['unit']}/s"
                if "floor_with_audit_per_second" in rate
                else fmt_seconds(f["floor_with_audit"]),
                ratio_a,
                "" if f.get("statements") is None else str(f["statements"]),
                f"{rate['requests_per_second']:,}" if "requests_per_second" in rate else "",
                fmt_bytes(f["peak_memory"]),
                f["target"].split(";")[0],
                ", ".join(verdict),
            )
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(head))]
    how = "reused, built" if register.get("reused") else "built"
    out = [
        f"\n{backend}, {subjects:,} subjects (register {how} in {register['load_seconds']:.1f} s,"
        f" {register['subjects_per_second']:,} subjects/s, {fmt_bytes(register['database_bytes'])} on disk)"
    ]
    for n, row in enumerate(lines):
        out.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main() -> int:
    subjects = env_int("BENCH_SUBJECTS", 1_000_000)
    ops = {o.strip() for o in os.environ.get("BENCH_OPS", ",".join(OPS)).split(",") if o.strip()}
    unknown = ops - set(OPS)
    if unknown:
        print(f"BENCH_OPS: unknown operation(s) {sorted(unknown)}; choose from {', '.join(OPS)}", file=sys.stderr)
        return 2
    backends = [Backend("sqlite")]
    pg_url = os.environ.get("PERSONVERN_BENCH_DATABASE_URL")
    if pg_url:
        backends.append(Backend("postgresql", pg_url))
    else:
        log("PostgreSQL skipped: set PERSONVERN_BENCH_DATABASE_URL to measure it too")
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_at_start": load_average(),
        "config": {
            "subjects": subjects,
            "runs": env_int("BENCH_RUNS", 200),
            "import_rows": env_int("BENCH_IMPORT_ROWS", 100_000),
            "import_runs": env_int("BENCH_IMPORT_RUNS", 3),
            "operations": sorted(ops),
        },
        "backends": {},
    }
    for backend in backends:
        results["backends"][backend.name] = run_backend(backend, subjects, ops)
    results["load_average_at_end"] = load_average()
    if pg_url:
        results["machine"]["postgresql"] = results["backends"]["postgresql"]["version"]
    RESULTS_FILE.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n")
    for name, data in results["backends"].items():
        print(table(f"{name} {data['version']}", subjects, data["operations"], data["register"]))
    cores = results["machine"]["nproc"] or 1
    busy = max(results["load_average_at_start"][0], results["load_average_at_end"][0])
    print(
        f"\nload average {results['load_average_at_start']} → {results['load_average_at_end']} on {cores} cores", end=""
    )
    # The benchmark itself keeps about one core busy (and PostgreSQL's backend another, in bursts).
    print(": above the core count, others were using the machine and the figures are noisy" if busy > cores else "")
    print(f"written to {RESULTS_FILE}")
    failed = [f"{name}: {f['operation']}" for name, data in results["backends"].items() for f in data["operations"]
              if f["failed"]]  # fmt: skip
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
