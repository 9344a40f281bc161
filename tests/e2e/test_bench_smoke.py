"""`make bench` at a toy size: every operation runs and passes its own checks, so the benchmark cannot rot unseen.

The figures of so small a register mean nothing and are not looked at; what is tested is that each measured
operation still does what the benchmark checks it did (counts before and after, the floors' agreement).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from tests.conftest import PG_ENV

ROOT = Path(__file__).resolve().parents[2]
SUBJECTS = 3001  # an odd size, so the cached register is never a real benchmark's
TOY = {
    "BENCH_SUBJECTS": str(SUBJECTS),
    "BENCH_RUNS": "4",
    "BENCH_IMPORT_ROWS": "300",
    "BENCH_IMPORT_RUNS": "1",
    "BENCH_VERIFY_RUNS": "1",
    "BENCH_OUTBOX_ROUNDS": "1",
    "BENCH_OUTBOX_MESSAGES": "20",
    "BENCH_REVIEW_RUNS": "1",
    "BENCH_REBUILD": "1",
    "BENCH_BATCH": "50",  # the retention run in several batches
    "BENCH_HTTP_CLIENTS": "4",
    "BENCH_HTTP_READS": "30",
    "BENCH_HTTP_FLOWS": "5",
}


def _bench(module: str, settings: dict[str, str]) -> str:
    """`python -m module` with only these settings (none of this shell's), which must end well; its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PERSONVERN_", "BENCH_"))} | settings
    done = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


# Database names of this test run's own: another run on the same server (a second checkout) keeps its own.
PREFIX = f"pv{os.getpid()}"


def _run_bench(tmp_path: Path, server: str | None) -> dict:
    settings = TOY | {
        "BENCH_DATA_DIR": str(tmp_path / "data"),
        "BENCH_RESULTS": str(tmp_path / "results.json"),
        "BENCH_DB_PREFIX": PREFIX,
    }
    _bench("bench.run", settings | ({"PERSONVERN_BENCH_DATABASE_URL": server} if server else {}))
    return json.loads((tmp_path / "results.json").read_text())


def _check(results: dict, backend: str) -> None:
    operations = results["backends"][backend]["operations"]
    # The HTTP figures wait for the API's routes (GET /api/v1/subjects/{id}, /api/v1/requests…) where they are
    # not there yet; nothing else may be skipped.
    failed = {
        o["operation"]: o.get("failed") or o.get("skipped")
        for o in operations
        if o.get("failed") or (o.get("skipped") and "the API has no route" not in o["skipped"])
    }
    assert failed == {}, failed
    names = {o["operation"] for o in operations}
    expected_names = (
        "import",
        "look-up by email",
        "give consent",
        "marketing audience count (sms)",
        "audit verify",
        "outbox delivery",
        "annual review",
        "access package (fulfil)",
        "erasure (erase_subject)",
        "retention plan",
        "retention run",
        "HTTP GET /api/v1/subjects/{id}",
        "HTTP access flow",
        "HTTP erasure flow",
    )
    for expected in expected_names:
        assert any(n.startswith(expected) for n in names), (expected, names)
    assert all(o["median"] > 0 and o["floor"] > 0 for o in operations if not o.get("skipped"))
    counted = [
        o
        for o in operations
        if o["operation"].startswith(("show one", "access package", "HTTP")) and not o.get("skipped")
    ]
    assert counted and all(o["statements"] > 0 for o in counted)  # each call's statements, printed beside it


def test_make_bench_runs_and_checks_itself(tmp_path: Path) -> None:
    """On SQLite, and on PostgreSQL too when the test server is configured (as in CI)."""
    url = os.environ.get(PG_ENV)
    admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT") if url else None
    try:
        results = _run_bench(tmp_path, url)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for database in (
                    f"{PREFIX}_bench_{SUBJECTS}",
                    f"{PREFIX}_retention_{SUBJECTS}",
                    f"{PREFIX}_bench_import",
                    f"{PREFIX}_bench_import_floor",
                ):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            admin.dispose()
    _check(results, "sqlite")
    if url:
        _check(results, "postgresql")


def test_the_retention_bench_runs_alone(tmp_path: Path) -> None:
    settings = {
        "BENCH_SUBJECTS": "400",
        "BENCH_DUE": "40",
        "BENCH_BATCH": "10",
        "BENCH_DATA_DIR": str(tmp_path),
        "BENCH_DB_PREFIX": PREFIX,
    }
    stdout = _bench("bench.retention", settings)
    out = json.loads(stdout[stdout.index("{\n") :])
    plan, run = out["results"]["sqlite"]
    assert plan["checks"]["listed_each_run"] == 40 and plan["median"] > 0 and plan["floor"] > 0
    assert (run["checks"]["archived"], run["checks"]["erased"], run["checks"]["batches"]) == (20, 20, 4)
    assert run["peak_memory"] > 0  # the first of four batches traced
    assert not list(tmp_path.glob(f"{PREFIX}_retention_*"))  # the register it built is gone
