"""Waking the outbox worker the moment a row is queued, instead of at its next poll (`worker --interval`).

A one-time code must leave within a second or two of the visitor asking for it, but the worker polls every few
seconds. `wake(settings)` is called after the transaction that queued a row commits; the worker waits in
`Waiter.wait(interval)` instead of sleeping, and that returns as soon as a wake arrives (or at the interval).

How, by database, so that it works for any number of `serve --workers` processes and one worker process:

- PostgreSQL: `NOTIFY personvern_outbox` / `LISTEN personvern_outbox`. The database is already shared by every
  process, on any machine: a worker run elsewhere (`serve --no-worker`) is woken too, with no new port or file.
  Each waking process keeps one connection for it (opened on its first wake).
- SQLite: a Unix datagram socket beside the database file (`FILE.wake`, mode 0600 like the database, so only
  the register's owner can wake it). Every process that writes the file is on this machine anyway; a datagram
  costs microseconds, needs no listener to be up (a wake with no worker is simply lost: the next poll finds the
  row), and queues while the worker is busy, so a wake during a pass starts another pass at once.

Not chosen: a signal to a pid handed down by `serve` (a stale pid could hit another process, and a worker not
started by `serve` is never woken), or a FIFO (opening one blocks or fails when nobody reads it).

A wake carries nothing (no row, no person): it only says "look now". Missing one costs at most an interval,
so `wake` never raises and never waits long, and every failure here falls back to polling.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy.engine import make_url

CHANNEL = "personvern_outbox"
CONNECT_TIMEOUT = 2  # seconds: a wake must not hold up the request that queued a code for long
SUFFIX = ".wake"
UNIX_PATH_MAX = 107  # sockaddr_un's sun_path less the terminating NUL (Linux; macOS allows 103)


class HasDatabaseUrl(Protocol):
    @property
    def database_url(self) -> str: ...


def socket_path(database_url: str) -> Path | None:
    """The wake socket beside an SQLite file; None for PostgreSQL, an in-memory database or a path too long."""
    try:
        parsed = make_url(database_url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if not hasattr(socket, "AF_UNIX"):
        return None
    path = Path(parsed.database).resolve()
    path = path.with_name(path.name + SUFFIX)
    return path if len(os.fsencode(path)) <= UNIX_PATH_MAX else None


def _postgres_dsn(database_url: str) -> str | None:
    try:
        parsed = make_url(database_url)
    except Exception:
        return None
    if parsed.get_backend_name() != "postgresql":
        return None
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


# ---------------------------------------------------------------- waking (any process that queues rows)

_lock = threading.Lock()
_notifiers: dict[str, tuple[int, Any]] = {}  # dsn -> (pid, psycopg connection): one per process


def wake(settings: HasDatabaseUrl) -> None:
    """Tell the worker of this database to look at the outbox now. Cheap, never raises; call it after commit."""
    url = settings.database_url
    try:
        path = socket_path(url)
        if path is not None:
            _send_datagram(path)
            return
        dsn = _postgres_dsn(url)
        if dsn is not None:
            _notify(dsn)
    except Exception:  # a lost wake only delays a row to the next poll: never fail the request for it
        return


def _send_datagram(path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        # No worker listening (ENOENT, ECONNREFUSED) or its queue full (EAGAIN: it is awake anyway): nothing to do.
        with contextlib.suppress(OSError):
            sender.sendto(b"!", os.fsencode(path))


def _notify(dsn: str) -> None:
    import psycopg

    with _lock:
        held = _notifiers.get(dsn)
        conn = held[1] if held is not None and held[0] == os.getpid() else None  # never a parent's, after fork
        for attempt in range(2):
            if conn is None or conn.closed:
                conn = psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
                _notifiers[dsn] = (os.getpid(), conn)
            try:
                conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
                return
            except psycopg.OperationalError:
                # The server restarted or dropped an idle connection: one new connection, then give up.
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
                _notifiers.pop(dsn, None)
                if attempt:
                    raise


# ---------------------------------------------------------------- waiting (the worker)


class Waiter:
    """Waits up to an interval, returning early when woken. This one only sleeps (nothing can wake it)."""

    wakeable = False

    def wait(self, seconds: float) -> bool:
        """Wait until woken or `seconds` pass; True when woken (every wake so far is then used up)."""
        time.sleep(seconds)
        return False

    def close(self) -> None:
        pass

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class _SocketWaiter(Waiter):
    wakeable = True

    def __init__(self, path: Path, sock: socket.socket) -> None:
        self._path = path
        self._sock = sock

    def wait(self, seconds: float) -> bool:
        readable, _, _ = select.select([self._sock], [], [], seconds)
        if not readable:
            return False
        with contextlib.suppress(BlockingIOError):
            while True:  # every wake queued so far is answered by the one pass that follows
                self._sock.recv(64)
        return True

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(OSError):
            self._path.unlink()


class _ListenWaiter(Waiter):
    wakeable = True

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: Any = None
        self._listen()

    def _listen(self) -> None:
        import psycopg

        self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, seconds: float) -> bool:
        start = time.monotonic()
        try:
            if self._conn is None or self._conn.closed:
                self._listen()
            woken = any(True for _ in self._conn.notifies(timeout=seconds, stop_after=1))
            if woken:
                for _ in self._conn.notifies(timeout=0):  # drain: one pass answers them all
                    pass
            return woken
        except Exception:
            # The connection is gone (a restart): poll for the rest of this interval, listen again next time.
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
            time.sleep(max(seconds - (time.monotonic() - start), 0.0))
            return False

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def worker_listening(database_url: str) -> bool:
    """Whether a worker of this database waits to be woken now (`serve` with its worker, or `personvern worker`):
    on SQLite its socket answers a connect; on PostgreSQL a session's last statement is its LISTEN. For commands
    that must not run beside one (`keys rotate`); False when it cannot be told."""
    path = socket_path(database_url)
    if path is not None:
        try:
            return _answers(path)
        except OSError:
            return False  # no socket there: nobody listens
    dsn = _postgres_dsn(database_url)
    if dsn is None:
        return False
    try:
        import psycopg

        with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND query = %s",
                (f"LISTEN {CHANNEL}",),
            ).fetchone()
    except Exception:
        return False
    return bool(row and row[0])


def _answers(path: Path) -> bool:
    """Whether a worker is bound to the socket at `path`: False for one a killed worker left (the connect is
    refused); any other failure (no such file, no permission) is raised."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(os.fsencode(path))
        except ConnectionRefusedError:
            return False
    return True


def _bind(path: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        try:
            sock.bind(os.fsencode(path))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            if _answers(path):
                sock.close()
                return None  # another worker listens: that one is woken, this one polls
            path.unlink()  # left by a worker that was killed: nobody reads it
            sock.bind(os.fsencode(path))
        os.chmod(path, 0o600)
        sock.setblocking(False)
        return sock
    except OSError:
        sock.close()
        return None


def waiter(settings: HasDatabaseUrl) -> Waiter:
    """The worker's way to wait for its database; a plain sleeping `Waiter` when it cannot be woken."""
    url = settings.database_url
    path = socket_path(url)
    if path is not None:
        sock = _bind(path)
        return Waiter() if sock is None else _SocketWaiter(path, sock)
    dsn = _postgres_dsn(url)
    if dsn is not None:
        try:
            return _ListenWaiter(dsn)
        except Exception:
            return Waiter()
    return Waiter()
