"""The bulk retention sweep on SQLite and PostgreSQL: the one-by-one end state; statements per batch, not subject."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from unittest.mock import patch

import pytest
from sqlalchemy import event, select, text

from personvern.bootstrap import Runtime
from personvern.domain.erasure import ErasureCause
from personvern.domain.errors import NotFound
from personvern.services import register, sweep
from personvern.services.context import Context
from personvern.services.erasure import erase_many
from personvern.services.retention import today
from personvern.store import tables as t
from personvern.store.bulk import BulkInsert
from tests.sweep_scenario import NAMES, ORG, person, state, sweep_both
from tests.unit.fakes import FixedClock


@pytest.fixture
def ctx(runtime: Runtime) -> Context:
    assert runtime.settings.now is not None
    clock = FixedClock(runtime.settings.now)
    return Context(runtime.policy.policy, runtime.uow, clock, runtime.actor, policy_sha256=runtime.policy.sha256)


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The statements sent, a bulk insert counted as one whichever way it went (PostgreSQL's COPY is not seen by
    SQLAlchemy's events; a few rows go as an INSERT, which is)."""
    seen: list[str] = []
    inside = []
    bulk_insert = BulkInsert.__call__

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if not inside:
            seen.append(statement)

    def counted_bulk(self, table, columns, rows) -> None:  # type: ignore[no-untyped-def]
        if rows:
            seen.append(f"BULK INSERT {table.name}")
        inside.append(True)
        try:
            bulk_insert(self, table, columns, rows)
        finally:
            inside.pop()

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        with patch.object(BulkInsert, "__call__", counted_bulk):
            yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


def test_a_mixed_batch_ends_as_one_subject_at_a_time(ctx: Context, runtime: Runtime) -> None:
    bulk, single, result = sweep_both(ctx)
    assert (result.archived, result.erased, result.held, result.skipped, result.failed) == (2, 3, 1, 1, [])
    with runtime.engine.connect() as conn:
        audit = [
            (sid, action, json.loads(details))
            for sid, action, details in conn.execute(
                select(t.audit_log.c.subject_id, t.audit_log.c.action, t.audit_log.c.details).order_by(
                    t.audit_log.c.seq
                )
            )
        ]
        keys = set(conn.scalars(select(t.data_keys.c.owner_id)))
    with runtime.uow() as uow:
        for name in NAMES:
            assert state(uow, bulk[name], audit) == state(uow, single[name], audit), name
        assert uow.audit.verify().ok
    for name in ("archived", "objected", "representative", "hubspot_archived", "hubspot_erased"):
        assert bulk[name] not in keys and single[name] not in keys, name  # crypto-shredded
    assert bulk["held"] in keys and bulk["no_longer_due"] in keys


def _long_ago(ctx: Context) -> datetime:
    """Received before the policy's 90 days for someone with no order yet (a prospect): nothing keeps them."""
    return ctx.clock.now() - timedelta(days=120)


def _due(ctx: Context, n: int, start: int) -> list[str]:
    """n subjects due today, half archived and half erased (representatives of one organisation)."""
    ids = []
    for i in range(start, start + n):
        kind = "business_representative" if i % 2 else "one_time_customer"
        values = person(i) | (ORG if i % 2 else {})
        ids.append(register.add_subject(ctx, kind, values, {}, received_at=_long_ago(ctx)).id)
    return ids


def test_a_batch_costs_the_same_statements_whatever_its_size(ctx: Context, runtime: Runtime) -> None:
    small, large = _due(ctx, 6, 0), _due(ctx, 60, 100)
    later = replace(ctx, clock=FixedClock(ctx.clock.now() + timedelta(days=1)))
    counted = []
    for ids in (small, large):
        result = sweep.RunResult(today(later))
        with statements(runtime) as seen:
            sweep.run_batch(later, ids, result.day, ErasureCause.RETENTION, result)
        assert (result.archived, result.erased, result.failed) == (len(ids) // 2, len(ids) // 2, [])
        counted.append(len(seen))
    # A few dozen either way: the batch is read, archived and erased per table, not per subject. (On PostgreSQL
    # the small batch's few audit entries go with the head's move as one statement, the large one's by COPY.)
    assert counted[1] - counted[0] in (0, 1) and counted[1] < 60, counted
    with runtime.engine.connect() as conn:
        # The organisation stays while it has members; it went with the last of them.
        assert conn.scalar(text("SELECT count(*) FROM organisations")) == 0
        assert conn.scalar(text("SELECT count(*) FROM subjects")) == 0


def test_an_organisation_goes_with_its_last_member_only(ctx: Context, runtime: Runtime) -> None:
    reps = [register.add_subject(ctx, "business_representative", person(i) | ORG, {}).id for i in range(3)]
    with runtime.uow() as uow:
        erase_many(ctx, uow, reps[:2], cause=ErasureCause.REQUEST)
        uow.commit()
    with runtime.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM organisations")) == 1
    with runtime.uow() as uow:
        with pytest.raises(NotFound):
            uow.subjects.erase_many([reps[2], "nobody"])  # all or nothing
        assert uow.subjects.exists(reps[2])
        erase_many(ctx, uow, reps[2:], cause=ErasureCause.REQUEST)
        uow.commit()
    with runtime.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM organisations")) == 0
        assert conn.scalar(text("SELECT count(*) FROM erasure_receipts")) == 3


def test_two_sweeps_reaching_one_batch_do_each_subject_once(ctx: Context, runtime: Runtime) -> None:
    """Two workers may sweep at once (PostgreSQL): the second waits for the first's batch, then finds it gone.

    Erasures only: nothing in the schema stops a second receipt for the same person, only the lock does.
    """
    reps = [person(i) | ORG for i in range(6)]
    ids = [register.add_subject(ctx, "business_representative", p, {}, received_at=_long_ago(ctx)).id for p in reps]
    later = replace(ctx, clock=FixedClock(ctx.clock.now() + timedelta(days=1)))
    day = today(later)
    first, second = sweep.RunResult(day), sweep.RunResult(day)
    other = threading.Thread(target=sweep.run_batch, args=(later, ids, day, ErasureCause.RETENTION, second))
    with runtime.uow() as uow:
        sweep._act(later, uow, ids, day, ErasureCause.RETENTION, first)
        other.start()
        time.sleep(0.5)
        assert other.is_alive()  # waiting for the rows (PostgreSQL) or the write lock (SQLite)
        uow.commit()
    other.join(timeout=30)
    assert (first.archived, first.erased) == (0, 6)
    assert (second.archived, second.erased, second.skipped, second.failed) == (0, 0, 6, [])
    with runtime.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM erasure_receipts")) == 6
