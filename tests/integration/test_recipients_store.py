"""Confirmations, exports and reconciliations on SQLite and PostgreSQL, and the erasure flow that uses them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from personvern.bootstrap import Runtime
from personvern.domain.confirmations import ConfirmationState, ConfirmBy
from personvern.domain.outbox import OutboxRow
from personvern.domain.reconcile import Finding, Found, Reconciliation
from personvern.domain.requests import RequestState
from personvern.services import confirmations, consent, exports, outbox, register, rights
from personvern.services.context import Context
from tests.saft_schema import errors
from tests.unit.fakes import FixedClock

KARI = {"full_name": "Kåre Ødegård", "phone": "41000001", "email": "kare@example.no"}


@pytest.fixture
def clock(runtime: Runtime) -> FixedClock:
    assert runtime.settings.now is not None
    return FixedClock(runtime.settings.now)


@pytest.fixture
def ctx(runtime: Runtime, clock: FixedClock) -> Context:
    return Context(runtime.policy.policy, runtime.uow, clock, runtime.actor, policy_sha256=runtime.policy.sha256)


@pytest.fixture
def kari(ctx: Context) -> str:
    sid = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    register.start_relationship(ctx, sid, "order")
    consent.give_consent(ctx, sid, "marketing", "email", "web")
    return sid


def deliver_all(ctx: Context, results: dict[str, dict[str, object]]) -> list[OutboxRow]:
    """What a worker does, with the receiver's answer per kind given."""
    rows = outbox.claim_due(ctx, 50, timedelta(minutes=5))
    for row in rows:
        assert outbox.record_delivered(ctx, row, results[row.kind])
    return rows


def test_an_erasure_waits_for_hubspot_and_finago_and_completes(ctx: Context, clock: FixedClock, kari: str) -> None:
    deliver_all(ctx, {"hubspot.upsert": {"hubspot_id": "1001", "created": True}})
    done = exports.export_customers(ctx, "saft")
    assert errors(done.content) == [] and done.record.subjects == 1
    opened = rights.open_request(ctx, "erasure", subject_id=kari)
    rights.verify_request(ctx, opened.request.id, "bankid")
    request = rights.fulfil_request(ctx, opened.request.id).request
    assert request.state is RequestState.IN_PROGRESS
    seen = {v.confirmation.recipient: v for v in rights.show_request(ctx, request.id).recipients}
    assert {k: v.state for k, v in seen.items()} == {
        "auditor": "not_needed",
        "finago": "pending",
        "hubspot": "pending",
        "linkmobility": "not_needed",
    }
    assert seen["finago"].confirmation.confirm_by is ConfirmBy.TASK
    assert seen["hubspot"].confirmation.fields == ("full_name", "phone", "email", "organisation_name")
    clock.advance(minutes=11)
    [row] = deliver_all(ctx, {"hubspot.delete": {"gdpr_deleted": 1, "requests": 2}})
    assert row.id == seen["hubspot"].confirmation.outbox_id
    assert rights.show_request(ctx, request.id).request.state is RequestState.IN_PROGRESS
    _today, tasks = confirmations.list_tasks(ctx)
    assert [t.confirmation.recipient for t in tasks] == ["finago"]
    confirmations.close_task(ctx, tasks[0].confirmation.id, "slettet i Finago")
    final = rights.show_request(ctx, request.id)
    assert final.request.state is RequestState.COMPLETED
    states = {v.confirmation.recipient: v.confirmation.state for v in final.recipients}
    assert states["finago"] is states["hubspot"] is ConfirmationState.CONFIRMED
    assert [v.confirmation.note for v in final.recipients if v.confirmation.recipient == "finago"] == [
        "slettet i Finago"
    ]


def test_exports_are_read_back_per_person(runtime: Runtime, ctx: Context, kari: str) -> None:
    exports.export_customers(ctx, "csv")
    exports.export_customers(ctx, "saft")
    with runtime.uow() as uow:
        found = uow.exports.for_subject(kari)
        assert [(e.kind, e.recipient, e.fields) for e in found] == [
            ("csv", "finago", ("full_name", "email")),
            ("saft", "finago", ("full_name", "email")),
        ]
        assert uow.exports.recipients_of([kari, "nobody"]) == {kari: {"finago"}}
        [figures] = [f for f in uow.exports.figures() if f.kind == "saft"]
        assert (figures.recipient, figures.people) == ("finago", 1)


def test_a_reconciliation_is_saved_and_read_back(runtime: Runtime, ctx: Context) -> None:
    run = Reconciliation("r1", "hubspot", ctx.clock.now(), "tester", fix=False)
    with runtime.uow() as uow:
        uow.reconciliations.save(run)
        uow.commit()
    run.add(Found(Finding.UNKNOWN, "1006", None))
    run.add(Found(Finding.MISSING, None, "s1", pending=True, fixed_by="row1"))
    run.pages, run.contacts, run.complete, run.finished_at = 2, 7, True, ctx.clock.now()
    with runtime.uow() as uow:
        uow.reconciliations.save(run)
        uow.commit()
    with runtime.uow() as uow:
        back = uow.reconciliations.last("hubspot")
        assert uow.reconciliations.last("someone else") is None
    assert back is not None and back.complete and (back.pages, back.contacts) == (2, 7)
    assert back.counts == {"not_in_register": 1, "missing": 1}
    assert back.findings == run.findings
