"""Opening the database: SQLite tuned for safe concurrent use, or PostgreSQL; and bringing its schema up to date."""

from __future__ import annotations

import functools
import os
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError, OperationalError

from personvern.domain.errors import NotReady, invalid
from personvern.store import people, preview


def database_url(given: str) -> str:
    """The URL of the database `--db` names: a URL as given, the path of an existing file as that SQLite file.

    A path to no file is refused rather than guessed at: a typo would otherwise become a new, empty register.
    """
    if "://" in given:
        return given
    if Path(given).is_file():
        return f"sqlite:///{given}"
    raise invalid(
        "db",
        f"is not a database URL (sqlite:///FILE or postgresql+psycopg://USER@HOST/DB); for a new SQLite file "
        f"write sqlite:///{given}",
    )


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for another database (or an in-memory one)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def keystore_path(db: Path) -> Path:
    """The key store's file beside an SQLite register: FILE.keys (backed up, and kept, apart from FILE)."""
    return db.with_name(db.name + ".keys")


def make_engine(url: str, *, must_exist: bool = True) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise invalid("db", "is not a database URL (sqlite:///FILE or postgresql+psycopg://USER@HOST/DB)") from None
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise invalid("db", f"database {backend!r} is not supported; use sqlite or postgresql")
    path = sqlite_path(url)
    if path is not None and must_exist and not path.exists():
        raise NotReady(f"no database at {path}; create it with `personvern init --db {url}`")
    if path is not None and not path.parent.exists():
        raise invalid("db", f"the folder {path.parent} does not exist")
    if path is not None and not path.exists():
        _create_private(path)
    if path is not None and not keystore_path(path).exists():
        # Made private before SQLite's ATTACH would make it with the umask's mode. An initialised register whose
        # key file went missing is told apart by `require_keystore`, not here.
        _create_private(keystore_path(path))
    try:
        if backend == "sqlite":
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT})
            keys = str(keystore_path(path)) if path is not None else ":memory:"
            event.listen(engine, "connect", functools.partial(_sqlite_connect, keys))
            _WriterTurns().watch(engine)
        else:
            engine = create_engine(url)
            _ping_when_idle(engine)
    except NoSuchModuleError:
        raise invalid("db", "needs a driver: use postgresql+psycopg:// for PostgreSQL") from None
    preview.watch(engine)
    people.watch(engine)  # a person read in a transaction is forgotten when the transaction writes
    return engine


BUSY_TIMEOUT = 30.0  # seconds an SQLite writer waits for the write lock before "database is locked"

# A pooled connection used this recently is taken as alive without asking the server (HikariCP's
# "aliveBypassWindowMs" is 500 ms): on PostgreSQL the question is a round trip, as dear as a statement.
PING_AFTER_IDLE = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, as `pool_pre_ping`, for connections idle longer than PING_AFTER_IDLE:
    a connection the server dropped (a restart, an idle timeout) is replaced before a unit of work uses it."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("the database connection was lost")  # the pool connects afresh


def _create_private(path: Path) -> None:
    """Create the empty database file readable by its owner only, before SQLite opens it.

    Not all of it is encrypted (the breach register, reasons, the audit trail), and SQLite gives the -wal
    and -shm files it makes later the mode of the database file: so 0600 from the first byte, for all three.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise invalid("db", f"{path} is a link or appeared while it was being created; name a new file") from None
    except OSError as exc:
        raise invalid("db", f"{path} cannot be created ({exc.strerror})") from None
    os.close(fd)


def make_private(path: Path) -> None:
    """Tighten an SQLite database made before its files were created private (and its -wal, -shm, and the key
    store's) to 0600."""
    keys = keystore_path(path)
    files = [path, keys]
    files += [f.with_name(f.name + suffix) for f in (path, keys) for suffix in ("-wal", "-shm")]
    for file in files:
        try:
            if not file.is_symlink() and file.exists() and file.stat().st_uid == os.geteuid():
                file.chmod(0o600)
        except OSError:
            continue  # not ours to change: opening it will say what is wrong


def _sqlite_connect(keys: str, dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # The key store, a file of its own, seen as the schema `keystore` (tables.KEYSTORE): one statement still
    # joins a person's rows and key, one transaction still writes both. In WAL mode a commit is atomic per file,
    # not across the two (SQLite commits the register's file first, then the key store's), so a crash in between
    # leaves at worst a key without its data (an orphan: `personvern keys sweep`) or data without its key
    # (unreadable: erased in effect, the safe side; the sweep counts them).
    cur.execute("ATTACH DATABASE ? AS keystore", (keys,))
    cur.execute("PRAGMA keystore.journal_mode=WAL")
    cur.execute("PRAGMA keystore.synchronous=NORMAL")
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute("PRAGMA foreign_keys=ON")  # erasure cascades to a subject's values and relationships
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to the last checkpoint
    # 64 MiB of page cache: the blind indexes are random by design, and a bulk load into B-trees
    # larger than the default 2 MiB cache spends its time re-reading pages.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


class _WriterTurns:
    """SQLite's write lock taken in turn by this process's threads (the server's, the retention run's).

    Every transaction begins IMMEDIATE: every use case writes at least an audit entry, and a deferred
    transaction that upgrades later can fail with "database is locked" under concurrency. Threads that met the
    lock taken would wait in SQLite's busy handler, which sleeps and polls (up to 100 ms a time): under 16
    concurrent API clients some waited seconds while others went ahead. Here they queue on a lock of the
    process first and go as soon as the last COMMIT or ROLLBACK is done; other processes still meet SQLite's
    busy timeout. A thread that does not get its turn within the busy timeout goes on to SQLite's own handling.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders: set[int] = set()  # ids of the DB-API connections whose transaction holds the turn

    def watch(self, engine: Engine) -> None:
        event.listen(engine, "begin", self._begin)
        # Released after the COMMIT or ROLLBACK itself (SQLAlchemy's events come before it), including the
        # pool's own rollback of a connection given back with its transaction open.
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self._release(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]
        event.listen(engine.pool, "close", lambda dbapi, _record: self._release(dbapi))

    def _begin(self, conn: Any) -> None:
        raw = conn.connection.dbapi_connection
        if self._lock.acquire(timeout=BUSY_TIMEOUT):
            self._holders.add(id(raw))
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self._release(raw)
            raise

    def _release(self, dbapi_connection: Any) -> None:
        # The dialect is handed the pool's proxy or the DB-API connection itself, depending on the caller.
        key = id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
        if key in self._holders:
            self._holders.discard(key)
            self._lock.release()


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("personvern.store") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema; return (revision before, revision after)."""
    before = current_revision(engine)
    command.upgrade(_alembic_config(engine), "head")
    return before, head_revision(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str:
    return _head(str(resources.files("personvern.store") / "migrations"))


@functools.cache
def _head(script_location: str) -> str:
    """The newest migration this version ships: read from the scripts once per process (every command, and every
    request's readiness check, asks for it; parsing the scripts costs more than the command itself)."""
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def require_current(engine: Engine, url: str) -> None:
    current = current_revision(engine)
    if current is None:
        raise NotReady(f"the database at {url} is not initialised; run `personvern init`")
    if current != head_revision(engine):
        raise NotReady(
            f"the database schema is at {current}, this version needs {head_revision(engine)}; run `personvern init`"
        )
    require_keystore(engine, url)


def require_keystore(engine: Engine, url: str) -> None:
    """An upgraded register whose key store is missing (FILE.keys deleted, or not restored) is refused by name:
    without it nobody's values open, and a new empty one would hide the loss."""
    with engine.connect() as conn:
        found = inspect(conn).has_table("data_keys", schema="keystore")
    if not found:
        path = sqlite_path(url)
        where = f"the file {keystore_path(path)}" if path is not None else "the schema keystore"
        raise NotReady(
            f"the register's key store ({where}) is missing: restore it from the key-store backup "
            "(`personvern restore` of a backup holding its keys part)"
        )


# PostgreSQL's deadlock_detected and serialization_failure: the transaction was rolled back whole, and the same
# call again normally succeeds. Lock order keeps them rare (services/rights.py `_load`); two servers on one
# database still meet one now and then, and it is a busy database, not a fault (issue 17, the soak).
RETRYABLE = frozenset({"40P01", "40001"})


def retryable(exc: BaseException) -> bool:
    """A transaction the database gave up for a conflicting one (rolled back whole): the same call again succeeds.

    The API answers it 503 with Retry-After, the console a page saying so (never an internal error)."""
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in RETRYABLE
