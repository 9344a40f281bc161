"""What the loader and the operations share: where databases live, the fixed clock, timing and memory helpers."""

from __future__ import annotations

import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, event, make_url, text

from personvern.bootstrap import Settings
from personvern.store.checkpoints import checkpoint_file
from personvern.store.erasure_journal import journal_file

BENCH_DIR = Path(__file__).resolve().parent
# Where the cached registers and the results go; the test suite's smoke run points both elsewhere.
DATA_DIR = Path(os.environ.get("BENCH_DATA_DIR") or BENCH_DIR / ".data")
RESULTS_FILE = Path(os.environ.get("BENCH_RESULTS") or BENCH_DIR / "results.json")

# The benchmark's clock: fixed, so audit entries and consent times are reproducible and always in the past.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 25)  # the generator's "today": every received_at lies before NOW
ACTOR = "bench"


@dataclass(frozen=True)
class Backend:
    """One database server (or SQLite) and how to make, reuse and drop databases on it."""

    name: str  # "sqlite" or "postgresql"
    server_url: str | None = None  # PostgreSQL: any database on the server, used to create the bench ones

    def url(self, database: str) -> str:
        if self.name == "sqlite":
            return f"sqlite:///{DATA_DIR / (database + '.db')}"
        assert self.server_url is not None
        return make_url(self.server_url).set(database=database).render_as_string(hide_password=False)

    def key_file(self, database: str) -> Path:
        suffix = ".db.masterkey" if self.name == "sqlite" else ".pg.masterkey"
        return DATA_DIR / (database + suffix)

    def settings(self, database: str, role: str = "ceo") -> Settings:
        return Settings(self.url(database), self.key_file(database), NOW, role, ACTOR)

    def exists(self, database: str) -> bool:
        if self.name == "sqlite":
            return (DATA_DIR / (database + ".db")).exists()
        with self._admin() as conn:
            found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}).first()
        return found is not None

    def drop(self, database: str) -> None:
        """Remove the database, its master key file and the audit checkpoints and erasure journal beside it."""
        if self.name == "sqlite":
            for suffix in (".db", ".db-wal", ".db-shm", ".db.keys", ".db.keys-wal", ".db.keys-shm"):  # + key store
                (DATA_DIR / (database + suffix)).unlink(missing_ok=True)
        else:
            with self._admin() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        self.key_file(database).unlink(missing_ok=True)
        checkpoint_file(self.key_file(database)).unlink(missing_ok=True)
        journal_file(self.key_file(database)).unlink(missing_ok=True)

    def create(self, database: str) -> None:
        """An empty database (dropping any old one); `personvern init` / `initialise` gives it its schema."""
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        self.drop(database)
        if self.name == "postgresql":
            with self._admin() as conn:
                conn.execute(text(f'CREATE DATABASE "{database}"'))

    def size(self, database: str) -> int:
        """Bytes on disk: the SQLite file with its WAL, or pg_database_size."""
        if self.name == "sqlite":
            files = [DATA_DIR / (database + suffix) for suffix in (".db", ".db-wal", ".db.keys", ".db.keys-wal")]
            return sum(f.stat().st_size for f in files if f.exists())
        with self._admin() as conn:
            return int(conn.execute(text("SELECT pg_database_size(:n)"), {"n": database}).scalar() or 0)

    def version(self) -> str:
        if self.name == "sqlite":
            return sqlite3.sqlite_version
        with self._admin() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())

    @contextmanager
    def _admin(self) -> Iterator[Any]:
        assert self.server_url is not None
        engine = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()


# The start of every database (or SQLite file) name the bench makes: two runs on one PostgreSQL server with
# different prefixes never drop each other's registers (the test suite's smoke run takes one of its own).
PREFIX = os.environ.get("BENCH_DB_PREFIX") or "pv"


def db_name(what: str) -> str:
    return f"{PREFIX}_{what}"


def register_name(subjects: int) -> str:
    return db_name(f"bench_{subjects}")


# ---------------------------------------------------------------- figures


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The first word of each SQL statement sent through SQLAlchemy on `engine` while the block runs (a
    `before_cursor_execute` listener). On PostgreSQL BEGIN is implicit, and bulk inserts of 20 rows or more go
    by COPY straight to the driver, unseen."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def statement_summary(seen: list[str]) -> dict[str, int]:
    """{"total": n, "SELECT": …, "INSERT": …}: the statements of one call by their first word."""
    out: dict[str, int] = {"total": len(seen)}
    for word in seen:
        out[word] = out.get(word, 0) + 1
    return out


def median(values: list[float]) -> float:
    return statistics.median(values)


def p99(values: list[float]) -> float:
    """The nearest-rank 99th percentile: with fewer than 100 runs it is the slowest run."""
    ordered = sorted(values)
    rank = max(1, -(-99 * len(ordered) // 100))  # ceil(0.99 n)
    return ordered[rank - 1]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def traced_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    """Peak bytes allocated by Python while `fn` runs (tracemalloc; slows the call, so never timed)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, out


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if value < 1:
        return f"{value * 1e3:.2f} ms"
    return f"{value:.2f} s"


def fmt_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    if value < 1 << 20:
        return f"{value / 1024:.0f} KiB"
    if value < 1 << 30:
        return f"{value / (1 << 20):.1f} MiB"
    return f"{value / (1 << 30):.2f} GiB"


def machine() -> dict[str, Any]:
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_bytes": mem_kib * 1024,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "commit": commit(),
    }


def commit() -> str | None:
    """The commit measured, with "+changes" when the working tree differs from it; None outside a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "bench"], cwd=root, capture_output=True)
    except OSError:
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load: above the core count, others were using the machine and figures are noisy."""
    return [round(x, 2) for x in os.getloadavg()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").replace(" ", "")
    return int(raw) if raw else default


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a server the benchmark starts (never any other address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(
    popen: subprocess.Popen[Any], url: str, name: str, said: Callable[[], str] = lambda: "", seconds: int = 60
) -> None:
    """Until `personvern serve` at `url` answers /readyz with 200; SystemExit naming `name` if the process ends
    first (with the end of what it `said`) or is not ready within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        if popen.poll() is not None:
            raise SystemExit(f"{name} ended at once: {said()[-2000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{name} was not ready within {seconds} s")
        time.sleep(0.2)
