"""The keyed audit chain in the store, on SQLite and PostgreSQL: a register upgraded from the unkeyed chain."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

from sqlalchemy import select, text, update

from personvern.bootstrap import Runtime, Settings, initialise
from personvern.domain.audit import GENESIS, SWITCH_ACTION, legacy_entry_hash
from personvern.services import register
from personvern.services.admin import verify_audit
from personvern.store import tables as t
from personvern.store.repositories import SqlAuditLog
from tests.conftest import NOW


def _as_before_the_key(runtime: Runtime) -> int:
    """Rewrite the register as one from before migration 0007 had been keyed by `init`: every entry a plain
    SHA-256 from the constant start, one of them hashed with the caller's +02:00 (the defect of issue 12), and
    the head's new columns empty."""
    c = t.audit_log.c
    with runtime.engine.begin() as conn:
        rows = conn.execute(select(t.audit_log).order_by(c.seq)).all()
        prev = GENESIS
        for r in rows:
            at = r.at.astimezone(timezone(timedelta(hours=2))) if r.seq == 2 else r.at
            digest = legacy_entry_hash(r.seq, at, r.actor, r.role, r.action, r.subject_id, r.purpose, r.details, prev)
            conn.execute(update(t.audit_log).where(c.seq == r.seq).values(prev_hash=prev, hash=digest))
            prev = digest
        conn.execute(update(t.audit_head).values(hash=prev, chain_id=None, keyed_from=None, simulation=None, mac=None))
    return len(rows)


def _upgraded(runtime: Runtime, db_url: str) -> tuple[Runtime, int]:
    register.add_subject(
        runtime.context(), "one_time_customer", {"full_name": "Ola", "phone": "41234567", "email": "o@example.no"}, {}
    )
    legacy = _as_before_the_key(runtime)
    runtime.close()
    rt, _ = initialise(Settings.resolve(db_url, NOW, "ceo"))  # what `personvern init` does after the migration
    return rt, legacy


def test_an_upgraded_register_keeps_its_old_entries_and_keys_the_new_ones(runtime: Runtime, db_url: str) -> None:
    rt, legacy = _upgraded(runtime, db_url)
    try:
        with rt.engine.connect() as conn:
            head = conn.execute(select(t.audit_head)).one()
            switch = conn.execute(select(t.audit_log).where(t.audit_log.c.seq == legacy + 1)).one()
        assert (head.keyed_from, head.simulation, switch.action) == (legacy + 1, False, SWITCH_ACTION)
        assert f'"legacy_entries":{legacy}' in switch.details
        report = verify_audit(rt.uow, rt.actor, rt.checkpoints, rt.clock)
        assert (report.ok, report.checked) == (True, legacy + 1), report
        register.add_subject(
            rt.context(), "one_time_customer", {"full_name": "Kari", "phone": "41234568", "email": "k@example.no"}, {}
        )
        assert verify_audit(rt.uow, rt.actor).checked == legacy + 2
    finally:
        rt.close()


def test_an_old_entry_altered_after_the_upgrade_is_still_found(runtime: Runtime, db_url: str) -> None:
    rt, _legacy = _upgraded(runtime, db_url)
    try:
        with rt.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
        report = verify_audit(rt.uow, rt.actor)
        assert (report.ok, report.broken_at) == (False, 1)
    finally:
        rt.close()


def test_the_switch_point_cannot_be_moved_or_dropped(runtime: Runtime, db_url: str) -> None:
    """Moved on, later keyed entries would pass for unkeyed ones a database writer could forge; dropped, all
    of them would."""
    rt, legacy = _upgraded(runtime, db_url)
    try:
        for change in ({"keyed_from": legacy + 2}, {"keyed_from": None}, {"simulation": True}):
            with rt.engine.connect() as conn:
                tx = conn.begin()
                conn.execute(update(t.audit_head).values(**change))
                report = SqlAuditLog(conn, rt.uow.vault.audit_key).verify()
                tx.rollback()
            assert not report.ok, change
    finally:
        rt.close()


def test_a_new_register_is_keyed_from_its_first_entry_and_knows_it_is_a_simulation(runtime: Runtime) -> None:
    with runtime.engine.connect() as conn:
        head = conn.execute(select(t.audit_head)).one()
        first = conn.execute(select(t.audit_log).where(t.audit_log.c.seq == 1)).one()
    assert (head.keyed_from, head.simulation, first.action) == (1, True, "policy.load")
    assert first.prev_hash != GENESIS
    assert runtime.simulation is True
    assert first.at.astimezone(UTC).isoformat() == NOW
