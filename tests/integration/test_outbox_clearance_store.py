"""On SQLite and PostgreSQL: a withdrawal while a worker holds the row, and rows waiting for credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from personvern.bootstrap import Runtime
from personvern.connectors.errors import WaitingForCredentials
from personvern.connectors.worker import Worker
from personvern.domain.outbox import RetryPolicy
from personvern.services import consent, messaging, outbox, register
from personvern.services.context import Context
from personvern.store import tables as t
from tests.integration.test_outbox_store import Recording, has_key
from tests.unit.fakes import FixedClock

NOTICE = "9" * 64
KARI = {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "kari@example.no"}


@pytest.fixture
def clock(runtime: Runtime) -> FixedClock:
    assert runtime.settings.now is not None
    return FixedClock(runtime.settings.now)


@pytest.fixture
def ctx(runtime: Runtime, clock: FixedClock) -> Context:
    return Context(runtime.policy.policy, runtime.uow, clock, runtime.actor)


def stored(runtime: Runtime, row_id: str) -> tuple[str, str | None, str]:
    with runtime.engine.connect() as conn:
        row = conn.execute(
            select(t.outbox.c.state, t.outbox.c.last_error, t.outbox.c.payload).where(t.outbox.c.id == row_id)
        ).one()
        status = conn.execute(select(t.messages.c.status).where(t.messages.c.outbox_id == row_id)).scalar_one()
    return row.state, row.last_error, status


def test_a_withdrawal_while_a_worker_holds_the_row_is_caught_before_sending(runtime: Runtime, ctx: Context) -> None:
    sid = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    consent.give_consent(ctx, sid, "marketing", "sms", "web", notice_sha256=NOTICE)
    row_id = messaging.send_sms(ctx, sid, "marketing", "Tilbud!").outbox_id
    [claimed] = outbox.claim_due(ctx, 5, timedelta(minutes=5))
    consent.withdraw_consent(ctx, sid, "marketing", "sms", "web", notice_sha256=NOTICE)
    assert stored(runtime, row_id)[0] == "pending"  # the withdrawal left the held row to its worker

    connector = Recording()
    tally = Worker(ctx, {"sms": connector}, RetryPolicy()).deliver(claimed)
    assert connector.seen == []
    assert tally.cancelled == 1
    state, error, status = stored(runtime, row_id)
    assert (state, error, status) == (
        "dead",
        "cancelled: consent to marketing by sms was withdrawn on 2026-11-25",
        "cancelled",
    )
    assert not has_key(runtime, row_id)  # the number and text are gone with the row's key


def test_a_restriction_cancels_in_its_own_transaction(runtime: Runtime, ctx: Context) -> None:
    sid = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    register.start_relationship(ctx, sid, "order")
    row_id = messaging.send_sms(ctx, sid, "service", "Kortet er klart").outbox_id
    consent.restrict(ctx, sid)
    assert stored(runtime, row_id) == (
        "dead",
        "cancelled: processing is restricted (Art. 18) since 2026-11-25",
        "cancelled",
    )
    assert not has_key(runtime, row_id)


def test_rows_waiting_for_credentials_stay_due(runtime: Runtime, ctx: Context) -> None:
    sid = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    register.start_relationship(ctx, sid, "order")
    ids = [messaging.send_sms(ctx, sid, "service", f"Melding {n}").outbox_id for n in range(7)]
    missing = WaitingForCredentials(["PERSONVERN_LINKMOBILITY_USER"])
    waiting = Worker(ctx, {"sms": Recording(missing)}, RetryPolicy(), batch=3).run_once()
    assert waiting.waiting == 7
    assert {stored(runtime, i)[1] for i in ids} == {missing.reason}
    connector = Recording()
    done = Worker(ctx, {"sms": connector}, RetryPolicy(), batch=3).run_once()  # the same instant
    assert done.delivered == 7
    assert (waiting.pending, waiting.next_attempt_at, done.pending) == (7, None, 0)
    assert sorted(r.id for r in connector.seen) == sorted(ids)
