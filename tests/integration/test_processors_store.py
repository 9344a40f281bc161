"""Outbox.for_subject and processor rows on SQLite and PostgreSQL: one indexed query; deletions outlive the subject."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, text

from personvern.bootstrap import Runtime
from personvern.domain.outbox import OutboxState
from personvern.services import consent, outbox, processors, register
from personvern.services.context import Context
from personvern.services.processors import ProcessorNotice, Transfer
from tests.unit.fakes import FixedClock

KARI = {"full_name": "Kari Nordmann", "phone": "41000001", "email": "kari@example.no"}
OLA = {"full_name": "Ola Hansen", "phone": "41000002", "email": "ola@example.no"}


@pytest.fixture
def clock(runtime: Runtime) -> FixedClock:
    assert runtime.settings.now is not None
    return FixedClock(runtime.settings.now)


@pytest.fixture
def ctx(runtime: Runtime, clock: FixedClock) -> Context:
    return Context(runtime.policy.policy, runtime.uow, clock, runtime.actor, policy_sha256=runtime.policy.sha256)


def test_for_subject_lists_every_state_oldest_first_without_the_personal_part(
    ctx: Context, runtime: Runtime, clock: FixedClock
) -> None:
    kari = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    ola = register.add_subject(ctx, "one_time_customer", OLA, {}).id
    ids = []
    with runtime.uow() as uow:
        for n in range(3):
            ids.append(outbox.enqueue(ctx, uow, "sms", kari, {"purpose": "service", "n": n}, {"destination": "x"}).id)
            clock.advance(seconds=1)
        outbox.enqueue(ctx, uow, "sms", ola, {"purpose": "service"}, {"destination": "y"})
        outbox.enqueue(ctx, uow, "hubspot.delete", None, {"subject": kari}, {"email": "kari@example.no"})
        uow.commit()
    with runtime.uow() as uow:
        uow.outbox.mark_delivered(ids[0], clock.now(), {"messageId": "lm-1"})
        uow.outbox.mark_dead(ids[1], None, 1, "refused")
        uow.commit()
    with runtime.uow() as uow:
        found = uow.outbox.for_subject(kari)
        assert uow.outbox.for_subject("nobody") == []
    assert [r.id for r in found] == ids
    assert [r.state for r in found] == [OutboxState.DELIVERED, OutboxState.DEAD, OutboxState.PENDING]
    assert [r.public["n"] for r in found] == [0, 1, 2]
    assert found[0].result == {"messageId": "lm-1"} and found[0].delivered_at == clock.now()
    assert all(r.personal is None for r in found)


def test_for_subject_is_one_query_on_the_subject_index(runtime: Runtime, backend_name: str) -> None:
    indexes = inspect(runtime.engine).get_indexes("outbox")
    assert any(i["column_names"] == ["subject_id"] for i in indexes)
    if backend_name == "sqlite":
        with runtime.engine.connect() as conn:
            plan = " ".join(
                str(r[-1])
                for r in conn.execute(
                    text("EXPLAIN QUERY PLAN SELECT * FROM outbox WHERE subject_id = 'x' ORDER BY created_at, id")
                )
            )
        assert "USING INDEX" in plan and "subject_id" in plan, plan


@pytest.fixture
def backend_name(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


def test_transfers_and_an_erasure_whose_deletion_outlives_the_subject(
    ctx: Context, runtime: Runtime, clock: FixedClock
) -> None:
    kari = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    consent.give_consent(ctx, kari, "marketing", "email", "web")
    with runtime.uow() as uow:
        [share] = uow.outbox.for_subject(kari)
        assert processors.transfers(uow, kari) == [
            Transfer("hubspot", ("hubspot.upsert",), ("email", "full_name", "phone"), clock.now(), clock.now(), 0, 1)
        ]
        subject = uow.subjects.get(kari)
        assert subject is not None
        notices = processors.propagate_erasure(ctx, uow, subject)
        uow.subjects.erase(kari)
        assert uow.outbox.forget_subject(kari, "the subject was erased") == 1  # the share, not the deletion
        uow.commit()
    assert ProcessorNotice("hubspot", "deletion queued") in notices
    with runtime.uow() as uow:
        assert uow.outbox.get(share.id).state is OutboxState.DEAD  # type: ignore[union-attr]
        later = clock.now() + timedelta(minutes=10)
        [deletion] = uow.outbox.claim(later, later, later + timedelta(minutes=5), 10)
        uow.commit()
    assert (deletion.kind, deletion.subject_id, deletion.public["subject"]) == ("hubspot.delete", None, kari)
    assert deletion.personal == {"email": "kari@example.no"}  # sealed under the row's own key, still readable


def test_cancel_leaves_nothing_to_send_even_if_revived(ctx: Context, runtime: Runtime, clock: FixedClock) -> None:
    kari = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    with runtime.uow() as uow:
        row = outbox.enqueue(ctx, uow, "hubspot.upsert", kari, {"reason": "share"}, {"email": "kari@example.no"})
        uow.commit()
    with runtime.uow() as uow:
        assert uow.outbox.cancel(row.id, "called off: consent withdrawn before it was delivered")
        assert not uow.outbox.cancel(row.id, "again")  # no longer pending
        uow.commit()
    with runtime.uow() as uow:
        assert uow.outbox.get(row.id).state is OutboxState.DEAD  # type: ignore[union-attr]
        assert uow.outbox.revive(row.id, clock.now())
        [again] = uow.outbox.claim(clock.now(), clock.now(), clock.now() + timedelta(minutes=5), 10)
        uow.commit()
    assert (again.id, again.personal, again.public) == (row.id, {}, {"reason": "share"})
