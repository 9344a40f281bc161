"""The operations measured, each beside its floor in the same run, and the checks of what they did."""

from __future__ import annotations

import csv
import hashlib
import hmac
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select

from bench import supply
from bench.common import (
    ACTOR,
    DATA_DIR,
    NOW,
    Backend,
    db_name,
    median,
    p99,
    register_name,
    statement_summary,
    statements,
    timed,
    traced_peak,
)
from bench.load import oracle_audience, table_counts
from bench.supply import MEMORY_RUNS
from personvern.bootstrap import Runtime, initialise, open_runtime
from personvern.demo import csv_rows, generate
from personvern.domain.audit import canonical_details, entry_hash, head_mac
from personvern.domain.subjects import Subject
from personvern.domain.values import lookup_key
from personvern.policy import load_policy
from personvern.policy.schema import Collected
from personvern.services.register import new_id, show_subject
from personvern.store import tables as t
from personvern.store.engine import make_engine

_S = t.subjects.c
IMPORT_KIND = "one_time_customer"
IMPORT_SEED = 4711
PAGE = 50  # subjects on the first page of an audience


@dataclass
class Figure:
    """One operation on one backend: per-call seconds (or, for import, seconds for the whole file)."""

    operation: str
    target: str
    runs: int = 0
    median: float | None = None
    p99: float | None = None
    floor: float | None = None  # median seconds of the bare SQL / crypto, measured in the same run
    floor_p99: float | None = None
    ratio: float | None = None  # median / floor
    floor_with_audit: float | None = None  # reads plus the audit entry the service must write, in raw SQL
    ratio_with_audit: float | None = None
    peak_memory: int | None = None  # bytes
    statements: int | None = None  # SQL statements one call sends through SQLAlchemy (a call apart from the timed)
    versus: str | None = None  # a comparison printed beside the verdict (the HTTP flows: Ethyca Fides)
    memory_kind: str = "tracemalloc peak (Python allocations)"
    rate: dict[str, float] = field(default_factory=dict)  # throughputs: median, p99-run and floor, per second
    meets_target: bool | None = None
    within_5x: bool | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    failed: str | None = None  # a check failed, or the code under test broke: the run exits non-zero

    def settle(self, op: list[float], floor: list[float], audit: list[float] | None = None) -> None:
        self.runs = len(op)
        self.median, self.p99 = median(op), p99(op)
        self.floor, self.floor_p99 = median(floor), p99(floor)
        self.ratio = self.median / self.floor if self.floor else None
        if audit:
            self.floor_with_audit = median(audit)
            self.ratio_with_audit = self.median / self.floor_with_audit
        self.within_5x = self.ratio is not None and self.ratio <= 5


Log = Callable[[str], None]


class Bench:
    """One backend's cached register, opened once, with the settings every operation shares."""

    def __init__(self, backend: Backend, subjects: int, runs: int, warmup: int, log: Log) -> None:
        self.backend = backend
        self.subjects = subjects
        self.runs = runs
        self.warmup = warmup
        self.log = log
        self.database = register_name(subjects)
        self.runtime: Runtime = open_runtime(backend.settings(self.database))
        self.pg = self.runtime.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.runtime.close()

    def counts(self) -> dict[str, int]:
        with self.runtime.engine.connect() as conn:
            return table_counts(conn)

    def sample_ids(self, count: int, where: Any = None) -> list[str]:
        """Up to `count` ids drawn uniformly among the subjects `where` selects (default: any not erased)."""
        q = select(_S.id).where(supply.not_erased() if where is None else where)
        with self.runtime.engine.connect() as conn:
            return list(conn.scalars(q.order_by(func.random()).limit(count)))

    def random_subjects(self, count: int, where: Any = None) -> list[Subject]:
        """Up to `count` subjects spread over the register (all of them, in random order, when it holds fewer),
        read (and decrypted) through the repository; `where` narrows them (bench.supply's pools)."""
        # A uniform sample: ids are time-ordered and come in bursts (one per batch), so picking points in time
        # would favour the first subject of each batch. One scan and sort of the table is a second at 1 000 000.
        # Not one the rights benchmark erased but for what bookkeeping law keeps (it has no email or phone left).
        picked = self.sample_ids(count, where)
        if not picked:
            raise SystemExit("the register holds no subject the benchmark can use")
        with self.runtime.uow() as uow:
            found = {s.id: s for s in uow.subjects.get_many(picked)}
        return [found[sid] for sid in picked]


# ---------------------------------------------------------------- the floor of a read: raw driver SQL


class RawReads:
    """The bare statements a look-up or a show needs, on one DBAPI connection, without SQLAlchemy."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.raw = runtime.engine.raw_connection()
        self.pg = runtime.engine.dialect.name == "postgresql"
        self.p = "%s" if self.pg else "?"
        self.unique = "is_unique" if self.pg else "is_unique = 1"  # the partial index's own condition

    def close(self) -> None:
        self.raw.close()

    def lookup(self, field_: str, digest: bytes, audit: bool) -> tuple[str, int]:
        """SELECT on the lookups index, SELECT of the values; with `audit`, the audit entry too, in one transaction."""
        p = self.p
        cur = self.raw.cursor()
        if audit and not self.pg:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            f"SELECT subject_id FROM lookups WHERE field = {p} AND digest = {p} AND {self.unique}", (field_, digest)
        )
        sid = cur.fetchone()[0]
        cur.execute(f"SELECT field, ciphertext FROM subject_values WHERE subject_id = {p}", (sid,))
        values = len(cur.fetchall())
        self._finish(cur, sid, audit)
        return sid, values

    def show(self, sid: str, audit: bool) -> tuple[str, int]:
        p = self.p
        cur = self.raw.cursor()
        if audit and not self.pg:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(f"SELECT * FROM subjects WHERE id = {p}", (sid,))
        found = cur.fetchone()[0]
        cur.execute(f"SELECT field, ciphertext FROM subject_values WHERE subject_id = {p}", (sid,))
        values = len(cur.fetchall())
        self._finish(cur, sid, audit)
        return found, values

    def _finish(self, cur: Any, sid: str, audit: bool) -> None:
        if audit:
            self._audit(cur, sid)
        if self.pg or audit:
            self.raw.commit()
        cur.close()

    def _audit(self, cur: Any, sid: str, action: str = "subject.read", details: dict[str, Any] | None = None) -> None:
        """Append one entry (by default 'subject.read') to the chain with its correct hash, as the service does."""
        p = self.p
        cur.execute(
            "SELECT seq, hash, keyed_from, chain_id, simulation FROM audit_head WHERE id = 1"
            + (" FOR UPDATE" if self.pg else "")
        )
        seq, prev, keyed_from, chain_id, simulation = cur.fetchone()
        seq = int(seq) + 1
        purpose = "service" if action == "subject.read" else None
        text = canonical_details(details or {"fields": ["bench-floor"]})
        key = self.runtime.uow.vault.audit_key
        digest = entry_hash(key, seq, NOW, ACTOR, "ceo", action, sid, purpose, text, prev)
        mac = head_mac(key, seq, digest, int(keyed_from), chain_id, bool(simulation))
        at = NOW if self.pg else NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
        cur.execute(
            "INSERT INTO audit_log (seq, at, actor, role, action, subject_id, purpose, details, prev_hash, hash) "
            f"VALUES ({', '.join([p] * 10)})",
            (seq, at, ACTOR, "ceo", action, sid, purpose, text, prev, digest),
        )
        cur.execute(f"UPDATE audit_head SET seq = {p}, hash = {p}, mac = {p} WHERE id = 1", (seq, digest, mac))


def _paired(bench: Bench, calls: list[Callable[[int], Any]]) -> list[list[float]]:
    """Run each call in turn, warm-up first; every call of a round gets its own subject index."""
    times: list[list[float]] = [[] for _ in calls]
    rounds = bench.warmup + bench.runs
    for r in range(rounds):
        for k, call in enumerate(calls):
            elapsed, _ = timed(lambda call=call, i=r * len(calls) + k: call(i))
            if r >= bench.warmup:
                times[k].append(elapsed)
    return times


def _peak(call: Callable[[int], Any], first: int) -> int:
    return max(traced_peak(lambda i=i: call(i))[0] for i in range(first, first + MEMORY_RUNS))


# ---------------------------------------------------------------- look-up and show


def lookups_and_show(bench: Bench) -> list[Figure]:
    rt = bench.runtime
    policy = rt.policy.policy
    per_op = 3 * (bench.warmup + bench.runs) + MEMORY_RUNS
    subjects = bench.random_subjects(per_op)
    vault = rt.uow.vault
    ctx = rt.context()
    raw = RawReads(rt)
    before = bench.counts()
    service_calls = 0
    floor_audits = 0
    figures = []
    try:
        for name, field_ in (("look-up by email", "email"), ("look-up by phone", "phone"), ("show one subject", None)):
            fig = Figure(name, "≤ 2 ms at 1 000 000 subjects; within 5× of the floor")
            mismatches: list[str] = []
            digests: dict[str, bytes] = {}
            if field_ is not None:
                ftype = policy.fields[field_].type
                digests = {s.id: vault.blind(field_, lookup_key(ftype, s.values[field_])) for s in subjects}

            def service(i: int, field_: str | None = field_, mismatches: list[str] = mismatches) -> None:
                nonlocal service_calls
                s = subjects[i % len(subjects)]
                if field_ == "email":
                    view = show_subject(ctx, email=s.values["email"])
                elif field_ == "phone":
                    view = show_subject(ctx, phone=s.values["phone"])
                else:
                    view = show_subject(ctx, subject_id=s.id)
                service_calls += 1
                if view.subject.id != s.id or dict(view.subject.values) != dict(s.values):
                    mismatches.append(s.id)

            def floor(
                i: int,
                audit: bool,
                field_: str | None = field_,
                mismatches: list[str] = mismatches,
                digests: dict[str, bytes] = digests,
            ) -> None:
                nonlocal floor_audits
                s = subjects[i % len(subjects)]
                if field_ is None:
                    sid, n = raw.show(s.id, audit)
                else:
                    # The digest is precomputed: the floor is the SQL alone.
                    sid, n = raw.lookup(field_, digests[s.id], audit)
                floor_audits += audit
                if sid != s.id or n != len(s.values):
                    mismatches.append(s.id)

            op, fl, fa = _paired(bench, [service, lambda i, f=floor: f(i, False), lambda i, f=floor: f(i, True)])
            fig.settle(op, fl, fa)
            fig.peak_memory = _peak(service, 3 * (bench.warmup + bench.runs))
            with statements(rt.engine) as seen:
                service(3 * (bench.warmup + bench.runs))
            fig.statements, fig.checks["statements_per_call"] = len(seen), statement_summary(seen)
            fig.meets_target = fig.median is not None and fig.median <= 0.002
            fig.checks["mismatches"] = len(mismatches)
            if mismatches:
                raise SystemExit(f"{name}: {len(mismatches)} calls returned another subject or other values")
            fig.notes.append(
                "floor: the SELECT on the lookups index (or subjects by id) and the SELECT of the values, raw driver"
                " SQL; floor+audit adds the audit entry the service must write, in one transaction"
            )
            figures.append(fig)
            bench.log(f"  {name}: median {fig.median * 1e3:.2f} ms, floor {fig.floor * 1e3:.3f} ms")
    finally:
        raw.close()
    after = bench.counts()
    grown = after["audit_log"] - before["audit_log"]
    unchanged = {k: (before[k], after[k]) for k in before if k != "audit_log" and before[k] != after[k]}
    if grown != service_calls + floor_audits or unchanged:
        raise SystemExit(
            f"look-ups: the audit log grew by {grown}, expected {service_calls + floor_audits}; changed: {unchanged}"
        )
    for fig in figures:
        fig.checks.update({"audit_entries_added": grown, "other_tables_unchanged": True})
    return figures


# ---------------------------------------------------------------- marketing audience


def _audience_code() -> tuple[Any, Any, str | None]:
    """(audience_query, the service function, why something is missing)."""
    try:
        repo = importlib.import_module("personvern.store.consent_repo")
    except ImportError as exc:
        return None, None, f"personvern.store.consent_repo cannot be imported ({exc})"
    query = getattr(repo, "audience_query", None)
    if query is None:
        return None, None, "personvern.store.consent_repo has no audience_query"
    try:
        service = getattr(importlib.import_module("personvern.services.consent"), "marketing_audience", None)
    except ModuleNotFoundError:
        service = None
    except Exception as exc:  # present but broken (work in progress): measure the repository instead
        return query, exc, None
    return query, service, None


def _service_audience(service: Any, ctx: Any, channel: str) -> tuple[Callable[[], int], Callable[[], list[str]]] | None:
    """Calls of marketing_audience for a count and for a first page, if its signature is one we can read."""
    params = inspect.signature(service).parameters
    base: dict[str, Any] = {}
    if "channel" in params:
        base["channel"] = channel
    if "purpose" in params:
        base["purpose"] = "marketing"

    def count_of(result: Any) -> int:
        for name in ("count", "total"):
            value = getattr(result, name, None)
            if isinstance(value, int):
                return value
        if isinstance(result, int):
            return result
        if isinstance(result, tuple) and result and isinstance(result[0], int):
            return result[0]
        raise TypeError(f"cannot read a count from {type(result).__name__}")

    def page_of(result: Any) -> list[str]:
        for name in ("subjects", "items", "page", "rows", "members"):
            value = getattr(result, name, None)
            if value is not None:
                result = value
                break
        else:
            if isinstance(result, tuple) and len(result) == 2:
                result = result[1]
        return [item if isinstance(item, str) else getattr(item, "subject_id", None) or item.id for item in result]

    count_kw = next((n for n in ("count_only", "count") if n in params), None)
    if count_kw is None:
        return None

    def count() -> int:
        return count_of(service(ctx, **base, **{count_kw: True}))

    def page() -> list[str]:
        extra = {"limit": PAGE} if "limit" in params else {}
        return page_of(service(ctx, **base, **{count_kw: False}, **extra))

    return count, page


def audience(bench: Bench, meta: dict[str, Any]) -> list[Figure]:
    query, service, missing = _audience_code()
    if missing:
        return [Figure(f"marketing audience ({c})", "≤ 1 s", skipped=missing) for c in ("sms", "email")]
    rt = bench.runtime
    runs = max(3, min(bench.runs, 15))
    figures = []
    for channel in ("sms", "email"):
        fig = Figure(f"marketing audience count ({channel})", "≤ 1 s at 1 000 000 subjects; within 5× of the floor")
        stmt = select(func.count()).select_from(query("marketing", channel).subquery())

        def floor(stmt: Any = stmt) -> int:
            with rt.engine.connect() as conn:
                return int(conn.scalar(stmt) or 0)

        broken = service if isinstance(service, Exception) else None
        calls = _service_audience(service, rt.context(), channel) if callable(service) else None
        if calls is not None:
            count, page = calls
            fig.notes.append("service: services.consent.marketing_audience")
        else:
            count, page = _repository_audience(rt, channel)
            if broken is not None:
                why = f"cannot be imported ({type(broken).__name__}: {broken})"
            else:
                why = "absent" if service is None else "of a signature the bench cannot call"
            fig.notes.append(f"services.consent.marketing_audience is {why}: measured SqlConsents.audience_count")
        fig.notes.append("floor: SELECT count(*) over the same audience_query, executed directly")
        op_t: list[float] = []
        floor_t: list[float] = []
        counts: set[int] = set()
        floors: set[int] = set()
        for r in range(1 + runs):
            e1, c = timed(count)
            e2, f = timed(floor)
            counts.add(c)
            floors.add(f)
            if r:
                op_t.append(e1)
                floor_t.append(e2)
        fig.settle(op_t, floor_t)
        fig.peak_memory = traced_peak(count)[0]
        with rt.engine.connect() as conn:
            oracle = oracle_audience(conn, channel)
        expected = meta.get("expected_audience", {}).get(channel)
        fig.checks.update({"count": sorted(counts), "floor_count": sorted(floors), "oracle": oracle})
        if expected is not None:
            fig.checks["generated"] = expected
        if counts != {oracle} or floors != {oracle} or (expected is not None and expected != oracle):
            raise SystemExit(
                f"audience {channel}: service {counts}, floor {floors}, oracle {oracle}, generated {expected}"
            )
        fig.meets_target = fig.median is not None and fig.median <= 1.0
        figures.append(fig)
        bench.log(f"  audience {channel}: {oracle} subjects, median {fig.median:.3f} s, floor {fig.floor:.3f} s")

        pfig = Figure(f"marketing audience first page ({channel})", "(no target yet)")
        q = query("marketing", channel)
        page_stmt = q.order_by(q.selected_columns[0]).limit(PAGE)

        def page_floor(stmt: Any = page_stmt) -> list[str]:
            with rt.engine.connect() as conn:
                return list(conn.scalars(stmt))

        first_t, pfloor_t = [], []
        sizes = set()
        for r in range(1 + runs):
            e1, ids = timed(page)
            e2, floor_ids = timed(page_floor)
            if ids != floor_ids:
                raise SystemExit(f"audience {channel}: the first page is not the first {PAGE} of the audience query")
            sizes.add(len(ids))
            if r:
                first_t.append(e1)
                pfloor_t.append(e2)
        pfig.settle(first_t, pfloor_t)
        pfig.peak_memory = traced_peak(page)[0]
        pfig.checks["page_sizes"] = sorted(sizes)
        pfig.notes = [
            fig.notes[0],
            f"floor: audience_query ORDER BY subject id LIMIT {PAGE}, executed directly (the service also decrypts"
            " the page's addresses and audits each person on it)",
        ]
        pfig.checks["same_ids_as_floor"] = True
        if sizes != {min(PAGE, oracle)}:
            raise SystemExit(
                f"audience {channel}: first pages of {sorted(sizes)} subjects, expected {min(PAGE, oracle)}"
            )
        figures.append(pfig)
    return figures


def _repository_audience(rt: Runtime, channel: str) -> tuple[Callable[[], int], Callable[[], list[str]]]:
    consent_repo = importlib.import_module("personvern.store.consent_repo")

    def count() -> int:
        with rt.uow() as uow:
            conn = uow._conn
            return int(consent_repo.SqlConsents(conn, uow.keys).audience_count("marketing", channel))

    def page() -> list[str]:
        with rt.uow() as uow:
            conn = uow._conn
            return list(consent_repo.SqlConsents(conn, uow.keys).audience_page("marketing", channel, PAGE, 0))

    return count, page


# ---------------------------------------------------------------- import through the CLI


def import_file(rows: int) -> tuple[Path, list[str]]:
    """A CSV of `rows` synthetic one-time customers (made once, kept under bench/.data/), and its header."""
    path = DATA_DIR / f"import_{IMPORT_KIND}_{rows}.csv"
    header, made = csv_rows(generate(min(rows * 3, 10_000_000), seed=IMPORT_SEED), IMPORT_KIND)
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(islice(made, rows))
        tmp.rename(path)
    return path, header


def _cli_env(key_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
    env.update(
        {"PERSONVERN_MASTER_KEY_FILE": str(key_file), "PERSONVERN_ACTOR": ACTOR, "PERSONVERN_NOW": NOW.isoformat()}
    )
    return env


def _personvern() -> str:
    return str(Path(sys.executable).with_name("personvern"))


# Started from a small Python process rather than from the benchmark: Linux carries the peak RSS of the
# process image an exec replaces into ru_maxrss, so a child spawned by the (large) benchmark would report it.
_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)  # the child's own usage, with the workers it reaped
elapsed = time.perf_counter() - start
with open(sys.argv[1], "w") as f:
    f.write(f"{elapsed} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_cli(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run `personvern ARGS`; (wall seconds, peak RSS bytes of it and its workers, stdout)."""
    out_path, err_path, usage_path = DATA_DIR / "cli.out", DATA_DIR / "cli.err", DATA_DIR / "cli.usage"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        cmd = [sys.executable, "-c", _LAUNCHER, str(usage_path), _personvern(), *args]
        code = subprocess.run(cmd, stdout=out, stderr=err, env=env, check=False).returncode
    if code != 0:
        raise SystemExit(f"personvern {' '.join(args[:2])} failed ({code}): {err_path.read_text()[-2000:]}")
    elapsed, maxrss_kib = usage_path.read_text().split()
    return float(elapsed), int(maxrss_kib) * 1024, out_path.read_text()


IMPORT_TABLES = (
    ("keystore.data_keys", ("owner_id", "wrapped", "master_key_id", "created_at")),
    ("organisations", ("id", "number_digest", "created_at")),
    ("subjects", ("id", "kind", "source", "received_at", "created_at", "updated_at", "organisation_id")),
    ("subject_values", ("subject_id", "field", "ciphertext")),
    ("lookups", ("subject_id", "field", "digest", "is_unique")),
    ("audit_log", ("seq", "at", "actor", "role", "action", "subject_id", "purpose", "details", "prev_hash", "hash")),
)


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the import wrote, as the driver returns it (the audit entry of `init` left out)."""
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        out = {}
        for table, cols in IMPORT_TABLES:
            where = " WHERE seq > 1" if table == "audit_log" else ""
            cur.execute(f"SELECT {', '.join(cols)} FROM {table}{where}")
            out[table] = [tuple(r) for r in cur.fetchall()]
        cur.close()
        raw.rollback()
    finally:
        raw.close()
        engine.dispose()
    return out


def _bare_write(url: str, rows: dict[str, list[tuple[Any, ...]]]) -> float:
    """The floor's SQL: the same rows into the same tables in one transaction, by the driver alone.

    SQLite: executemany in batches of 5 000 (the import's batch). PostgreSQL: COPY, which the import uses too.
    """
    engine = make_engine(url)  # the same connection settings (SQLite pragmas) as personvern's
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        pg = engine.dialect.name == "postgresql"
        start = time.perf_counter()
        if not pg:
            cur.execute("BEGIN IMMEDIATE")
        for table, cols in IMPORT_TABLES:
            data = rows[table]
            if pg:
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
            else:
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                for i in range(0, len(data), 5000):
                    cur.executemany(sql, data[i : i + 5000])
        last = rows["audit_log"][-1]
        p = "%s" if pg else "?"
        cur.execute(f"UPDATE audit_head SET seq = {p}, hash = {p} WHERE id = 1", (last[0], last[-1]))
        raw.commit()
        elapsed = time.perf_counter() - start
        cur.close()
    finally:
        raw.close()
        engine.dispose()
    return elapsed


def _bare_crypto(records: list[dict[str, str]], unique: list[str]) -> float:
    """The floor's crypto: a data key per subject wrapped, each value sealed, each look-up value blinded, each
    audit entry hashed: AES-GCM and HMAC-SHA256 calls alone, on the same number of values."""
    kek = AESGCM(os.urandom(32))
    index_key = os.urandom(32)
    start = time.perf_counter()
    for n, values in enumerate(records):
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        kek.encrypt(nonce, key, b"owner")
        cipher = AESGCM(key)
        for name, value in values.items():
            nonce = os.urandom(12)
            cipher.encrypt(nonce, value.encode(), name.encode())
        for name in unique:
            if name in values:
                hmac.digest(index_key, f"{name}\x00{values[name]}".encode(), "sha256")
        hashlib.sha256(f"{n}\x1f{values.get('email', '')}\x1f{'0' * 200}".encode()).hexdigest()
    return time.perf_counter() - start


def import_cli(bench_backend: Backend, rows: int, runs: int, log: Log) -> Figure:
    fig = Figure(f"import {rows} rows via the CLI", "≥ 10 000 rows/s; within 5× of the floor")
    fig.memory_kind = "peak RSS of the CLI process and its worker"
    path, header = import_file(rows)
    policy = load_policy().policy
    when_needed = [h for h in header if policy.fields[h].collected is Collected.WHEN_NEEDED]
    reasons = [a for h in when_needed for a in ("--reason", f"{h}=trengs for leveransen")]
    with path.open(newline="", encoding="utf-8") as f:
        records = [{k: v for k, v in r.items() if v} for r in csv.DictReader(f)]
    lookups = [name for name, spec in policy.fields.items() if spec.lookup]
    op_t, floor_t, sql_t, crypto_t, rss = [], [], [], [], []
    target_db, floor_db = db_name("bench_import"), db_name("bench_import_floor")
    for r in range(runs):
        bench_backend.create(target_db)
        url, key = bench_backend.url(target_db), bench_backend.key_file(target_db)
        env = _cli_env(key)
        _run_cli(["init", "--db", url, "--json"], env)
        elapsed, peak, out = _run_cli(["subject", "import", str(path), "--kind", IMPORT_KIND, *reasons, "--db", url,
                                       "--json"], env)  # fmt: skip
        imported = json.loads(out)["imported"]
        if imported != rows:
            raise SystemExit(f"import: the CLI says it imported {imported} rows, not {rows}")
        dumped = _dump(url)
        written = {name: len(v) for name, v in dumped.items()}
        if written["subjects"] != rows or written["audit_log"] != rows or written["keystore.data_keys"] != rows:
            raise SystemExit(f"import: the database holds {written} after importing {rows} rows")

        bench_backend.create(floor_db)
        runtime, _ = initialise(bench_backend.settings(floor_db))
        runtime.close()
        sql = _bare_write(bench_backend.url(floor_db), dumped)
        crypto = _bare_crypto(records, lookups)
        engine = make_engine(bench_backend.url(floor_db))
        with engine.connect() as conn:
            again = table_counts(conn)
        engine.dispose()
        for table, n in written.items():
            expect = n + (1 if table == "audit_log" else 0)
            held = again[table.split(".")[-1]]  # keystore.data_keys is counted as data_keys
            if held != expect:
                raise SystemExit(f"import floor: {table} holds {held} rows, expected {expect}")
        op_t.append(elapsed)
        sql_t.append(sql)
        crypto_t.append(crypto)
        floor_t.append(sql + crypto)
        rss.append(peak)
        log(f"  import run {r + 1}: {rows / elapsed:,.0f} rows/s (floor {rows / (sql + crypto):,.0f} rows/s)")
        fig.checks = {"imported": imported, "rows_written": written}
        del dumped  # before the next run: the rows of one import are hundreds of MB
        bench_backend.drop(target_db)
        bench_backend.drop(floor_db)
    fig.settle(op_t, floor_t)
    fig.peak_memory = max(rss)
    fig.rate = {
        "rows_per_second_median": round(rows / fig.median),
        "rows_per_second_slowest": round(rows / max(op_t)),
        "floor_rows_per_second": round(rows / fig.floor),
        "floor_sql_seconds": round(median(sql_t), 3),
        "floor_crypto_seconds": round(median(crypto_t), 3),
    }
    fig.meets_target = rows / fig.median >= 10_000
    fig.notes = [
        "op: wall time of `personvern subject import` into a fresh database (process start included)",
        "floor: the same rows into the same tables by the driver in one transaction (SQLite executemany,"
        " PostgreSQL COPY), plus the bare AES-GCM / HMAC / SHA-256 calls for as many keys, values and entries",
        f"runs: {runs}; with fewer than 100 runs p99 is the slowest run",
    ]
    return fig


# ---------------------------------------------------------------- giving and withdrawing consent


def _services_consent() -> tuple[Any, Any, str | None]:
    try:
        module = importlib.import_module("personvern.services.consent")
    except Exception as exc:  # absent, or present but broken (work in progress)
        return None, None, f"personvern.services.consent cannot be imported ({type(exc).__name__}: {exc})"
    give = getattr(module, "give_consent", None)
    withdraw = getattr(module, "withdraw_consent", None)
    if give is None or withdraw is None:
        return None, None, "personvern.services.consent has no give_consent / withdraw_consent"
    return give, withdraw, None


def _next_id(previous: str) -> str:
    """An id ordering after `previous`: the floor's withdrawal must be the latest event at the same instant."""
    return f"{int(previous, 16) + 1:0{len(previous)}x}"


class RawConsents(RawReads):
    """The bare statements of recording a consent event: the latest event, (for a consent) the active
    objections it may end, the insert, in one transaction; with `audit`, the audit entry too."""

    def record(self, sid: str, action: str, event_id: str, notice: str, audit: bool) -> None:
        p = self.p
        cur = self.raw.cursor()
        if not self.pg:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            f"SELECT id, action, at FROM consent_events WHERE subject_id = {p} AND purpose = {p} AND channel = {p}"
            " ORDER BY at DESC, id DESC LIMIT 1",
            (sid, "marketing", "email"),
        )
        cur.fetchall()
        if action == "given":
            cur.execute(
                f"SELECT id FROM subject_blocks WHERE subject_id = {p} AND kind = 'objection' AND lifted_at IS NULL",
                (sid,),
            )
            cur.fetchall()
        at = NOW if self.pg else NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
        cur.execute(
            "INSERT INTO consent_events (id, subject_id, purpose, channel, action, at, method, recorded_by, role,"
            f" notice_sha256) VALUES ({', '.join([p] * 10)})",
            (event_id, sid, "marketing", "email", action, at, "web", ACTOR, "ceo", notice),
        )
        if audit:
            self._audit(cur, sid)
        self.raw.commit()
        cur.close()


def consent_changes(bench: Bench) -> list[Figure]:
    """give_consent then withdraw_consent (email marketing) on subjects with no ledger and no blocks, so each
    pair leaves the audience as it was; beside the same statements in raw SQL."""
    give, withdraw, missing = _services_consent()
    if missing:
        return [Figure(name, "", skipped=missing) for name in ("give consent", "withdraw consent")]
    rt = bench.runtime
    # Each subject used ends with a ledger: a run takes a share of those still without one (bench.supply).
    wanted = supply.rounds(bench.warmup, bench.runs)
    free = bench.sample_ids(3 * wanted * supply.SHARE, supply.without_ledger())
    warmup, runs = supply.split(supply.fit(wanted, len(free), 3), bench.warmup, bench.runs)
    if runs < 1:
        raise SystemExit(f"consent: only {len(free)} subjects without a ledger found, too few for one timed run")
    if runs < bench.runs:
        bench.log(f"  {runs} timed runs (of {bench.runs}): {len(free)} subjects without a ledger left")
    per_kind = supply.rounds(warmup, runs)
    svc_ids, floor_ids, audit_ids = free[:per_kind], free[per_kind : 2 * per_kind], free[2 * per_kind : 3 * per_kind]
    ctx = rt.context()
    notice = rt.policy.sha256
    raw = RawConsents(rt)
    before = bench.counts()
    times: dict[str, list[float]] = {k: [] for k in ("give", "give_floor", "give_audit", "wd", "wd_floor", "wd_audit")}
    try:
        for r in range(warmup + runs):
            keep = r >= warmup
            g1, g2 = new_id(), new_id()
            w1, w2 = _next_id(g1), _next_id(g2)
            fs, as_, ss = floor_ids[r], audit_ids[r], svc_ids[r]
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("give", lambda s=ss: give(ctx, s, "marketing", "email", "web")),
                ("give_floor", lambda s=fs, i=g1: raw.record(s, "given", i, notice, False)),
                ("give_audit", lambda s=as_, i=g2: raw.record(s, "given", i, notice, True)),
                ("wd", lambda s=ss: withdraw(ctx, s, "marketing", "email", "web")),
                ("wd_floor", lambda s=fs, i=w1: raw.record(s, "withdrawn", i, notice, False)),
                ("wd_audit", lambda s=as_, i=w2: raw.record(s, "withdrawn", i, notice, True)),
            ]
            for key, step in steps:
                elapsed, _ = timed(step)
                if keep:
                    times[key].append(elapsed)
        first = warmup + runs
        peaks = {"give": 0, "wd": 0}
        for sid in svc_ids[first + 1 :]:
            peaks["give"] = max(peaks["give"], traced_peak(lambda s=sid: give(ctx, s, "marketing", "email", "web"))[0])
            peaks["wd"] = max(peaks["wd"], traced_peak(lambda s=sid: withdraw(ctx, s, "marketing", "email", "web"))[0])
        counted: dict[str, list[str]] = {}
        with statements(rt.engine) as counted["give"]:
            give(ctx, svc_ids[first], "marketing", "email", "web")
        with statements(rt.engine) as counted["wd"]:
            withdraw(ctx, svc_ids[first], "marketing", "email", "web")
    finally:
        raw.close()
    after = bench.counts()
    pairs_service = per_kind
    pairs_floor = 2 * (warmup + runs)
    grown = {k: after[k] - before[k] for k in before}
    # An email consent shares the person with HubSpot (services.processors): an outbox row with a key of its
    # own and an audit entry; the withdrawal calls the undelivered share off, audited too, and deletes its key
    # (nothing is left to send). The floor has neither.
    o, a = t.outbox.c, t.audit_log.c
    with rt.engine.connect() as conn:
        shares = dict(
            conn.execute(
                select(o.state, func.count())
                .where(o.subject_id.in_(svc_ids), o.kind == "hubspot.upsert")
                .group_by(o.state)
            ).all()
        )
        processor_audits = int(
            conn.scalar(select(func.count()).where(a.subject_id.in_(svc_ids), a.action.like("processor.%"))) or 0
        )
    if set(shares) - {"dead"}:
        raise SystemExit(f"consent: HubSpot shares of withdrawn subjects are {shares}, expected every one called off")
    shared = sum(shares.values())
    want = {
        "consent_events": 2 * (pairs_service + pairs_floor),
        "audit_log": 2 * (pairs_service + warmup + runs) + processor_audits,
        "outbox": shared,
    }
    others = {k: v for k, v in grown.items() if k not in want and v}
    if any(grown[k] != v for k, v in want.items()) or others:
        raise SystemExit(f"consent: the tables grew by {grown}, expected {want} and nothing else")
    used = svc_ids[:first] + svc_ids[first:] + floor_ids[:first] + audit_ids[:first]
    e = t.consent_events.c
    with rt.engine.connect() as conn:
        latest = {}
        for sid in used:
            latest[sid] = conn.scalar(
                select(e.action)
                .where(e.subject_id == sid, e.purpose == "marketing", e.channel == "email")
                .order_by(e.at.desc(), e.id.desc())
                .limit(1)
            )
    not_withdrawn = [sid for sid, action in latest.items() if action != "withdrawn"]
    if not_withdrawn:
        raise SystemExit(f"consent: {len(not_withdrawn)} subjects do not end withdrawn, e.g. {not_withdrawn[:3]}")
    figures = []
    for key, name in (("give", "give consent"), ("wd", "withdraw consent")):
        fig = Figure(name, "(no target yet); within 5× of the floor")
        fig.settle(times[key], times[f"{key}_floor"], times[f"{key}_audit"])
        fig.peak_memory = peaks[key]
        fig.statements = len(counted[key])
        fig.checks = {
            "tables_grown": grown,
            "every_subject_ends_withdrawn": True,
            "hubspot_shares_called_off": shared,
            "statements_per_call": statement_summary(counted[key]),
        }
        fig.notes = [
            "service: services.consent.give_consent / withdraw_consent (marketing by email), on subjects with no"
            " ledger and no blocks; each subject is given, then withdrawn, so the audience does not change",
            "floor: SELECT the latest event (and, for a consent, the active objections), INSERT the event, COMMIT;"
            " floor+audit adds the audit entry; neither has the HubSpot share (an outbox row with its key, audited)"
            " an email consent queues and its withdrawal calls off",
        ]
        figures.append(fig)
        bench.log(f"  {name}: median {fig.median * 1e3:.2f} ms, floor {fig.floor * 1e3:.3f} ms")
    return figures
