"""The key store apart from the data (issue 17, item 1), on SQLite (FILE.keys attached) and PostgreSQL (schema)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, inspect, select, text

from personvern.bootstrap import FixedClock, Runtime, Settings, initialise, open_runtime
from personvern.connectors.worker import Worker
from personvern.domain.errors import NotReady
from personvern.domain.outbox import RetryPolicy
from personvern.services import keys, register, rights
from personvern.services import sweep as sweep_service
from personvern.store import tables as t
from personvern.store.engine import _alembic_config, keystore_path, sqlite_path
from tests.conftest import NOW

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _people(rt: Runtime, n: int) -> dict[str, str]:
    """n people added through the register; their ids with the name each was given."""
    ctx = rt.context()
    out = {}
    for i in range(n):
        name = f"Kari Nordmann {i}"
        added = register.add_subject(
            ctx, "one_time_customer", {"full_name": name, "phone": f"+47 4{i:07d}", "email": f"k{i}@eksempel.no"}, {}
        )
        out[added.id] = name
    return out


def _opens(rt: Runtime, people: dict[str, str]) -> None:
    ctx = rt.context()
    for sid, name in people.items():
        assert register.show_subject(ctx, sid).values["full_name"] == name


def test_the_keys_are_in_the_key_store_and_not_in_the_register(runtime: Runtime) -> None:
    people = _people(runtime, 3)
    with runtime.engine.connect() as conn:
        found = inspect(conn)
        assert "data_keys" not in found.get_table_names()
        assert set(conn.scalars(select(t.data_keys.c.owner_id))) == set(people)
    db = sqlite_path(runtime.settings.database_url)
    if db is not None:
        # The two files apart: the register's file alone holds no key; the key store's holds them all.
        with sqlite3.connect(db) as plain:
            tables = {r[0] for r in plain.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "data_keys" not in tables and "subjects" in tables
        with sqlite3.connect(keystore_path(db)) as keys_file:
            assert {r[0] for r in keys_file.execute("SELECT owner_id FROM data_keys")} == set(people)
        assert keystore_path(db).stat().st_mode & 0o077 == 0  # private, as the register is
    _opens(runtime, people)  # the one-statement person read joins across the two


def test_the_migration_moves_every_key_and_every_subject_still_opens(runtime: Runtime) -> None:
    people = _people(runtime, 25)
    engine = runtime.engine
    command.downgrade(_alembic_config(engine), "0013")  # the register as the previous version left it
    with engine.begin() as conn:
        assert conn.scalar(text("SELECT count(*) FROM data_keys")) == 25
        assert not inspect(conn).has_table("data_keys", schema="keystore")
        # A stale key store beside an older register (a restored older backup): replaced, not merged.
        if engine.dialect.name == "postgresql":
            conn.execute(text("CREATE SCHEMA IF NOT EXISTS keystore"))
        blob = "BLOB" if engine.dialect.name == "sqlite" else "BYTEA"
        conn.execute(text(f"CREATE TABLE keystore.data_keys (owner_id VARCHAR(32) PRIMARY KEY, wrapped {blob})"))
        conn.execute(text("INSERT INTO keystore.data_keys VALUES ('stale', :w)"), {"w": b"x"})
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM keystore.data_keys")) == 1
    runtime.close()
    # `init` on the existing register runs the migration, and every subject opens again.
    reopened, report = initialise(Settings.resolve(runtime.settings.database_url, NOW, "ceo"))
    try:
        assert (report.revision_before, report.revision) == ("0013", "0016")
        with reopened.engine.connect() as conn:
            assert not inspect(conn).has_table("data_keys")  # the old table is gone from the register
            assert set(conn.scalars(select(t.data_keys.c.owner_id))) == set(people)  # the stale key is not
        _opens(reopened, people)
    finally:
        reopened.close()


def test_the_sweep_deletes_orphan_keys_counts_keyless_subjects_and_is_audited(runtime: Runtime) -> None:
    people = _people(runtime, 3)
    lost = sorted(people)[0]
    with runtime.engine.begin() as conn:
        for orphan in ("gone-subject", "gone-outbox-row"):
            conn.execute(insert(t.data_keys).values(owner_id=orphan, wrapped=b"w", master_key_id="k", created_at=AT))
        conn.execute(delete(t.data_keys).where(t.data_keys.c.owner_id == lost))
    ctx = runtime.context()
    assert keys.sweep(ctx) == keys.KeySweep(orphans=2, keyless=1)
    with runtime.engine.connect() as conn:
        assert set(conn.scalars(select(t.data_keys.c.owner_id))) == set(people) - {lost}
        # Owners of every kind keep their keys: a request's, an outbox row's (none here) are not orphans.
        audited = conn.execute(select(t.audit_log.c.details).where(t.audit_log.c.action == "keys.sweep")).scalar_one()
    assert json.loads(audited) == {"orphans_deleted": 2, "subjects_without_key": 1}  # counts only
    _opens(runtime, {sid: name for sid, name in people.items() if sid != lost})
    assert keys.sweep(ctx) == keys.KeySweep(orphans=0, keyless=1)  # nothing more to delete


def test_a_request_key_is_no_orphan(runtime: Runtime) -> None:
    """Every owner kind is known to the sweep: a request's sealed parts keep their key."""
    ctx = runtime.context()
    with runtime.engine.connect() as conn:
        held = conn.scalar(select(func.count()).select_from(t.data_keys))
    rights.open_request(ctx, "access", email="ingen@eksempel.no")  # matches nobody: its identity is sealed
    with runtime.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(t.data_keys)) == (held or 0) + 1
    assert keys.sweep(ctx).orphans == 0


def test_a_register_whose_key_store_is_missing_is_refused_by_name(runtime: Runtime) -> None:
    db = sqlite_path(runtime.settings.database_url)
    runtime.close()
    if db is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{keystore_path(db)}{suffix}").unlink(missing_ok=True)
        where = str(keystore_path(db))
    else:
        from sqlalchemy import create_engine

        engine = create_engine(runtime.settings.database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA keystore CASCADE"))
        engine.dispose()
        where = "the schema keystore"
    with pytest.raises(NotReady, match="key store") as refused:
        open_runtime(Settings.resolve(runtime.settings.database_url, None, "ceo"))
    assert where in str(refused.value)


def test_the_worker_sweeps_orphan_keys_after_the_days_retention_sweep(runtime: Runtime) -> None:
    people = _people(runtime, 2)
    sweep_service.run(runtime.context())  # the CEO's first run confirms the unattended sweeps
    with runtime.engine.begin() as conn:
        conn.execute(insert(t.data_keys).values(owner_id="gone", wrapped=b"w", master_key_id="k", created_at=AT))
    tomorrow = dataclasses.replace(runtime.context(), clock=FixedClock(AT + timedelta(days=1)))
    Worker(tomorrow, {}, RetryPolicy(), retention=True).run_once()
    with runtime.engine.connect() as conn:
        assert set(conn.scalars(select(t.data_keys.c.owner_id))) == set(people)
        assert conn.scalar(select(func.count()).where(t.audit_log.c.action == "keys.sweep")) == 1
