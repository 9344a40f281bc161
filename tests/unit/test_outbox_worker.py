"""The outbox use cases and the worker, on the in-memory unit of work with scripted connectors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.connectors.worker import Worker
from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.domain.outbox import OutboxRow, OutboxState, RetryPolicy
from personvern.domain.sms import Encoding, Message, MessageStatus
from personvern.domain.subjects import Subject
from personvern.services import outbox
from personvern.services.context import Context
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

PHONE = "+4741000001"
POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=30), cap=timedelta(minutes=10))


@dataclass
class Scripted:
    """A connector that answers from a script: a result dict, or an exception to raise."""

    kind: str = "sms"
    script: list[Any] = field(default_factory=list)
    seen: list[OutboxRow] = field(default_factory=list)

    def deliver(self, row: OutboxRow) -> dict[str, Any]:
        self.seen.append(row)
        outcome = self.script.pop(0) if self.script else {"messageId": f"lm-{len(self.seen)}", "resultCode": 1005}
        if isinstance(outcome, BaseException):
            raise outcome
        return dict(outcome)


def queue(ctx: Context, factory: FakeUnitOfWorkFactory, n: int = 1, commit: bool = True) -> list[str]:
    """Subjects with one SMS each in the outbox, written as `sms send` writes them."""
    ids = []
    with factory() as uow:
        for i in range(n):
            sid = f"subject{i}"
            if uow.subjects.get(sid) is None:
                phone = f"+474100{i:04d}"
                uow.subjects.add([Subject(sid, "one_time_customer", {"phone": phone}, "test", NOW, NOW, NOW)])
            public = {"message_id": f"m{i}", "purpose": "service"}
            row = outbox.enqueue(ctx, uow, "sms", sid, public, {"destination": PHONE, "text": "Hei"})
            message = Message(f"m{i}", sid, row.id, "sms", "service", NOW, 1, Encoding.GSM7, MessageStatus.PENDING, NOW)
            uow.messages.add(message, "Hei")
            ids.append(row.id)
        if commit:
            uow.commit()
    return ids


def worker(ctx: Context, connector: Scripted, draw: Callable[[], float] = lambda: 0.5, **kw: Any) -> Worker:
    return Worker(ctx, {"sms": connector}, POLICY, draw, **kw)


def row(factory: FakeUnitOfWorkFactory, row_id: str) -> OutboxRow:
    return factory.state.outbox[row_id]


def message(factory: FakeUnitOfWorkFactory, outbox_id: str) -> Message:
    return next(m for m, _t in factory.state.messages.values() if m.outbox_id == outbox_id)


def actions(factory: FakeUnitOfWorkFactory) -> list[str]:
    return [e.action for e in factory.audit_entries()]


def test_a_row_is_written_only_with_its_cause(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    queue(ceo, factory, commit=False)
    assert factory.state.outbox == {}
    [row_id] = queue(ceo, factory)
    assert row(factory, row_id).state is OutboxState.PENDING


def test_delivery_drops_the_personal_part_and_records_the_answer(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    [row_id] = queue(ceo, factory)
    connector = Scripted()
    tally = worker(ceo, connector).run_once()
    assert (tally.delivered, tally.retrying, tally.dead, tally.waiting) == (1, 0, 0, 0)
    assert connector.seen[0].personal == {"destination": PHONE, "text": "Hei"}
    delivered = row(factory, row_id)
    assert delivered.state is OutboxState.DELIVERED
    assert delivered.personal is None
    assert delivered.result == {"messageId": "lm-1", "resultCode": 1005}
    assert delivered.public == {"message_id": "m0", "purpose": "service"}
    m = message(factory, row_id)
    assert (m.status, m.vendor_message_id, m.result_code) == (MessageStatus.QUEUED, "lm-1", 1005)
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.subject_id, entry.purpose) == ("outbox.deliver", "subject0", "service")
    assert entry.details == {"row": row_id, "kind": "sms", "recipient": "linkmobility", "attempt": 1}


def test_a_temporary_failure_is_retried_after_the_backoff(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    [row_id] = queue(ceo, factory)
    tally = worker(ceo, Scripted(script=[TemporaryFailure("LINK Mobility answered HTTP 503")])).run_once()
    assert tally.retrying == 1
    waiting = row(factory, row_id)
    assert (waiting.state, waiting.attempts, waiting.lease_until) == (OutboxState.PENDING, 1, None)
    assert waiting.next_attempt_at == NOW + timedelta(seconds=15)  # full jitter: 0.5 of the first 30 s
    assert waiting.last_error == "LINK Mobility answered HTTP 503"
    assert waiting.personal == {"destination": PHONE, "text": "Hei"}  # still needed
    assert message(factory, row_id).status is MessageStatus.PENDING


def test_retry_after_is_honoured(ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    [row_id] = queue(ceo, factory)
    connector = Scripted(script=[TemporaryFailure("HTTP 503", retry_after=600)])
    worker(ceo, connector).run_once()
    assert row(factory, row_id).next_attempt_at == NOW + timedelta(minutes=10)
    clock.advance(minutes=9)
    assert worker(ceo, connector).run_once().handled == 0
    clock.advance(minutes=1)
    assert worker(ceo, connector).run_once().delivered == 1


def test_after_n_attempts_the_row_is_dead_and_the_message_failed(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    [row_id] = queue(ceo, factory)
    connector = Scripted(script=[TemporaryFailure("timed out")] * 5)
    for _ in range(POLICY.max_attempts):
        worker(ceo, connector).run_once()
        clock.advance(hours=1)
    dead = row(factory, row_id)
    assert (dead.state, dead.attempts) == (OutboxState.DEAD, 3)
    assert dead.last_error == "gave up after 3 attempts; last error: timed out"
    m = message(factory, row_id)
    assert (m.status, m.status_text) == (MessageStatus.FAILED, dead.last_error)
    assert actions(factory)[-1] == "outbox.dead"
    assert worker(ceo, connector).run_once().handled == 0  # dead rows are not tried again
    assert len(connector.seen) == 3


def test_a_permanent_failure_is_dead_at_once(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    [row_id] = queue(ceo, factory)
    reason = "LINK Mobility refused the credentials: check PERSONVERN_LINKMOBILITY_USER (HTTP 401, code 106100)"
    tally = worker(ceo, Scripted(script=[PermanentFailure(reason)])).run_once()
    assert tally.dead == 1 and tally.errors == [reason]
    assert row(factory, row_id).last_error == f"refused, not retried: {reason}"


def test_without_credentials_rows_wait_uncounted(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    ids = queue(ceo, factory, 2)
    missing = WaitingForCredentials(["PERSONVERN_LINKMOBILITY_USER", "PERSONVERN_LINKMOBILITY_PASSWORD"])
    tally = worker(ceo, Scripted(script=[missing, missing])).run_once()
    assert (tally.waiting, tally.errors) == (2, [missing.reason])
    for row_id in ids:
        waiting = row(factory, row_id)
        assert (waiting.state, waiting.attempts) == (OutboxState.PENDING, 0)
        assert waiting.last_error == (
            "waiting for credentials: set PERSONVERN_LINKMOBILITY_USER, PERSONVERN_LINKMOBILITY_PASSWORD"
        )


def test_a_kind_without_a_connector_waits(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    [row_id] = queue(ceo, factory)
    tally = Worker(ceo, {}, POLICY).run_once()
    assert tally.waiting == 1
    assert row(factory, row_id).last_error == "no connector delivers 'sms' rows"


def test_a_bug_in_a_connector_is_retried_not_fatal(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    queue(ceo, factory, 2)
    connector = Scripted(script=[KeyError("destination")])
    tally = worker(ceo, connector).run_once()
    assert (tally.retrying, tally.delivered) == (1, 1)
    assert row(factory, connector.seen[0].id).last_error == "unexpected KeyError in the sms connector"


def test_one_pass_tries_each_due_row_once_in_batches(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    queue(ceo, factory, 7)
    connector = Scripted(script=[TemporaryFailure("HTTP 500")] * 7)
    tally = worker(ceo, connector, lambda: 0.0, batch=3).run_once()  # the floor: due again one second later
    assert tally.retrying == 7
    assert len(connector.seen) == 7


def test_a_leased_row_is_not_claimed_again_until_the_lease_runs_out(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    [row_id] = queue(ceo, factory)
    [claimed] = outbox.claim_due(ceo, 10, timedelta(minutes=5))
    assert claimed.lease_until == NOW + timedelta(minutes=5)
    assert outbox.claim_due(ceo, 10, timedelta(minutes=5)) == []
    clock.advance(minutes=5)
    [again] = outbox.claim_due(ceo, 10, timedelta(minutes=5))
    assert again.id == row_id
    # The first claimer comes back late: its failure is not recorded over the second claimer's lease ...
    assert outbox.record_failure(ceo, claimed, "late", POLICY, lambda: 0.5) is None
    assert row(factory, row_id).attempts == 0
    # ... and a delivery is recorded once, whoever reports it first.
    assert outbox.record_delivered(ceo, again, {"messageId": "lm-1"})
    assert not outbox.record_delivered(ceo, claimed, {"messageId": "lm-2"})
    assert row(factory, row_id).result == {"messageId": "lm-1"}


def test_a_delivery_report_that_came_first_is_not_overwritten(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    [row_id] = queue(ceo, factory)
    m = message(factory, row_id)
    with factory() as uow:
        uow.messages.set_status(m.id, MessageStatus.DELIVERED, NOW, result_code=1001, status_text="delivered")
        uow.commit()
    worker(ceo, Scripted()).run_once()
    after = message(factory, row_id)
    assert (after.status, after.result_code, after.vendor_message_id) == (MessageStatus.DELIVERED, 1001, "lm-1")


def test_list_and_retry(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    queue(ceo, factory, 3)
    connector = Scripted(script=[PermanentFailure("refused"), TemporaryFailure("HTTP 502")])
    worker(ceo, connector).run_once()
    dead, retrying, delivered = (r.id for r in connector.seen)
    assert {r.id for r in outbox.list_outbox(ceo).rows} == {dead, retrying}
    assert [r.id for r in outbox.list_outbox(ceo, dead_only=True).rows] == [dead]
    assert outbox.list_outbox(ceo, everything=True).total == 3
    assert all(r.personal is None for r in outbox.list_outbox(ceo, everything=True).rows)
    every = [r.id for r in outbox.list_outbox(ceo, everything=True).rows]
    paged = outbox.list_outbox(ceo, everything=True, limit=2, offset=1)
    assert ([r.id for r in paged.rows], paged.total) == (every[1:3], 3)
    with pytest.raises(InvalidInput, match="limit"):
        outbox.list_outbox(ceo, limit=0)
    with pytest.raises(InvalidInput, match="offset"):
        outbox.list_outbox(ceo, offset=-1)

    revived = outbox.retry_dead(ceo, dead)
    assert (revived.state, revived.attempts, revived.next_attempt_at) == (OutboxState.PENDING, 0, NOW)
    assert message(factory, dead).status is MessageStatus.PENDING
    assert actions(factory)[-1] == "outbox.retry"
    with pytest.raises(Conflict, match="is pending; only a dead row can be retried"):
        outbox.retry_dead(ceo, dead)
    with pytest.raises(Conflict, match="is delivered"):
        outbox.retry_dead(ceo, delivered)
    with pytest.raises(NotFound, match="no outbox row with id nope"):
        outbox.retry_dead(ceo, "nope")
    assert worker(ceo, Scripted()).run_once().delivered == 1  # the retrying row is not due yet


@pytest.mark.parametrize("role", ["marketing", "auditor"])
def test_roles_without_outbox_access(as_role: Callable[[str], Context], role: str) -> None:
    ctx = as_role(role)
    with pytest.raises(Forbidden):
        outbox.list_outbox(ctx)
    with pytest.raises(Forbidden):
        outbox.retry_dead(ctx, "x")
    with pytest.raises(Forbidden):
        Worker(ctx, {}, POLICY).run_once()


def test_forget_subject_stops_its_rows(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    [row_id] = queue(ceo, factory)
    with factory() as uow:
        assert uow.outbox.forget_subject("subject0", "the subject was erased") == 1
        uow.commit()
    assert row(factory, row_id).state is OutboxState.DEAD
    assert worker(ceo, Scripted()).run_once().handled == 0
