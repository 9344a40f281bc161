"""Telling processors (services.processors) on the in-memory unit of work, delivered through the fake HubSpot."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from personvern.connectors.hubspot import KINDS, HubSpot, HubSpotConfig
from personvern.connectors.worker import Tally, Worker
from personvern.domain.access import Actor
from personvern.domain.errors import Forbidden, InvalidInput
from personvern.domain.outbox import OutboxRow, OutboxState, RetryPolicy
from personvern.domain.subjects import Subject
from personvern.policy.schema import Policy
from personvern.services import consent, outbox, processors, register
from personvern.services.context import Context
from personvern.services.ports import ExportRecord
from personvern.services.processors import ProcessorNotice, Transfer
from tests.fakes_hubspot import TOKEN, FakeHubSpot
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

NOTICE = "5" * 64
KARI = {"full_name": "Kari Hansen Nordmann", "phone": "+4791234567", "email": "kari@example.no"}
FIRMA = {"organisation_number": "974760673", "organisation_name": "Firma AS"}
SECRETS = ["Kari", "Nordmann", "91234567", "kari@", "Firma AS", "974760673"]


@pytest.fixture
def ctx(policy: Policy, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> Context:
    return Context(policy, factory, clock, Actor("ceo-user", "ceo"), policy_sha256=NOTICE)


@pytest.fixture
def hubspot() -> FakeHubSpot:
    return FakeHubSpot()


@pytest.fixture
def kari(ctx: Context) -> str:
    return register.add_subject(ctx, "one_time_customer", KARI, {}).id


def work(ctx: Context, fake: FakeHubSpot) -> Tally:
    """One worker pass, HubSpot rows going to the fake."""
    hub = HubSpot(fake.client(), HubSpotConfig("http://127.0.0.1:9", TOKEN), ctx.clock)
    return Worker(ctx, dict.fromkeys(KINDS, hub), RetryPolicy(), lambda: 0.5).run_once()


def rows(factory: FakeUnitOfWorkFactory, kind: str | None = None) -> list[OutboxRow]:
    found = sorted(factory.state.outbox.values(), key=lambda r: (r.created_at, r.id))
    return [r for r in found if kind is None or r.kind == kind]


def exported(factory: FakeUnitOfWorkFactory, sid: str, *recipients: str) -> None:
    """An accounting export gave the person to these recipients (so they hold them since)."""
    with factory() as uow:
        for n, recipient in enumerate(recipients):
            record = ExportRecord(f"export{n}", "saft", recipient, NOW, "t", "ceo", 1, ("full_name", "email"), "0" * 64)
            uow.exports.add(record, {sid: record.fields})
        uow.commit()


def audit(factory: FakeUnitOfWorkFactory, action: str) -> list[tuple[str | None, dict[str, object]]]:
    return [(e.subject_id, dict(e.details)) for e in factory.audit_entries() if e.action == action]


def assert_quiet(factory: FakeUnitOfWorkFactory) -> None:
    """Neither the audit log nor any row's public part holds a personal value."""
    text = json.dumps([(e.action, dict(e.details)) for e in factory.audit_entries()], ensure_ascii=False)
    text += json.dumps([dict(r.public) for r in factory.state.outbox.values()], ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text


def shared(ctx: Context, hubspot: FakeHubSpot, sid: str) -> None:
    consent.give_consent(ctx, sid, "marketing", "email", "web")
    assert work(ctx, hubspot).delivered == 1


# ---------------------------------------------------------------- sharing on consent


def test_email_marketing_consent_shares_the_declared_fields(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    consent.give_consent(ctx, kari, "marketing", "email", "web")
    [row] = rows(factory)
    assert (row.kind, row.subject_id, row.state) == ("hubspot.upsert", kari, OutboxState.PENDING)
    assert row.public == {
        "purpose": "marketing",
        "legal_basis": "6(1)(a)",
        "fields": ["full_name", "phone", "email"],
        "reason": "share",
    }
    assert row.personal == KARI
    assert audit(factory, "processor.share") == [
        (
            kari,
            {
                "recipient": "hubspot",
                "row": row.id,
                "kind": "hubspot.upsert",
                "fields": ["full_name", "phone", "email"],
            },
        )
    ]
    assert work(ctx, hubspot).delivered == 1
    assert hubspot.contacts["1001"]["lastname"] == "Nordmann"
    assert factory.state.outbox[row.id].personal is None  # gone once HubSpot has it
    assert factory.state.outbox[row.id].result == {"hubspot_id": "1001", "created": True}
    assert_quiet(factory)


def test_a_business_customer_shares_the_organisation_name_too(ctx: Context, factory: FakeUnitOfWorkFactory) -> None:
    sid = register.add_subject(ctx, "contract_customer", KARI | FIRMA, {}).id
    consent.give_consent(ctx, sid, "marketing", "email", "web")
    [row] = rows(factory)
    assert row.public["fields"] == ["full_name", "phone", "email", "organisation_name"]  # never the number
    assert "organisation_number" not in (row.personal or {})


def test_consent_by_sms_or_while_restricted_shares_nothing(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    consent.give_consent(ctx, kari, "marketing", "sms", "web")
    consent.restrict(ctx, kari)
    consent.give_consent(ctx, kari, "marketing", "email", "web")
    assert rows(factory) == []
    assert audit(factory, "processor.share") == []


def test_a_fresh_consent_after_an_objection_shares(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, clock: FixedClock
) -> None:
    consent.object_to(ctx, kari)
    clock.advance(days=1)
    consent.give_consent(
        ctx, kari, "marketing", "email", "web"
    )  # lifts the objection (Art. 21(3)), in the same transaction
    assert [r.kind for r in rows(factory)] == ["hubspot.upsert"]


def test_share_refuses_a_purpose_the_policy_does_not_name_for_hubspot(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    with factory() as uow:
        subject = uow.subjects.get(kari)
        assert subject is not None
        with pytest.raises(Forbidden, match="does not name HubSpot as a recipient for bookkeeping"):
            processors.share_with_hubspot(ctx, uow, subject, "bookkeeping")
        with pytest.raises(InvalidInput, match="email: HubSpot keeps contacts by email address"):
            processors.share_with_hubspot(ctx, uow, replace(subject, values={"full_name": "Kari"}), "marketing")


# ---------------------------------------------------------------- what each recipient received


def test_transfers_per_recipient_from_the_outbox(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    shared(ctx, hubspot, kari)
    clock.advance(hours=1)
    with factory() as uow:
        outbox.enqueue(ctx, uow, "sms", kari, {"message_id": "m1", "purpose": "service"}, {"destination": "x"})
        dead = outbox.enqueue(ctx, uow, "sms", kari, {"message_id": "m2", "purpose": "service"}, {"destination": "x"})
        uow.outbox.mark_dead(dead.id, None, 1, "refused")
        outbox.enqueue(ctx, uow, "sms", "someone-else", {"purpose": "service"}, {"destination": "y"})
        uow.commit()
    with factory() as uow:
        found = processors.transfers(uow, kari)
    later = NOW + timedelta(hours=1)
    assert found == [
        Transfer("hubspot", ("hubspot.upsert",), ("email", "full_name", "phone"), NOW, NOW, 1, 0),
        Transfer("linkmobility", ("sms",), ("phone",), later, later, 0, 1),
    ]


def test_nothing_sent_means_no_transfers(factory: FakeUnitOfWorkFactory, kari: str) -> None:
    with factory() as uow:
        assert processors.transfers(uow, kari) == []


# ---------------------------------------------------------------- withdrawal and objection


def test_a_withdrawal_before_delivery_calls_the_share_off(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    consent.give_consent(ctx, kari, "marketing", "email", "web")
    consent.withdraw_consent(ctx, kari, "marketing", "email", "web")
    [row] = rows(factory)
    assert (row.state, row.last_error) == (OutboxState.DEAD, "called off: consent withdrawn before it was delivered")
    assert row.personal == {}  # nothing left for `outbox retry` to send
    assert [d["row"] for _, d in audit(factory, "processor.call_off")] == [row.id]
    assert work(ctx, hubspot).handled == 0
    assert hubspot.requests == []
    with factory() as uow:
        assert processors.transfers(uow, kari) == []


def test_a_withdrawal_after_delivery_unsubscribes(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    shared(ctx, hubspot, kari)
    consent.withdraw_consent(ctx, kari, "marketing", "email", "web")
    [row] = rows(factory, "hubspot.unsubscribe")
    assert row.public == {"purpose": "marketing", "fields": ["email"], "reason": "consent withdrawn"}
    assert [d["row"] for _, d in audit(factory, "processor.unsubscribe")] == [row.id]
    assert work(ctx, hubspot).delivered == 1
    assert hubspot.unsubscribed == ["kari@example.no"]
    assert factory.state.outbox[row.id].result == {"status": "COMPLETE", "unsubscribed": 1}
    assert_quiet(factory)


def test_an_objection_unsubscribes(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    shared(ctx, hubspot, kari)
    consent.object_to(ctx, kari, "marketing", "asked by phone")
    assert [r.public["reason"] for r in rows(factory, "hubspot.unsubscribe")] == ["objection"]


def test_withdrawing_sms_consent_leaves_hubspot_alone(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    shared(ctx, hubspot, kari)
    consent.give_consent(ctx, kari, "marketing", "sms", "web")
    consent.withdraw_consent(ctx, kari, "marketing", "sms", "web")
    assert rows(factory, "hubspot.unsubscribe") == []


def test_a_share_being_sent_right_now_is_not_called_off(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    consent.give_consent(ctx, kari, "marketing", "email", "web")
    with factory() as uow:
        uow.outbox.claim(NOW, NOW, NOW + timedelta(minutes=5), 10)  # a worker holds it
        uow.commit()
    consent.withdraw_consent(ctx, kari, "marketing", "email", "web")
    assert {r.kind: r.state for r in rows(factory)} == {
        "hubspot.upsert": OutboxState.PENDING,
        "hubspot.unsubscribe": OutboxState.PENDING,  # it may arrive: HubSpot is told to send nothing
    }


# ---------------------------------------------------------------- rectification (Art. 16, 19)


def change(ctx: Context, factory: FakeUnitOfWorkFactory, sid: str, changed: set[str], **values: str | None):
    with factory() as uow:
        subject = uow.subjects.get(sid)
        assert subject is not None
        new = {k: v for k, v in ({**subject.values, **values}).items() if v is not None}
        notices = processors.propagate_change(ctx, uow, subject.with_values(new, ctx.clock.now()), changed)
        uow.commit()
    return notices


def test_a_changed_name_reaches_hubspot_and_the_recipients_without_a_connector_are_named(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    shared(ctx, hubspot, kari)
    exported(factory, kari, "auditor", "finago")
    notices = change(ctx, factory, kari, {"full_name"}, full_name="Kari Berg")
    assert notices == [
        ProcessorNotice("auditor", "tell by hand: no connector"),
        ProcessorNotice("finago", "tell by hand: no connector"),
        ProcessorNotice("hubspot", "update queued"),
    ]
    [row] = [r for r in rows(factory, "hubspot.upsert") if r.state is OutboxState.PENDING]
    assert row.public == {
        "purpose": "marketing",
        "fields": ["full_name", "email"],
        "reason": "rectification",
        "update_only": True,
        "hubspot_id": "1001",
    }
    assert [d["fields"] for _, d in audit(factory, "processor.update")] == [["full_name", "email"]]
    assert work(ctx, hubspot).delivered == 1
    assert (hubspot.contacts["1001"]["firstname"], hubspot.contacts["1001"]["lastname"]) == ("Kari", "Berg")


def test_recipients_without_a_connector_that_no_export_reached_hold_nothing(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    assert change(ctx, factory, kari, {"full_name"}, full_name="Kari Berg")[:2] == [
        ProcessorNotice("auditor", "nothing held"),
        ProcessorNotice("finago", "nothing held"),
    ]
    exported(factory, kari, "finago")
    assert change(ctx, factory, kari, {"full_name"}, full_name="Kari Bakke")[:2] == [
        ProcessorNotice("auditor", "nothing held"),
        ProcessorNotice("finago", "tell by hand: no connector"),
    ]


def test_a_changed_email_reaches_the_same_contact(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    shared(ctx, hubspot, kari)
    change(ctx, factory, kari, {"email"}, email="kari.berg@example.no")
    work(ctx, hubspot)
    assert list(hubspot.contacts) == ["1001"] and hubspot.contacts["1001"]["email"] == "kari.berg@example.no"


def test_a_changed_phone_the_relay_holds_nothing_of(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot
) -> None:
    shared(ctx, hubspot, kari)
    assert change(ctx, factory, kari, {"phone"}, phone="+4798765432") == [
        ProcessorNotice("hubspot", "update queued"),
        ProcessorNotice("linkmobility", "nothing held"),
    ]


def test_a_removed_field_is_cleared_at_hubspot(
    ctx: Context, factory: FakeUnitOfWorkFactory, hubspot: FakeHubSpot
) -> None:
    sid = register.add_subject(ctx, "contract_customer", KARI | FIRMA, {}).id
    shared(ctx, hubspot, sid)
    change(ctx, factory, sid, {"organisation_name"}, organisation_name=None)
    [row] = [r for r in rows(factory, "hubspot.upsert") if r.state is OutboxState.PENDING]
    assert row.personal == {"organisation_name": "", "email": "kari@example.no"}
    work(ctx, hubspot)
    assert "company" not in hubspot.contacts["1001"]


def test_a_change_hubspot_never_received_queues_nothing(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    assert change(ctx, factory, kari, {"phone"}, phone="+4798765432") == [
        ProcessorNotice("hubspot", "nothing held"),
        ProcessorNotice("linkmobility", "nothing held"),
    ]
    assert change(ctx, factory, kari, {"postal_address"}, postal_address="Storgata 1, 0155 Oslo") == []
    assert rows(factory) == []


# ---------------------------------------------------------------- erasure (Art. 17(2), 19)


def erase(ctx: Context, factory: FakeUnitOfWorkFactory, sid: str) -> list[ProcessorNotice]:
    """What the erasure use case does: tell the processors, then erase the register and stop the outbox rows."""
    with factory() as uow:
        subject = uow.subjects.get(sid)
        assert subject is not None
        notices = processors.propagate_erasure(ctx, uow, subject)
        uow.subjects.erase(sid)
        uow.outbox.forget_subject(sid, "the subject was erased")
        uow.commit()
    return notices


def test_erasure_reaches_hubspot_and_its_row_outlives_the_person(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    shared(ctx, hubspot, kari)
    exported(factory, kari, "auditor", "finago")
    assert erase(ctx, factory, kari) == [
        ProcessorNotice("auditor", "tell by hand: no connector"),
        ProcessorNotice("finago", "tell by hand: no connector"),
        ProcessorNotice("hubspot", "deletion queued"),
        ProcessorNotice("linkmobility", "nothing held"),
    ]
    [row] = rows(factory, "hubspot.delete")
    assert (row.subject_id, row.state, row.next_attempt_at) == (None, OutboxState.PENDING, NOW + timedelta(minutes=10))
    assert row.public == {"subject": kari, "fields": ["email"], "hubspot_ids": ["1001"], "reason": "erasure"}
    assert row.personal == {"email": "kari@example.no"}  # spared by forget_subject
    assert audit(factory, "processor.erase") == [
        (kari, {"recipient": "hubspot", "row": row.id, "kind": "hubspot.delete", "fields": ["email"]})
    ]
    assert work(ctx, hubspot).handled == 0  # not before an upsert in flight has landed
    clock.advance(minutes=10)
    assert work(ctx, hubspot).delivered == 1
    assert (hubspot.contacts, hubspot.deleted, hubspot.blocked) == ({}, ["1001"], {"kari@example.no"})
    assert factory.state.outbox[row.id].personal is None
    assert [sid for sid, d in audit(factory, "outbox.deliver") if d["row"] == row.id] == [kari]
    assert_quiet(factory)


def test_erasure_while_the_share_is_still_queued(
    ctx: Context, factory: FakeUnitOfWorkFactory, kari: str, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    consent.give_consent(ctx, kari, "marketing", "email", "web")
    assert ProcessorNotice("hubspot", "deletion queued") in erase(ctx, factory, kari)
    clock.advance(minutes=10)
    work(ctx, hubspot)
    assert {r.kind: r.state for r in rows(factory)} == {
        "hubspot.upsert": OutboxState.DEAD,  # stopped by forget_subject: never sent
        "hubspot.delete": OutboxState.DELIVERED,  # sent anyway: HubSpot blocks the address (the safe side)
    }
    assert hubspot.contacts == {} and hubspot.blocked == {"kari@example.no"}


def test_erasure_of_someone_hubspot_never_received(ctx: Context, factory: FakeUnitOfWorkFactory, kari: str) -> None:
    assert ProcessorNotice("hubspot", "nothing held") in erase(ctx, factory, kari)
    assert rows(factory) == []


def test_recipients_of_fields_the_person_does_not_have_hold_nothing(
    ctx: Context, factory: FakeUnitOfWorkFactory
) -> None:
    subject = Subject("s-x", "one_time_customer", {"phone": "+4791234567"}, "data_subject", NOW, NOW, NOW)
    with factory() as uow:
        notices = processors.propagate_erasure(ctx, uow, subject)
    assert {n.recipient: n.action for n in notices} == {
        "auditor": "nothing held",
        "finago": "nothing held",
        "hubspot": "nothing held",
        "linkmobility": "nothing held",
    }
