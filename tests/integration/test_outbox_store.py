"""The outbox on SQLite and PostgreSQL: sealed personal parts, scrubbing, concurrent workers, SKIP LOCKED, dead rows."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from personvern.bootstrap import Runtime
from personvern.connectors.errors import PermanentFailure, TemporaryFailure
from personvern.connectors.worker import Worker
from personvern.domain.outbox import OutboxRow, OutboxState, RetryPolicy
from personvern.domain.sms import Encoding, Message, MessageStatus
from personvern.services import outbox, register
from personvern.services.context import Context
from personvern.store import tables as t
from personvern.store.outbox_repo import drop_texts_statement
from tests.integration.test_retention_store import _plan
from tests.integration.test_store import _every_stored_value
from tests.unit.fakes import FixedClock

TEXT = "Nøkkelkortet til kontor 417 ligger i resepsjonen"
POLICY = RetryPolicy(max_attempts=3)


class Recording:
    """A connector that records every row it is handed (from any thread) and accepts it, or fails as told."""

    kind = "sms"

    def __init__(self, fail: Exception | None = None, pause: float = 0.0) -> None:
        self.fail = fail
        self.pause = pause
        self.seen: list[OutboxRow] = []
        self.lock = threading.Lock()

    def deliver(self, row: OutboxRow) -> dict[str, Any]:
        with self.lock:
            self.seen.append(row)
        time.sleep(self.pause)  # lets the other worker's claims interleave with this one's deliveries
        if self.fail is not None:
            raise self.fail
        return {"messageId": f"lm-{row.id[-6:]}", "resultCode": 1005, "description": "Queued"}


@pytest.fixture
def clock(runtime: Runtime) -> FixedClock:
    assert runtime.settings.now is not None
    return FixedClock(runtime.settings.now)


@pytest.fixture
def ctx(runtime: Runtime, clock: FixedClock) -> Context:
    return Context(runtime.policy.policy, runtime.uow, clock, runtime.actor)


def queue(ctx: Context, n: int) -> list[str]:
    """n subjects with a service SMS each, written the way `sms send` writes them: in one transaction."""
    ids = []
    for i in range(n):
        values = {"full_name": f"Kari {i} Nordmann", "phone": f"4{1_000_000 + i:07d}", "email": f"k{i}@example.no"}
        subject = register.add_subject(ctx, "one_time_customer", values, {})
        with ctx.uow() as uow:
            public = {"message_id": f"m{i}", "purpose": "service"}
            personal = {"destination": subject.values["phone"], "text": TEXT}
            row = outbox.enqueue(ctx, uow, "sms", subject.id, public, personal)
            message = Message(
                f"m{i}", subject.id, row.id, "sms", "service", row.created_at, 1, Encoding.GSM7, MessageStatus.PENDING,
                row.created_at,
            )  # fmt: skip
            uow.messages.add(message, TEXT)
            uow.commit()
        ids.append(row.id)
    return ids


def stored_row(runtime: Runtime, row_id: str) -> Any:
    with runtime.engine.connect() as conn:
        return conn.execute(select(t.outbox).where(t.outbox.c.id == row_id)).one()


def has_key(runtime: Runtime, owner: str) -> bool:
    with runtime.engine.connect() as conn:
        return conn.execute(select(t.data_keys.c.owner_id).where(t.data_keys.c.owner_id == owner)).first() is not None


def test_the_personal_part_is_sealed_and_gone_after_delivery(runtime: Runtime, ctx: Context) -> None:
    [row_id] = queue(ctx, 1)
    stored = b"\n".join(_every_stored_value(runtime))
    for secret in ("41000000", "Nøkkelkortet", "kontor 417"):
        assert secret.encode() not in stored, secret
    pending = json.loads(stored_row(runtime, row_id).payload)
    assert set(pending) == {"public", "sealed"}
    assert has_key(runtime, row_id)

    connector = Recording()
    assert Worker(ctx, {"sms": connector}, POLICY).run_once().delivered == 1
    assert connector.seen[0].personal == {"destination": "+4741000000", "text": TEXT}

    row = stored_row(runtime, row_id)
    assert row.state == "delivered"
    assert json.loads(row.payload) == {"public": {"message_id": "m0", "purpose": "service"}}
    assert json.loads(row.result)["messageId"] == f"lm-{row_id[-6:]}"
    assert row.idempotency_key == row_id
    assert not has_key(runtime, row_id)  # crypto-shredded: a backup's copy of the sealed part opens no more
    with ctx.uow() as uow:
        message = uow.messages.for_outbox(row_id)
        assert message is not None
        assert (message.status, message.vendor_message_id) == (MessageStatus.QUEUED, f"lm-{row_id[-6:]}")
        assert uow.messages.text(message.id) == TEXT  # the log keeps it, under the subject's own key


def test_two_workers_at_once_never_deliver_a_row_twice(runtime: Runtime, ctx: Context) -> None:
    ids = queue(ctx, 24)
    connector = Recording(pause=0.005)
    workers = [Worker(ctx, {"sms": connector}, POLICY, batch=3) for _ in range(2)]
    tallies: list[Any] = []
    threads = [threading.Thread(target=lambda w=w: tallies.append(w.run_once())) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(t.delivered for t in tallies) and sum(t.delivered for t in tallies) == 24
    assert Counter(r.id for r in connector.seen) == Counter(ids)  # each exactly once
    with ctx.uow() as uow:
        assert uow.outbox.count([OutboxState.DELIVERED]) == 24


def test_claims_pass_over_rows_another_transaction_holds(runtime: Runtime, ctx: Context, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; on SQLite the claim transaction is the only writer")
    ids = queue(ctx, 3)
    held = sorted(ids)[0]
    with runtime.engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": held})
        claimed: list[OutboxRow] = []
        claimer = threading.Thread(target=lambda: claimed.extend(outbox.claim_due(ctx, 10, timedelta(minutes=5))))
        claimer.start()
        claimer.join(timeout=10)
        assert not claimer.is_alive(), "the claim waited for the locked row instead of skipping it"
    assert sorted(r.id for r in claimed) == sorted(set(ids) - {held})
    assert stored_row(runtime, held).lease_until is None


@pytest.fixture
def backend(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgresql"


def test_dead_rows_and_retry(runtime: Runtime, ctx: Context, clock: FixedClock) -> None:
    [refused, flaky] = queue(ctx, 2)
    reason = "LINK Mobility refused the credentials: check PERSONVERN_LINKMOBILITY_USER (HTTP 401, code 106100)"

    class Mixed(Recording):
        def deliver(self, row: OutboxRow) -> dict[str, Any]:
            self.fail = PermanentFailure(reason) if row.id == refused else TemporaryFailure("HTTP 503", 60)
            return super().deliver(row)

    connector = Mixed()
    for _ in range(POLICY.max_attempts):
        Worker(ctx, {"sms": connector}, POLICY).run_once()
        clock.advance(minutes=5)
    dead = {r.id: r for r in outbox.list_outbox(ctx, dead_only=True).rows}
    assert set(dead) == {refused, flaky}
    assert dead[refused].last_error == f"refused, not retried: {reason}"
    assert dead[refused].attempts == 1
    assert dead[flaky].last_error == "gave up after 3 attempts; last error: HTTP 503"
    assert has_key(runtime, flaky)  # kept for a retry
    with ctx.uow() as uow:
        message = uow.messages.for_outbox(refused)
        assert message is not None and message.status is MessageStatus.FAILED

    outbox.retry_dead(ctx, refused)
    assert Worker(ctx, {"sms": Recording()}, POLICY).run_once().delivered == 1
    assert stored_row(runtime, refused).state == "delivered"
    with ctx.uow() as uow:
        message = uow.messages.for_outbox(refused)
        assert message is not None and message.status is MessageStatus.QUEUED


def test_a_late_worker_cannot_overwrite_the_next_claim(runtime: Runtime, ctx: Context, clock: FixedClock) -> None:
    [row_id] = queue(ctx, 1)
    [first] = outbox.claim_due(ctx, 10, timedelta(minutes=5))
    clock.advance(minutes=6)
    [second] = outbox.claim_due(ctx, 10, timedelta(minutes=5))
    assert second.lease_until is not None and first.lease_until is not None
    assert second.lease_until > first.lease_until
    assert outbox.record_failure(ctx, first, "late", POLICY, lambda: 0.5) is None
    assert stored_row(runtime, row_id).attempts == 0
    assert outbox.record_failure(ctx, second, "HTTP 500", POLICY, lambda: 0.5) is not None
    assert stored_row(runtime, row_id).attempts == 1


def test_forgetting_a_subject_destroys_its_undelivered_rows(runtime: Runtime, ctx: Context) -> None:
    [row_id] = queue(ctx, 1)
    subject_id = stored_row(runtime, row_id).subject_id
    with ctx.uow() as uow:
        assert uow.outbox.forget_subject(subject_id, "the subject was erased") == 1
        uow.commit()
    row = stored_row(runtime, row_id)
    assert (row.state, row.last_error) == ("dead", "the subject was erased")
    assert "sealed" not in json.loads(row.payload)
    assert not has_key(runtime, row_id)


def test_dropping_old_texts_reads_only_the_texts_still_held(runtime: Runtime, ctx: Context, clock: FixedClock) -> None:
    queue(ctx, 3)
    plan = _plan(runtime, drop_texts_statement(clock.now()))
    assert "ix_messages_text_held" in plan, plan
    with ctx.uow() as uow:
        assert uow.messages.drop_texts_before(clock.now()) == 0  # sent just now: kept
        assert uow.messages.drop_texts_before(clock.now() + timedelta(seconds=1)) == 3
        assert uow.messages.drop_texts_before(clock.now() + timedelta(seconds=1)) == 0
        assert [uow.messages.text(f"m{i}") for i in range(3)] == [None, None, None]
        uow.commit()
