"""Completion waits for the recipients (services.confirmations): HubSpot by its delivery, Finago by the CEO's task."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from personvern.connectors.hubspot import KINDS, HubSpot, HubSpotConfig
from personvern.connectors.worker import Tally, Worker
from personvern.domain.access import Actor
from personvern.domain.confirmations import ConfirmationState, ConfirmBy, task_due
from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.domain.outbox import RetryPolicy
from personvern.domain.requests import RequestState
from personvern.policy.schema import Policy
from personvern.services import confirmations, consent, exports, outbox, register, rights
from personvern.services.context import Context
from tests.fakes_hubspot import TOKEN, FakeHubSpot, Reply
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

KARI = {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "kari@example.no"}
SECRETS = ["Kari", "Nordmann", "91234567", "kari@"]


@pytest.fixture
def ctx(policy: Policy, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> Context:
    return Context(policy, factory, clock, Actor("ceo-user", "ceo"), policy_sha256="5" * 64)


@pytest.fixture
def hubspot() -> FakeHubSpot:
    return FakeHubSpot()


def work(ctx: Context, fake: FakeHubSpot, **kw: object) -> Tally:
    hub = HubSpot(fake.client(), HubSpotConfig("http://127.0.0.1:9", TOKEN), ctx.clock)
    return Worker(ctx, dict.fromkeys(KINDS, hub), RetryPolicy(), lambda: 0.5, **kw).run_once()  # type: ignore[arg-type]


@pytest.fixture
def kari(ctx: Context, hubspot: FakeHubSpot) -> str:
    """A customer with an order, shared with HubSpot (email marketing consent) and exported to Finago."""
    sid = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    register.start_relationship(ctx, sid, "order")
    consent.give_consent(ctx, sid, "marketing", "email", "web")
    assert work(ctx, hubspot).delivered == 1
    exports.export_customers(ctx, "saft")
    return sid


def carry_out(ctx: Context, kind: str, sid: str, **kw: object) -> rights.Fulfilment:
    opened = rights.open_request(ctx, kind, subject_id=sid, **kw)  # type: ignore[arg-type]
    rights.verify_request(ctx, opened.request.id, "bankid")
    return rights.fulfil_request(ctx, opened.request.id)


def parts(ctx: Context, request_id: str) -> dict[str, confirmations.RecipientView]:
    return {v.confirmation.recipient: v for v in rights.show_request(ctx, request_id).recipients}


def assert_quiet(factory: FakeUnitOfWorkFactory) -> None:
    text = json.dumps([(e.action, dict(e.details)) for e in factory.audit_entries()], ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text


def test_an_erasure_during_a_hubspot_outage_completes_once_deleted_and_the_finago_task_closed(
    ctx: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock, hubspot: FakeHubSpot, kari: str
) -> None:
    done = carry_out(ctx, "erasure", kari)
    request = done.request
    assert request.state is RequestState.IN_PROGRESS and request.outcome["waiting_for"] == ["finago", "hubspot"]
    seen = parts(ctx, request.id)
    assert {k: (v.confirmation.confirm_by, v.state) for k, v in seen.items()} == {
        "auditor": (ConfirmBy.NOTHING, "not_needed"),  # no export gave the auditor the person
        "finago": (ConfirmBy.TASK, "pending"),
        "hubspot": (ConfirmBy.OUTBOX, "pending"),
        "linkmobility": (ConfirmBy.NOTHING, "not_needed"),
    }
    assert seen["linkmobility"].confirmation.detail.startswith("holds nothing after delivery")
    finago = seen["finago"].confirmation
    assert finago.action.startswith("erase the person; keep only full_name, email until ")
    assert finago.due_on == request.due_on - timedelta(days=3)
    # HubSpot is down when the deletion falls due: the request stays in progress.
    clock.advance(minutes=11)
    hubspot.then(Reply(503, {"status": "error", "category": "INTERNAL_ERROR"}))
    assert work(ctx, hubspot).retrying == 1
    assert rights.show_request(ctx, request.id).request.state is RequestState.IN_PROGRESS
    assert hubspot.contacts  # still there
    # HubSpot is back: the deletion goes, HubSpot's part is confirmed, the request waits for Finago.
    clock.advance(minutes=5)
    assert work(ctx, hubspot).delivered == 1
    assert not hubspot.contacts and hubspot.deleted == ["1001"]
    seen = parts(ctx, request.id)
    assert seen["hubspot"].state == "confirmed" and seen["hubspot"].confirmation.confirmed_at == clock.at
    assert rights.show_request(ctx, request.id).request.state is RequestState.IN_PROGRESS
    # The CEO tells Finago and closes the task: the request completes by itself.
    closed = confirmations.close_task(ctx, finago.id, "slettet i Finago, sak 4411")
    assert closed.state == "confirmed" and closed.confirmation.note == "slettet i Finago, sak 4411"
    final = rights.show_request(ctx, request.id).request
    assert final.state is RequestState.COMPLETED and final.closed_at == clock.at
    actions = [e.action for e in factory.audit_entries()]
    assert actions.count("request.complete") == 1 and actions.count("request.confirm") == 1
    assert "slettet" not in json.dumps([dict(e.details) for e in factory.audit_entries()])
    assert_quiet(factory)


def test_the_worker_completes_the_request_when_the_task_was_closed_first(
    ctx: Context, clock: FixedClock, hubspot: FakeHubSpot, kari: str
) -> None:
    request = carry_out(ctx, "erasure", kari).request
    confirmations.close_task(ctx, parts(ctx, request.id)["finago"].confirmation.id, "done in Finago")
    assert rights.show_request(ctx, request.id).request.state is RequestState.IN_PROGRESS
    clock.advance(minutes=11)
    assert work(ctx, hubspot).delivered == 1
    assert rights.show_request(ctx, request.id).request.state is RequestState.COMPLETED


def test_a_dead_deletion_shows_on_the_request_and_can_be_closed_by_hand(
    ctx: Context, clock: FixedClock, hubspot: FakeHubSpot, kari: str
) -> None:
    request = carry_out(ctx, "erasure", kari).request
    hub = parts(ctx, request.id)["hubspot"].confirmation
    with pytest.raises(Conflict, match="confirms this by the delivery of outbox row"):
        confirmations.close_task(ctx, hub.id, "deleted it by hand")
    clock.advance(minutes=11)
    hubspot.then(Reply(403, {"status": "error", "category": "MISSING_SCOPES"}))
    assert work(ctx, hubspot).dead == 1
    seen = parts(ctx, request.id)["hubspot"]
    assert seen.state == "dead" and seen.is_task and "MISSING_SCOPES" in (seen.row.last_error or "")  # type: ignore[union-attr]
    _today, tasks = confirmations.list_tasks(ctx)
    assert {t.confirmation.recipient for t in tasks} == {"finago", "hubspot"}
    confirmations.close_task(ctx, hub.id, "gdpr-deleted in HubSpot's own screen")
    confirmations.close_task(ctx, parts(ctx, request.id)["finago"].confirmation.id, "done")
    assert rights.show_request(ctx, request.id).request.state is RequestState.COMPLETED
    # A retry delivered later confirms nothing twice.
    outbox.retry_dead(ctx, hub.outbox_id or "")
    assert work(ctx, hubspot).delivered == 1


def test_an_overdue_task_shows_on_the_request_the_list_and_the_reminder(
    ctx: Context, clock: FixedClock, kari: str
) -> None:
    request = carry_out(ctx, "erasure", kari).request
    finago = parts(ctx, request.id)["finago"]
    assert not finago.overdue
    assert confirmations.reminders(ctx) == []
    clock.at = clock.at + timedelta(days=30)
    assert parts(ctx, request.id)["finago"].overdue
    _today, tasks = confirmations.list_tasks(ctx)
    assert [t.overdue for t in tasks if t.confirmation.recipient == "finago"] == [True]
    assert confirmations.reminders(ctx) == [
        f"1 task(s) for recipients of requests are overdue (the first was due {finago.confirmation.due_on}): "
        "`personvern task list`"
    ]


def test_tasks_refuse_bad_input_and_other_roles(
    ctx: Context, as_role, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    request = carry_out(ctx, "erasure", kari).request
    task = parts(ctx, request.id)["finago"].confirmation.id
    commits = factory.commits
    for note in ("", "   ", None):
        with pytest.raises(InvalidInput) as bad:
            confirmations.close_task(ctx, task, note)
        assert bad.value.problems[0].field == "note"
    with pytest.raises(InvalidInput, match="at most 1000"):
        confirmations.close_task(ctx, task, "x" * 1001)
    with pytest.raises(NotFound):
        confirmations.close_task(ctx, "nosuchtask", "done")
    for role in ("staff", "marketing", "auditor"):
        with pytest.raises(Forbidden):
            confirmations.close_task(as_role(role), task, "done")
        with pytest.raises(Forbidden):
            confirmations.list_tasks(as_role(role))
    assert factory.commits == commits  # nothing stored
    confirmations.close_task(ctx, task, "done")
    with pytest.raises(Conflict, match="confirmed already"):
        confirmations.close_task(ctx, task, "done again")


def test_a_carried_out_request_is_neither_fulfilled_again_nor_rejected(ctx: Context, kari: str) -> None:
    request = carry_out(ctx, "erasure", kari).request
    with pytest.raises(Conflict, match="waits for its recipients to confirm"):
        rights.fulfil_request(ctx, request.id)
    with pytest.raises(Conflict, match="cannot be rejected"):
        rights.reject_request(ctx, request.id, "changed my mind")


def test_a_rectification_waits_for_hubspots_update_and_finagos_correction(
    ctx: Context, clock: FixedClock, hubspot: FakeHubSpot, kari: str
) -> None:
    done = carry_out(ctx, "rectification", kari, changes={"full_name": "Kari Berg"})
    assert done.request.state is RequestState.IN_PROGRESS
    seen = parts(ctx, done.request.id)
    assert (seen["hubspot"].confirmation.action, seen["hubspot"].state) == ("correct full_name", "pending")
    assert (seen["finago"].confirmation.confirm_by, seen["finago"].confirmation.fields) == (
        ConfirmBy.TASK,
        ("full_name",),
    )
    assert seen["linkmobility"].state == "not_needed"  # the phone did not change, and it keeps nothing anyway
    assert work(ctx, hubspot).delivered == 1
    assert hubspot.contacts["1001"]["lastname"] == "Berg"
    confirmations.close_task(ctx, seen["finago"].confirmation.id, "rettet i Finago")
    assert rights.show_request(ctx, done.request.id).request.state is RequestState.COMPLETED


def test_a_rectification_that_changes_nothing_completes_at_once(ctx: Context, kari: str) -> None:
    done = carry_out(ctx, "rectification", kari, changes={"full_name": "Kari Nordmann"})
    assert done.request.state is RequestState.COMPLETED and done.recipients == ()


def test_a_restriction_tells_hubspot_to_stop_and_finago_by_a_task(
    ctx: Context, hubspot: FakeHubSpot, kari: str
) -> None:
    done = carry_out(ctx, "restriction", kari)
    seen = parts(ctx, done.request.id)
    row = seen["hubspot"].row
    assert row is not None and (row.kind, row.public["reason"]) == ("hubspot.unsubscribe", "restriction")
    assert seen["finago"].confirmation.action.startswith("restrict")
    assert work(ctx, hubspot).delivered == 1 and hubspot.unsubscribed == ["kari@example.no"]
    assert "1001" in hubspot.contacts  # Art. 18: kept, not used
    confirmations.close_task(ctx, seen["finago"].confirmation.id, "merket som begrenset")
    assert rights.show_request(ctx, done.request.id).request.state is RequestState.COMPLETED


def test_an_objection_to_marketing_does_not_concern_the_accounts(ctx: Context, hubspot: FakeHubSpot, kari: str) -> None:
    done = carry_out(ctx, "objection", kari)
    seen = parts(ctx, done.request.id)
    assert seen["finago"].state == "not_needed" and seen["finago"].confirmation.detail.startswith("not concerned")
    assert seen["hubspot"].state == "pending"
    assert work(ctx, hubspot).delivered == 1
    assert rights.show_request(ctx, done.request.id).request.state is RequestState.COMPLETED


def test_a_person_no_recipient_received_is_erased_and_answered_at_once(ctx: Context) -> None:
    sid = register.add_subject(ctx, "one_time_customer", KARI, {}).id
    done = carry_out(ctx, "erasure", sid)
    assert done.request.state is RequestState.COMPLETED
    assert {c.recipient: c.state for c in done.recipients} == dict.fromkeys(
        ("auditor", "finago", "hubspot", "linkmobility"), ConfirmationState.NOT_NEEDED
    )


def test_access_needs_no_confirmation(ctx: Context, kari: str) -> None:
    done = carry_out(ctx, "access", kari)
    assert done.request.state is RequestState.COMPLETED and done.recipients == ()
    data = json.loads(done.files["data.json"])
    finago = [r for r in data["recipients"] if r["recipient"] == "finago"]
    assert finago and finago[0]["fields"] == ["email", "full_name"]  # the export was a disclosure


def test_a_worker_killed_between_delivery_and_record_deletes_each_contact_once(
    ctx: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock, hubspot: FakeHubSpot, kari: str
) -> None:
    request = carry_out(ctx, "erasure", kari).request
    clock.advance(minutes=11)
    hub = HubSpot(hubspot.client(), HubSpotConfig("http://127.0.0.1:9", TOKEN), clock)
    [row] = outbox.claim_due(ctx, 5, timedelta(minutes=5))
    hub.deliver(row)  # HubSpot has it; the worker dies before it records the delivery
    assert hubspot.deleted == ["1001"]
    clock.advance(minutes=10)  # the dead worker's lease has run out
    assert work(ctx, hubspot).delivered == 1
    deletes = [b for (m, p), b in zip(hubspot.requests, hubspot.bodies, strict=True) if p.endswith("/gdpr-delete")]
    assert deletes.count({"objectId": "1001"}) == 1  # asked first whether it was still there: it was not
    assert hubspot.deleted == ["1001"]
    assert factory.state.outbox[row.id].result == {"gdpr_deleted": 1, "requests": 1, "resumed": True}
    assert parts(ctx, request.id)["hubspot"].state == "confirmed"
    assert [e.action for e in factory.audit_entries()].count("request.confirm") == 1


def test_the_task_due_date_is_inside_the_deadline() -> None:
    assert task_due(date(2026, 12, 25), date(2026, 11, 25)) == date(2026, 12, 22)
    assert task_due(date(2026, 12, 25), date(2026, 12, 24)) == date(2026, 12, 24)
    assert task_due(date(2026, 12, 25), date(2026, 12, 30)) == date(2026, 12, 25)
