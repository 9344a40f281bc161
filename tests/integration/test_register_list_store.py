"""`subject list` on SQLite and PostgreSQL: relationships read for the whole page at once, not per subject."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from personvern.bootstrap import Runtime
from personvern.services import register
from personvern.services.context import Context
from tests.unit.fakes import FixedClock


def _ctx(runtime: Runtime) -> Context:
    assert runtime.settings.now is not None
    clock = FixedClock(runtime.settings.now)
    return Context(runtime.policy.policy, runtime.uow, clock, runtime.actor, policy_sha256=runtime.policy.sha256)


@contextmanager
def reads(runtime: Runtime) -> Iterator[list[str]]:
    """The SELECTs sent (the audit entries' insert goes by COPY on PostgreSQL, unseen here, so writes are left out)."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


def _customers(ctx: Context, start: int, n: int) -> list[str]:
    ids = []
    for i in range(start, start + n):
        values = {"full_name": f"Kunde {i}", "phone": f"+479{i:07d}", "email": f"kunde{i}@example.no"}
        sid = register.add_subject(ctx, "one_time_customer", values, {}).id
        register.start_relationship(ctx, sid, "order", description=f"Nøkkelkort {i}")
        ids.append(sid)
    return ids


def test_a_page_of_subjects_costs_the_same_reads_whatever_its_size(runtime: Runtime) -> None:
    ctx = _ctx(runtime)
    _customers(ctx, 1, 3)
    counted = []
    for limit in (3, 30):
        if limit == 30:
            _customers(ctx, 100, 27)
        with reads(runtime) as seen:
            total, views = register.list_subjects(ctx, limit=limit)
        assert total == limit and len(views) == limit
        assert all(len(v.relationships) == 1 and v.relationships[0].description for v in views)
        counted.append(len(seen))
    assert counted[0] == counted[1], counted
