"""Migration 0010 on a register made before it: sweeps unconfirmed, the first data dated, old consents untouched."""

from __future__ import annotations

from datetime import UTC, date, datetime

from alembic import command
from sqlalchemy import insert, select

from personvern.store import tables as t
from personvern.store.engine import _alembic_config, make_engine, upgrade

FIRST = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
LATER = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def test_an_older_register_is_upgraded_with_what_it_held(db_url: str) -> None:
    engine = make_engine(db_url, must_exist=False)
    try:
        command.upgrade(_alembic_config(engine), "0008")
        with engine.begin() as conn:
            conn.execute(insert(t.installation).values(id=1, master_key_id="k", created_at=FIRST, simulation=False))
            # The log remembers a subject created in March 2025, erased since; the one left came later.
            conn.execute(
                insert(t.audit_log).values(
                    seq=1,
                    at=FIRST,
                    actor="os:x",
                    role="ceo",
                    action="subject.create",
                    details="{}",
                    prev_hash="0",
                    hash="1",
                )
            )
            conn.execute(
                insert(t.subjects).values(
                    id="s1", kind="one_time_customer", source="x", received_at=LATER, created_at=LATER, updated_at=LATER
                )
            )
            conn.execute(
                insert(t.consent_events).values(
                    id="e1",
                    subject_id="s1",
                    purpose="marketing",
                    channel="sms",
                    action="given",
                    at=LATER,
                    method="web",
                    recorded_by="os:x",
                    role="ceo",
                    notice_sha256="a" * 64,
                )
            )
            conn.execute(
                insert(t.retention_sweeps).values(
                    id="w1", day=date(2026, 2, 1), started_at=LATER, finished_at=LATER, archived=0, erased=0, failed=0
                )
            )
        before, after = upgrade(engine)
        assert before == "0008" and after >= "0010"  # to the head, through 0010 (later revisions follow it)
        with engine.connect() as conn:
            assert conn.scalar(select(t.installation.c.first_data_at)) == FIRST
            sweep = conn.execute(select(t.retention_sweeps)).one()
            # Sweeps from before are no confirmation: the worker's first sweep after the upgrade waits for the CEO.
            assert (sweep.confirmed, sweep.held, sweep.due, sweep.allowed) == (False, False, None, None)
            event = conn.execute(select(t.consent_events)).one()
            assert (event.notice_sha256, event.proof_ct) == ("a" * 64, None)
    finally:
        engine.dispose()


def test_an_empty_register_has_no_first_data(db_url: str) -> None:
    engine = make_engine(db_url, must_exist=False)
    try:
        command.upgrade(_alembic_config(engine), "0008")
        with engine.begin() as conn:
            conn.execute(insert(t.installation).values(id=1, master_key_id="k", created_at=FIRST, simulation=False))
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.scalar(select(t.installation.c.first_data_at)) is None
    finally:
        engine.dispose()
