"""The breach register's use cases on the in-memory unit of work: record, update, list, report, notify."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from personvern.domain.breaches import Phase, Recipient, Status
from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.domain.outbox import OutboxState
from personvern.domain.subjects import Subject
from personvern.services import breaches, consent, register
from personvern.services.breaches import BreachInput
from personvern.services.context import Context
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

DESCRIPTION = "En bærbar PC med et uttrekk av kunderegisteret ble stjålet fra bilen."
SECRET_CAUSE = "Innbrudd i bil"


def customer(ctx: Context, n: int) -> str:
    values = {"full_name": f"Kari {n} Nordmann", "phone": f"+474100000{n}", "email": f"kari{n}@example.no"}
    return register.add_subject(ctx, "one_time_customer", values, {}).id


def add(ctx: Context, **given: object) -> str:
    fields = {"description": DESCRIPTION, "discovered_at": NOW - timedelta(hours=2)} | given
    return breaches.add_breach(ctx, BreachInput(**fields)).id  # type: ignore[arg-type]


def test_a_breach_is_recorded_with_its_deadline_and_audited_without_its_text(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    sid = customer(ceo, 1)
    bid = add(ceo, cause=SECRET_CAUSE, categories=["navn", "mobilnummer"], people=3, subjects=[sid])
    b = factory.state.accountability.breaches[bid]
    assert (b.deadline, b.people, b.categories, b.subject_ids) == (
        NOW + timedelta(hours=70),
        3,
        ("navn", "mobilnummer"),
        (sid,),
    )
    entries = [e for e in factory.audit_entries() if e.action.startswith("breach.")]
    assert [(e.action, e.subject_id) for e in entries] == [("breach.add", None), ("breach.affect", sid)]
    assert entries[0].details["fields"] == ["categories", "cause", "description", "discovered_at", "people"]
    trail = json.dumps([dict(e.details) for e in factory.audit_entries()], ensure_ascii=False)
    assert SECRET_CAUSE not in trail and DESCRIPTION not in trail


def test_a_subject_must_be_in_the_register(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound, match="no subject with id nobody"):
        add(ceo, subjects=["nobody"])
    assert factory.state.accountability.breaches == {}


def test_only_the_ceo_handles_breaches(as_role) -> None:
    for role in ("staff", "marketing", "auditor"):
        ctx = as_role(role)
        with pytest.raises(Forbidden):
            add(ctx)
        with pytest.raises(Forbidden):
            breaches.list_breaches(ctx)


def test_due_at_72_hours_then_overdue_in_the_list(ceo: Context, clock: FixedClock) -> None:
    bid = add(ceo, discovered_at=NOW)
    [listed] = breaches.list_breaches(ceo)
    assert (listed.id, listed.status(NOW), listed.deadline) == (bid, Status.DUE, NOW + timedelta(hours=72))
    clock.advance(hours=72)
    assert breaches.list_breaches(ceo, overdue_only=True) == []
    clock.advance(minutes=1)
    assert [b.id for b in breaches.list_breaches(ceo, overdue_only=True)] == [bid]


def test_information_comes_in_phases(ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    bid = add(ceo)
    first = breaches.notify_authority(ceo, bid, "AR-1")
    assert (first.phase, first.at, first.late_reason) == (Phase.INITIAL, NOW, None)
    assert first.content is not None and "Type melding: Foreløpig melding" in first.content
    clock.advance(hours=30)
    sid = customer(ceo, 1)
    updated, changed = breaches.update_breach(
        ceo, bid, BreachInput(consequences="Risiko for svindel", records=40, risk="high", subjects=[sid])
    )
    assert changed == ["consequences", "records", "risk"] and updated.subject_ids == (sid,)
    follow = breaches.notify_authority(ceo, bid, "AR-1", phase="final")
    assert follow.phase is Phase.FINAL and follow.late_reason is None  # a later phase needs no reason
    assert "Type melding: Endelig melding" in (follow.content or "")
    with pytest.raises(Conflict, match="is closed"):
        breaches.notify_authority(ceo, bid, "AR-1", phase="final")
    with pytest.raises(Conflict, match="follow-up notification"):
        breaches.update_breach(ceo, bid, BreachInput(records=41))
    [update] = [e for e in factory.audit_entries() if e.action == "breach.update"]
    assert dict(update.details) == {"breach": bid, "changed": changed, "subjects_added": 1}


def test_an_update_must_change_something(ceo: Context) -> None:
    bid = add(ceo, cause="x")
    with pytest.raises(InvalidInput, match="nothing to change"):
        breaches.update_breach(ceo, bid, BreachInput())
    with pytest.raises(InvalidInput, match="nothing changed"):
        breaches.update_breach(ceo, bid, BreachInput(cause="x"))
    with pytest.raises(InvalidInput, match="description: must not be empty"):
        breaches.update_breach(ceo, bid, BreachInput(description=" "))
    with pytest.raises(NotFound):
        breaches.update_breach(ceo, "nope", BreachInput(cause="y"))
    cleared, changed = breaches.update_breach(ceo, bid, BreachInput(cause=""))
    assert cleared.cause is None and changed == ["cause"]


def test_a_late_notification_is_refused_without_a_reason(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    bid = add(ceo, discovered_at=NOW - timedelta(hours=100))
    with pytest.raises(InvalidInput, match="late_reason"):
        breaches.notify_authority(ceo, bid, "AR-9")
    assert not factory.state.accountability.breaches[bid].notifications
    done = breaches.notify_authority(ceo, bid, "AR-9", late_reason="Omfanget ble kjent først i dag")
    assert done.late_reason == "Omfanget ble kjent først i dag"
    with pytest.raises(InvalidInput, match="reference"):
        breaches.notify_authority(ceo, bid, "  ")


def test_the_report_follows_the_form_in_both_languages(ceo: Context) -> None:
    bid = add(ceo, people=2, categories=["navn"])
    b = breaches.show_breach(ceo, bid)
    nb = breaches.report(ceo, b, "nb")
    en = breaches.report(ceo, b, "en")
    assert "Hva har skjedd, og hvordan: " + DESCRIPTION in nb
    assert "Omtrent hvor mange personer er berørt: 2" in nb
    assert "What happened, and how: " + DESCRIPTION in en
    assert "Hovedårsak: ikke kjent ennå" in nb and "Main cause: not known yet" in en
    assert len(nb.splitlines()) == len(en.splitlines())
    with pytest.raises(InvalidInput, match="lang"):
        breaches.report(ceo, b, "sv")


def test_the_people_affected_are_told_by_sms_through_the_outbox(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    reached, restricted, erased = customer(ceo, 1), customer(ceo, 2), customer(ceo, 3)
    silent = Subject("s-nophone", "one_time_customer", {"full_name": "Ola"}, "test", NOW, NOW, NOW)
    factory.state.subjects[silent.id] = silent  # a policy may leave the phone optional
    bid = add(ceo, subjects=[reached, restricted, erased, silent.id])
    consent.restrict(ceo, restricted, reason="bestrider opplysningene")
    with factory() as uow:
        uow.subjects.erase(erased)
        uow.commit()
    text = "Vi har hatt et sikkerhetsbrudd som kan gjelde deg. Ring 22 00 00 00."
    done = breaches.notify_subjects(ceo, bid, text)
    [(sid, message_id, row_id)] = done.queued
    assert sid == reached
    assert (done.no_phone, done.not_in_register, done.restricted) == ([silent.id], [erased], [restricted])
    row = factory.state.outbox[row_id]
    assert (row.kind, row.state, row.public["purpose"], row.public["breach"]) == (
        "sms",
        OutboxState.PENDING,
        "service",
        bid,
    )
    assert row.personal == {"destination": "+4741000001", "text": text}
    assert factory.state.messages[message_id][1] == text
    n = done.notification
    assert (n.recipient, n.content, n.outcome["queued"]) == (Recipient.SUBJECTS, text, 1)
    actions = [(e.action, e.subject_id) for e in factory.audit_entries()][-2:]
    assert actions == [("breach.notify", None), ("sms.send", reached)]


def test_nobody_reachable_is_refused_and_nothing_is_queued(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    sid = customer(ceo, 1)
    bid = add(ceo, subjects=[sid])
    consent.restrict(ceo, sid)
    with pytest.raises(Conflict, match="1 restricted"):
        breaches.notify_subjects(ceo, bid, "Vi har hatt et sikkerhetsbrudd.")
    assert factory.state.outbox == {}
    no_one = add(ceo)
    with pytest.raises(InvalidInput, match="lists no affected person"):
        breaches.notify_subjects(ceo, no_one, "Vi har hatt et sikkerhetsbrudd.")
    with pytest.raises(InvalidInput):
        breaches.notify_subjects(ceo, bid, "")
