"""Whether a queued row may still go: withdrawal, objection and restriction cancel it, and the worker asks again."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.connectors.worker import Worker
from personvern.domain.access import Actor
from personvern.domain.consent import Block, BlockKind
from personvern.domain.errors import Conflict, Forbidden
from personvern.domain.outbox import OutboxRow, OutboxState, RetryPolicy
from personvern.domain.sms import InboundSms, MessageStatus
from personvern.policy.schema import Policy
from personvern.services import consent, messaging, outbox, register
from personvern.services.context import Context
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

NOTICE = "7" * 64
PHONE = "+4791234567"
KARI = {"full_name": "Kari Nordmann", "phone": PHONE, "email": "kari@example.no"}
POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=30), cap=timedelta(minutes=10))
HUBSPOT_KINDS = ("hubspot.upsert", "hubspot.unsubscribe", "hubspot.delete")


@dataclass
class Recording:
    """A connector for every kind that records what it was handed, or raises what it is told to."""

    raises: BaseException | None = None
    seen: list[OutboxRow] = field(default_factory=list)

    def deliver(self, row: OutboxRow) -> dict[str, Any]:
        if self.raises is not None:
            raise self.raises
        self.seen.append(row)
        return {"messageId": f"lm-{len(self.seen)}", "resultCode": 1005}


@pytest.fixture
def ctx(policy: Policy, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> Context:
    return Context(policy, factory, clock, Actor("ceo-user", "ceo"), policy_sha256=NOTICE)


@pytest.fixture
def kari(ctx: Context) -> str:
    sid = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    register.start_relationship(ctx, sid, "order")
    return sid


def worker(ctx: Context, connector: Recording) -> Worker:
    return Worker(ctx, dict.fromkeys(("sms", *HUBSPOT_KINDS), connector), POLICY, lambda: 0.5)


def state(factory: FakeUnitOfWorkFactory, row_id: str) -> OutboxRow:
    return factory.state.outbox[row_id]


def message_status(factory: FakeUnitOfWorkFactory, row_id: str) -> tuple[MessageStatus, str | None]:
    m = next(m for m, _t in factory.state.messages.values() if m.outbox_id == row_id)
    return m.status, m.status_text


def marketing_sms(ctx: Context, sid: str) -> str:
    consent.give_consent(ctx, sid, "marketing", "sms", "web")
    return messaging.send_sms(ctx, sid, "marketing", "Tilbud!").outbox_id


def share(ctx: Context, factory: FakeUnitOfWorkFactory, sid: str) -> str:
    consent.give_consent(ctx, sid, "marketing", "email", "web")
    [row] = [r for r in factory.state.outbox.values() if r.kind == "hubspot.upsert" and r.state is OutboxState.PENDING]
    return row.id


# ---------------------------------------------------------------- cancelled with the change that forbids it


STOPS: dict[str, Callable[[Context, str], object]] = {
    "withdrawal": lambda ctx, sid: consent.withdraw_consent(ctx, sid, "marketing", "sms", "web"),
    "STOPP reply": lambda ctx, sid: messaging.handle_inbound(ctx, InboundSms(PHONE, "Stopp.")),
    "objection": lambda ctx, sid: consent.object_to(ctx, sid, "marketing"),
    "restriction": lambda ctx, sid: consent.restrict(ctx, sid),
}
REASONS = {
    "withdrawal": "consent to marketing by sms was withdrawn on 2026-11-25",
    "STOPP reply": "consent to marketing by sms was withdrawn on 2026-11-25",
    "objection": "the person objected to marketing on 2026-11-25 (Art. 21(3): absolute for direct marketing)",
    "restriction": "processing is restricted (Art. 18) since 2026-11-25",
}


@pytest.mark.parametrize("how", list(STOPS))
def test_a_queued_marketing_sms_is_cancelled_in_the_same_transaction(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, how: str
) -> None:
    row_id = marketing_sms(ctx, kari)
    # It waited out a back-off first: still pending, not leased.
    worker(ctx, Recording(TemporaryFailure("HTTP 503"))).run_once()
    commits = factory.commits
    STOPS[how](ctx, kari)
    assert factory.commits == commits + 1  # one transaction: the change and the cancellation
    cancelled = state(factory, row_id)
    assert (cancelled.state, cancelled.last_error) == (OutboxState.DEAD, f"cancelled: {REASONS[how]}")
    assert cancelled.personal == {}  # the number and the text are destroyed with the row's key
    assert message_status(factory, row_id) == (MessageStatus.CANCELLED, f"cancelled: {REASONS[how]}")
    [entry] = [e for e in factory.audit_entries() if e.action == "outbox.cancel"]
    assert (entry.subject_id, entry.purpose) == (kari, "marketing")
    assert entry.details == {"row": row_id, "kind": "sms", "recipient": "linkmobility", "reason": REASONS[how]}
    assert PHONE not in json.dumps([dict(e.details) for e in factory.audit_entries()])
    connector = Recording()
    assert worker(ctx, connector).run_once().handled == 0
    assert connector.seen == []


@pytest.mark.parametrize("how", ["withdrawal", "STOPP reply", "objection"])
def test_marketing_stopping_leaves_service_sms_alone(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, how: str
) -> None:
    consent.give_consent(ctx, kari, "marketing", "sms", "web")
    row_id = messaging.send_sms(ctx, kari, "service", "Nøkkelkortet er klart").outbox_id
    STOPS[how](ctx, kari)
    assert state(factory, row_id).state is OutboxState.PENDING
    assert worker(ctx, Recording()).run_once().delivered == 1


def test_a_restriction_cancels_service_sms_and_hubspot_shares_but_holds_a_correction(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, clock: FixedClock
) -> None:
    shared = share(ctx, factory, kari)
    worker(ctx, Recording()).run_once()  # HubSpot now holds the person: a correction is owed to it
    register.update_subject(ctx, kari, {"full_name": "Kari Hansen"}, [], {})
    [correction] = [r.id for r in factory.state.outbox.values() if r.public.get("reason") == "rectification"]
    service = messaging.send_sms(ctx, kari, "service", "Nøkkelkortet er klart").outbox_id
    consent.restrict(ctx, kari)
    assert state(factory, shared).state is OutboxState.DELIVERED
    assert (state(factory, service).state, state(factory, service).last_error) == (
        OutboxState.DEAD,
        "cancelled: processing is restricted (Art. 18) since 2026-11-25",
    )
    assert state(factory, correction).state is OutboxState.PENDING  # Art. 19: owed, and held, not lost
    connector = Recording()
    tally = worker(ctx, connector).run_once()
    # HubSpot holds the person: it is told to send no more email (Art. 18(2), 19); the correction waits.
    assert (tally.delivered, tally.waiting) == (1, 1)
    assert [(r.kind, r.public["reason"]) for r in connector.seen] == [("hubspot.unsubscribe", "restriction")]
    connector.seen.clear()
    held = state(factory, correction)
    assert held.last_error == "held: processing is restricted (Art. 18) since 2026-11-25; goes when it is lifted"
    assert held.attempts == 0
    consent.restrict(ctx, kari, lift=True)
    clock.advance(minutes=1)
    assert worker(ctx, connector).run_once().delivered == 1
    assert [r.id for r in connector.seen] == [correction]


# ---------------------------------------------------------------- asked again just before sending


def _withdraw_behind_the_services_back(ctx: Context, factory: FakeUnitOfWorkFactory, sid: str) -> None:
    with factory() as uow:
        uow.blocks.add(Block("b1", sid, BlockKind.RESTRICTION, None, NOW, "someone", None))
        uow.commit()


def test_the_worker_asks_again_for_a_row_it_already_claimed(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    row_id = marketing_sms(ctx, kari)
    [claimed] = outbox.claim_due(ctx, 5, timedelta(minutes=5))
    # Withdrawn while a worker holds the row: the withdrawal leaves it to the worker ...
    consent.withdraw_consent(ctx, kari, "marketing", "sms", "web")
    assert state(factory, row_id).state is OutboxState.PENDING
    # ... which asks again before it sends, and cancels it.
    connector = Recording()
    tally = worker(ctx, connector).deliver(claimed)
    assert (tally.cancelled, tally.delivered, connector.seen) == (1, 0, [])
    assert state(factory, row_id).last_error == "cancelled: consent to marketing by sms was withdrawn on 2026-11-25"


@pytest.mark.parametrize("kind", ["sms marketing", "sms service", "hubspot share"])
def test_a_row_no_longer_allowed_is_cancelled_by_the_worker(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, kind: str
) -> None:
    if kind == "sms marketing":
        row_id = marketing_sms(ctx, kari)
    elif kind == "sms service":
        row_id = messaging.send_sms(ctx, kari, "service", "Hei").outbox_id
    else:
        row_id = share(ctx, factory, kari)
    _withdraw_behind_the_services_back(ctx, factory, kari)
    connector = Recording()
    tally = worker(ctx, connector).run_once()
    assert (tally.cancelled, tally.delivered, connector.seen) == (1, 0, [])
    assert state(factory, row_id).last_error == "cancelled: processing is restricted (Art. 18) since 2026-11-25"


def test_a_row_of_an_erased_person_is_cancelled(ctx: Context, factory: FakeUnitOfWorkFactory, kari: str) -> None:
    row_id = messaging.send_sms(ctx, kari, "service", "Hei").outbox_id
    with factory() as uow:
        uow.subjects.erase(kari)
        uow.commit()
    assert worker(ctx, Recording()).run_once().cancelled == 1
    assert state(factory, row_id).last_error == "cancelled: the person is no longer in the register"


def test_unsubscribe_and_delete_still_go(ctx: Context, factory: FakeUnitOfWorkFactory, kari: str) -> None:
    share(ctx, factory, kari)
    worker(ctx, Recording()).run_once()
    consent.object_to(ctx, kari, "marketing")
    consent.restrict(ctx, kari)
    connector = Recording()
    assert worker(ctx, connector).run_once().delivered == 1
    assert [r.kind for r in connector.seen] == ["hubspot.unsubscribe"]


def test_retry_of_a_row_no_longer_allowed_is_refused(ctx: Context, factory: FakeUnitOfWorkFactory, kari: str) -> None:
    row_id = marketing_sms(ctx, kari)
    worker(ctx, Recording(PermanentFailure("refused credentials"))).run_once()
    assert state(factory, row_id).state is OutboxState.DEAD
    consent.withdraw_consent(ctx, kari, "marketing", "sms", "web")
    commits = factory.commits
    with pytest.raises(Forbidden, match=f"outbox row {row_id} may no longer be sent: consent to marketing by sms"):
        outbox.retry_dead(ctx, row_id)
    assert factory.commits == commits
    assert state(factory, row_id).state is OutboxState.DEAD


def test_retry_then_withdrawal_is_caught_by_the_worker(ctx: Context, factory: FakeUnitOfWorkFactory, kari: str) -> None:
    row_id = marketing_sms(ctx, kari)
    worker(ctx, Recording(PermanentFailure("refused credentials"))).run_once()
    outbox.retry_dead(ctx, row_id)
    [claimed] = outbox.claim_due(ctx, 5, timedelta(minutes=5))
    consent.object_to(ctx, kari, "marketing")
    connector = Recording()
    assert worker(ctx, connector).deliver(claimed).cancelled == 1
    assert connector.seen == []


# ---------------------------------------------------------------- waiting for credentials, and what is left


def test_rows_that_waited_for_credentials_go_as_soon_as_they_are_set(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    ids = [messaging.send_sms(ctx, kari, "service", f"Hei {n}").outbox_id for n in range(7)]
    missing = WaitingForCredentials(["PERSONVERN_LINKMOBILITY_USER"])
    waiting = worker(ctx, Recording(missing)).run_once()
    assert (waiting.waiting, waiting.pending, waiting.next_attempt_at) == (7, 7, None)
    for row_id in ids:  # each says why, even those the pass did not need to try
        assert state(factory, row_id).last_error == missing.reason
        assert state(factory, row_id).attempts == 0
    # The credentials are set: the very next pass, at the same instant, delivers them all.
    connector = Recording()
    done = worker(ctx, connector).run_once()
    assert (done.delivered, done.waiting, done.pending) == (7, 0, 0)
    assert sorted(r.id for r in connector.seen) == sorted(ids)


def test_a_pass_says_how_many_rows_are_left_and_when_the_next_is_due(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    messaging.send_sms(ctx, kari, "service", "Hei")
    tally = worker(ctx, Recording(TemporaryFailure("HTTP 503"))).run_once()
    assert (tally.retrying, tally.pending, tally.next_attempt_at) == (1, 1, NOW + timedelta(seconds=15))


def test_a_cancelled_row_cannot_be_retried_even_with_consent_again(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    row_id = marketing_sms(ctx, kari)
    consent.withdraw_consent(ctx, kari, "marketing", "sms", "web")
    consent.give_consent(ctx, kari, "marketing", "sms", "web")
    with pytest.raises(Conflict, match=f"outbox row {row_id} was cancelled: consent to marketing by sms was withdrawn"):
        outbox.retry_dead(ctx, row_id)
    assert state(factory, row_id).state is OutboxState.DEAD
