"""The store on SQLite and PostgreSQL: encryption at rest, crypto-shredding, migrations, the audit chain."""

from __future__ import annotations

import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import event, inspect, select, text

from personvern.bootstrap import Runtime, Settings, initialise, open_runtime
from personvern.domain.errors import Conflict, NotReady
from personvern.services import register
from personvern.services.admin import verify_audit
from personvern.store import tables as t
from personvern.store.crypto import NONCE

PEOPLE = [
    {
        "full_name": "Ingrid Sæther-Ødegård",
        "phone": "+47 936 11 224",
        "email": "Ingrid.Saether@Eksempel.no",
    },
    {
        "full_name": "Torbjørn Kvalheim",
        "phone": "48 21 33 90",
        "email": "torbjorn.kvalheim@firma-eksempel.no",
        "organisation_number": "974760673",
        "organisation_name": "Kvalheim Rørlegger Bjørnstad AS",
    },
]
SECRETS = [
    "Ingrid",
    "Sæther",
    "Ødegård",
    "936 11 224",
    "93611224",
    "4793611224",
    "Ingrid.Saether",
    "ingrid.saether",
    "Eksempel.no",
    "Torbj",
    "Kvalheim",
    "48213390",
    "torbjorn",
    "Rørlegger",
    "Bjørnstad",
    "Storgata 99",
    "Kontorlokale 77",
]


def _add_people(rt: Runtime) -> list[str]:
    ctx = rt.context()
    first = register.add_subject(
        ctx, "one_time_customer", {**PEOPLE[0], "postal_address": "Storgata 99, 0184 Oslo"}, {"postal_address": "post"}
    )
    second = register.add_subject(ctx, "contract_customer", PEOPLE[1], {})
    register.start_relationship(ctx, second.id, "contract", description="Kontorlokale 77, 3. etasje")
    register.show_subject(ctx, first.id)
    return [first.id, second.id]


def _every_stored_value(rt: Runtime) -> list[bytes]:
    out: list[bytes] = []
    with rt.engine.connect() as conn:
        for name in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{name}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        out.append(bytes(value))
                    elif value is not None:
                        out.append(str(value).encode())
    return out


def _assert_no_secret(blobs: list[bytes]) -> None:
    for secret in SECRETS:
        for encoded in {secret.encode(), secret.lower().encode(), secret.encode("utf-16-le")}:
            assert not any(encoded in blob for blob in blobs), f"{secret!r} stored in plaintext"


def test_no_personal_value_is_stored_in_plaintext(runtime: Runtime) -> None:
    _add_people(runtime)
    _assert_no_secret(_every_stored_value(runtime))


def test_sqlite_file_and_wal_hold_no_plaintext(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "raw.db"
    monkeypatch.setenv("PERSONVERN_MASTER_KEY_FILE", str(tmp_path / "k"))
    rt, _ = initialise(Settings.resolve(f"sqlite:///{db}", "2026-11-25T12:00:00+00:00"))
    try:
        _add_people(rt)
        wal = tmp_path / "raw.db-wal"
        # Read while the connection is open, so the WAL has not been checkpointed away.
        with rt.engine.connect():
            files = [db.read_bytes(), wal.read_bytes() if wal.exists() else b""]
        assert files[1], "expected a write-ahead log while the database is open"
    finally:
        rt.close()
    files.append(db.read_bytes())
    _assert_no_secret(files)


def test_erasure_deletes_rows_and_key_so_nothing_can_be_decrypted(runtime: Runtime) -> None:
    first, second = _add_people(runtime)
    with runtime.engine.connect() as conn:
        sealed = [
            bytes(b)
            for b in conn.scalars(select(t.subject_values.c.ciphertext).where(t.subject_values.c.subject_id == second))
        ]
    assert sealed
    with runtime.uow() as uow:
        uow.subjects.erase(second)
        uow.commit()
    with runtime.engine.connect() as conn:
        for table, column in [
            (t.subjects, t.subjects.c.id),
            (t.subject_values, t.subject_values.c.subject_id),
            (t.lookups, t.lookups.c.subject_id),
            (t.relationships, t.relationships.c.subject_id),
            (t.data_keys, t.data_keys.c.owner_id),
        ]:
            assert conn.execute(select(column).where(column == second)).first() is None, table.name
        assert conn.execute(select(t.organisations)).first() is None, "an organisation with no subject is left"
        remaining = [(o, bytes(w)) for o, w in conn.execute(select(t.data_keys.c.owner_id, t.data_keys.c.wrapped))]
    # The erased person's ciphertext opens under no key that is left (nor under the wrong subject's).
    keys = [runtime.uow.vault.unwrap(owner, wrapped) for owner, wrapped in remaining]
    assert keys
    for blob in sealed:
        for key in keys:
            for field in ("full_name", "phone", "email", "organisation_number", "organisation_name"):
                with pytest.raises(InvalidTag):
                    AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], f"{second}:{field}".encode())
    with pytest.raises(Exception, match="no subject in the register"):
        register.show_subject(runtime.context(), email=PEOPLE[1]["email"])
    assert register.show_subject(runtime.context(), first).values["full_name"] == PEOPLE[0]["full_name"]


def test_migrations_match_the_tables(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        # Every schema: the key store's tables live in `keystore` (the attached FILE.keys on SQLite).
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_schemas": True}), t.metadata)
    assert diff == []


def _in_new_york(runtime: Runtime) -> None:
    """Every new PostgreSQL connection in New York time: the driver then gives times in that zone."""

    def new_york(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'America/New_York'")
        dbapi_connection.commit()

    event.listen(runtime.engine, "connect", new_york)
    runtime.engine.dispose()


@pytest.mark.parametrize("new_york", [False, True], ids=["session-zone", "new-york"])
def test_audit_chain_detects_tampering(runtime: Runtime, new_york: bool) -> None:
    """Also when the database session is not in UTC: verify must not depend on the zone the driver uses."""
    _add_people(runtime)
    if new_york and runtime.engine.dialect.name == "postgresql":
        _in_new_york(runtime)
    report = verify_audit(runtime.uow, runtime.actor)
    assert report.ok and report.checked >= 5
    with runtime.engine.begin() as conn:
        conn.execute(t.audit_log.update().where(t.audit_log.c.seq == 3).values(purpose="marketing"))
    report = verify_audit(runtime.uow, runtime.actor)
    assert (report.ok, report.broken_at) == (False, 3)


@pytest.mark.parametrize("garbage", [False, True])
def test_audit_chain_detects_an_altered_time(runtime: Runtime, garbage: bool) -> None:
    _add_people(runtime)
    with runtime.engine.begin() as conn:
        at = conn.scalar(select(t.audit_log.c.at).where(t.audit_log.c.seq == 2))
        if garbage and runtime.engine.dialect.name == "sqlite":  # SQLite keeps any text in a DATETIME column
            conn.exec_driver_sql("UPDATE audit_log SET at = 'yesterday' WHERE seq = 2")
        else:
            conn.execute(t.audit_log.update().where(t.audit_log.c.seq == 2).values(at=at + timedelta(microseconds=1)))
    report = verify_audit(runtime.uow, runtime.actor)
    assert (report.ok, report.broken_at) == (False, 2)
    assert report.problem is not None and "altered" in report.problem


def test_audit_chain_detects_a_removed_tail(runtime: Runtime) -> None:
    _add_people(runtime)
    with runtime.engine.begin() as conn:
        last = conn.scalar(select(t.audit_log.c.seq).order_by(t.audit_log.c.seq.desc()).limit(1))
        conn.execute(t.audit_log.delete().where(t.audit_log.c.seq == last))
    report = verify_audit(runtime.uow, runtime.actor)
    assert not report.ok and report.broken_at == last


def test_audit_holds_no_personal_value(runtime: Runtime) -> None:
    _add_people(runtime)
    with runtime.engine.connect() as conn:
        blobs = [str(tuple(row)).encode() for row in conn.execute(select(t.audit_log))]
    _assert_no_secret(blobs)


def test_master_key_file_is_private_and_must_match(runtime: Runtime, tmp_path: Path, monkeypatch) -> None:
    key_file = runtime.settings.key_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    _add_people(runtime)
    other = tmp_path / "other.key"
    monkeypatch.setenv("PERSONVERN_MASTER_KEY_FILE", str(other))
    from personvern.store.crypto import create_master_key

    create_master_key(other)
    with pytest.raises(NotReady, match="is not the one this database"):
        open_runtime(Settings.resolve(runtime.settings.database_url))
    key_file.chmod(0o644)
    monkeypatch.setenv("PERSONVERN_MASTER_KEY_FILE", str(key_file))
    with pytest.raises(NotReady, match="readable by others"):
        open_runtime(Settings.resolve(runtime.settings.database_url))


def test_unique_index_stops_concurrent_duplicates(runtime: Runtime) -> None:
    """Two writers that both pass the service's check: the database still keeps only one."""
    from personvern.domain.subjects import Subject

    now = runtime.clock.now()
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def write(n: int) -> None:
        subject = Subject(
            register.new_id(), "one_time_customer", {**PEOPLE[0], "phone": "+4793611224"}, "test", now, now, now
        )
        try:
            with runtime.uow() as uow:
                barrier.wait(timeout=10)
                uow.subjects.add([subject])
                uow.commit()
            outcomes.append("stored")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    if runtime.engine.dialect.name == "sqlite":
        # SQLite takes the write lock at BEGIN: the second writer waits at the barrier's far side,
        # so let each thread start its transaction in turn.
        barrier = threading.Barrier(1)
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "stored"]
    with runtime.engine.connect() as conn:
        assert conn.scalar(select(text("count(*)")).select_from(t.subjects)) == 1


def test_lookups_use_their_partial_index(runtime: Runtime) -> None:
    """A look-up by email or by organisation number reads one index entry, not the whole table."""
    _add_people(runtime)
    with runtime.uow() as uow:
        conn = uow.subjects._conn
        sqlite = conn.dialect.name == "sqlite"
        if not sqlite:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned anyway
        for field, index in [("email", "uq_lookups_unique_value"), ("organisation_number", "ix_lookups_shared_value")]:
            q = select(t.lookups.c.subject_id).where(
                t.lookups.c.field == field,
                t.lookups.c.digest == runtime.uow.vault.blind(field, "x"),
                uow.subjects._index_of(field),
            )
            compiled = q.compile(dialect=conn.dialect)
            params = tuple(compiled.params.values()) if sqlite else compiled.params
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = " ".join(str(row) for row in conn.exec_driver_sql(explain + str(compiled), params))
            assert index in plan, plan
