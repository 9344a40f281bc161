"""The worker's unattended sweep: at most the policy's share and number a day, nothing before the CEO confirmed one."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from personvern.domain.errors import Forbidden
from personvern.policy.schema import Unattended as Limit
from personvern.services import review, sweep
from personvern.services.context import Context
from personvern.services.register import add_subject, start_relationship
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

LONG_AGO = NOW - timedelta(days=120)  # past the 90 days the bundled policy keeps someone with no order yet


def person(n: int) -> dict[str, str]:
    return {"full_name": f"Person Nummer{n}", "phone": f"9{n:07d}", "email": f"person{n}@example.no"}


def _customers(ctx: Context, n: int, start: int = 0) -> list[str]:
    """Customers with an open order: kept, and counted in the register the share is taken of."""
    ids = [add_subject(ctx, "one_time_customer", person(i), {}).id for i in range(start, start + n)]
    for sid in ids:
        start_relationship(ctx, sid, "order", date(2026, 11, 1))
    return ids


def _bare(ctx: Context, n: int, start: int) -> list[str]:
    """People with nothing to keep them: due today."""
    return [
        add_subject(ctx, "one_time_customer", person(i), {}, received_at=LONG_AGO).id for i in range(start, start + n)
    ]


def held_entries(factory: FakeUnitOfWorkFactory) -> list[dict[str, object]]:
    return [dict(e.details) for e in factory.audit_entries() if e.action == "retention.held"]


@pytest.mark.parametrize(
    ("register", "percent", "most", "allowed"),
    [
        (0, 2.0, 100, 0),
        (1, 2.0, 100, 1),
        (50, 2.0, 100, 1),
        (51, 2.0, 100, 2),
        (200, 2.0, 100, 4),
        (10_000, 2.0, 100, 100),
        (1000, 0.5, 100, 5),
    ],
)
def test_the_limit_is_the_smaller_of_the_share_rounded_up_and_the_number(
    register: int, percent: float, most: int, allowed: int
) -> None:
    assert Limit(max_percent=percent, max_subjects=most).allowed(register) == allowed


def test_the_first_sweep_of_a_register_waits_for_the_ceo(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    _customers(ceo, 98)
    due = _bare(ceo, 2, 100)  # 2 of 100: within 2 %, but no sweep was confirmed yet
    first = review.daily(ceo)
    assert first.waiting is not None and first.swept is not None and first.swept.done == 0
    assert "no sweep of this register has been confirmed yet" in (first.waiting.reason or "")
    assert all(sid in factory.state.subjects for sid in due)
    again = review.daily(ceo)  # every pass says so; the hold is recorded (and audited) once a day
    assert again.waiting is not None and len(held_entries(factory)) == 1
    assert held_entries(factory)[0] == {"day": "2026-11-25", "due": 2, "allowed": 2, "confirmed": False}
    assert sweep.run(ceo).done == 2  # the CEO's run: the confirmation
    assert sweep.unattended(ceo).confirmed and not sweep.unattended(ceo).waiting
    assert review.daily(ceo).swept is None  # swept today already


def test_within_the_limit_the_worker_sweeps_on_its_own_once_confirmed(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    _customers(ceo, 99)
    sweep.run(ceo)  # confirmed once, with nothing due: that is enough
    _bare(ceo, 2, 200)  # 2 of 101: the limit is 3 (2 %, rounded up)
    clock.advance(days=1)
    done = review.daily(ceo)
    assert done.waiting is None and done.swept is not None and done.swept.done == 2


def test_over_the_share_the_worker_does_nothing_until_the_ceo_runs_it(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    _customers(ceo, 90)
    sweep.run(ceo)
    due = _bare(ceo, 10, 200)  # 10 of 100: over 2 % (2 a day)
    clock.advance(days=1)
    for _pass in range(3):
        held = review.daily(ceo)
        assert held.waiting is not None and held.swept is not None and held.swept.done == 0
        assert (held.waiting.due, held.waiting.allowed, held.waiting.register) == (10, 2, 100)
        assert "more than the 2 the worker may archive or erase on its own" in held.waiting.message()
        assert "`personvern retention run`" in held.waiting.message()
    assert all(sid in factory.state.subjects for sid in due) and len(held_entries(factory)) == 1
    assert sweep.run(ceo).done == 10
    clock.advance(days=1)
    assert review.daily(ceo).waiting is None


def test_over_the_number_the_worker_waits_too(ceo: Context, clock: FixedClock) -> None:
    ctx = replace(ceo, policy=ceo.policy.model_copy(update={"unattended": Limit(max_percent=100, max_subjects=3)}))
    _customers(ctx, 10)
    sweep.run(ctx)
    _bare(ctx, 4, 100)
    assert not sweep.unattended(ctx).waiting  # swept today already: the worker has nothing to wait for
    clock.advance(days=1)
    state = sweep.unattended(ctx)
    assert state.waiting and (state.due, state.allowed) == (4, 3) and "at most 3" in (state.reason or "")


def test_nothing_due_is_no_wait(ceo: Context) -> None:
    _customers(ceo, 3)
    state = sweep.unattended(ceo)
    assert not state.waiting and state.reason is None and not state.confirmed
    assert review.daily(ceo).waiting is None


def test_only_the_role_that_runs_retention_may_see_the_state(as_role) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        sweep.unattended(as_role("staff"))
    record = sweep.unattended(as_role("ceo")).as_record()
    assert set(record) >= {"day", "due", "register", "allowed", "confirmed", "waiting", "reason"}
