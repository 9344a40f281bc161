"""The public page's storage on SQLite and PostgreSQL: rate-limit windows, codes as digests, and the daily upkeep."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from personvern.bootstrap import FixedClock, Runtime
from personvern.domain.otp import Challenge, Limit, PendingRequest
from personvern.services import public
from personvern.store import tables as t

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_rate_limit_windows_count_and_start_afresh(runtime: Runtime) -> None:
    limit = Limit("client", 3, timedelta(hours=1))
    with runtime.uow() as uow:
        counts = [uow.rate_limits.hit("client:x", limit.window_start(NOW)) for _ in range(4)]
        later = uow.rate_limits.hit("client:x", limit.window_start(NOW + timedelta(hours=1)))
        other = uow.rate_limits.hit("client:y", limit.window_start(NOW))
        uow.commit()
    assert counts == [1, 2, 3, 4] and later == 1 and other == 1
    assert limit.retry_after(NOW) == 3601  # NOW is on the hour: the whole window is left, and a second


def test_a_code_opens_only_its_own_row_and_is_stored_as_a_digest(runtime: Runtime) -> None:
    pending = PendingRequest("a1", "access", "nb", "sms", NOW, Challenge(NOW + timedelta(minutes=10), 0, False))
    with runtime.uow() as uow:
        uow.public_requests.add(pending, {"sms": "+4741234567"}, None, "123456")
        uow.public_requests.add(replace(pending, id="b2"), {"sms": "+4741234567"}, None, "654321")
        uow.commit()
    with runtime.uow() as uow:
        assert uow.public_requests.matches("a1", "123456") and not uow.public_requests.matches("a1", "654321")
        assert uow.public_requests.identity("a1") == {"sms": "+4741234567"}
        stored = uow._conn.execute(select(t.public_requests.c.code_digest)).scalars().all()
    assert all(len(d) == 64 and "123456" not in d for d in stored)


def test_upkeep_drops_unconfirmed_codes_with_their_keys_and_closes_ended_links(runtime: Runtime) -> None:
    ctx = replace(runtime.context(), clock=FixedClock(NOW))
    asked = public.ask(ctx, "access", phone="+4741234567", client="127.0.0.1")
    with runtime.uow() as uow:
        assert uow.public_requests.get(asked.pending_id) is not None
        keys_before = uow._conn.execute(select(func.count()).select_from(t.data_keys)).scalar_one()
    later = replace(ctx, clock=FixedClock(NOW + timedelta(days=2)))
    done = public.upkeep(later)
    assert done.codes_expired == 1 and done.limits_forgotten >= 3
    with runtime.uow() as uow:
        assert uow.public_requests.get(asked.pending_id) is None
        keys_after = uow._conn.execute(select(func.count()).select_from(t.data_keys)).scalar_one()
    # The pending row's key went with it; the outbox row that carries the code keeps its own until delivery.
    assert keys_after == keys_before - 1
