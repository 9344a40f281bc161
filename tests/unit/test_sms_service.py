"""The SMS use cases on the in-memory unit of work: the rules of sending, delivery reports, «STOPP»."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest

from personvern.domain.errors import Forbidden, InvalidInput, NotFound
from personvern.domain.outbox import OutboxState
from personvern.domain.sms import OPT_OUT_LINE, DeliveryReport, Encoding, InboundSms, MessageStatus
from personvern.services import consent, messaging, register
from personvern.services.context import Context
from tests.unit.fakes import FakeUnitOfWorkFactory

NOTICE = "a" * 64
PHONE = "+4741000001"
TEXT = "Nøkkelkortet ditt er klart"


def customer(ctx: Context, n: int = 1, order: bool = True) -> str:
    values = {"full_name": f"Kari {n} Nordmann", "phone": f"+474100000{n}", "email": f"kari{n}@example.no"}
    sid = register.add_subject(ctx, "one_time_customer", values, {}).id
    if order:
        register.start_relationship(ctx, sid, "order")
    return sid


def consenting(ctx: Context, n: int = 1) -> str:
    sid = customer(ctx, n, order=False)
    consent.give_consent(ctx, sid, "marketing", "sms", "web", notice_sha256=NOTICE)
    return sid


def test_a_service_sms_is_queued_with_its_log_entry_and_audit(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    sid = customer(ceo)
    queued = messaging.send_sms(ceo, sid, "service", TEXT)
    assert (queued.draft.length.encoding, queued.draft.length.segments) == (Encoding.GSM7, 1)
    row = factory.state.outbox[queued.outbox_id]
    assert (row.kind, row.subject_id, row.state) == ("sms", sid, OutboxState.PENDING)
    assert row.public == {"message_id": queued.message_id, "purpose": "service", "channel": "sms"}
    assert row.personal == {"destination": PHONE, "text": TEXT}
    message, text = factory.state.messages[queued.message_id]
    assert (message.status, message.outbox_id, message.purpose, text) == (
        MessageStatus.PENDING,
        queued.outbox_id,
        "service",
        TEXT,
    )
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.subject_id, entry.purpose) == ("sms.send", sid, "service")
    rendered = json.dumps(entry.details, ensure_ascii=False)
    assert PHONE not in rendered and "Nøkkelkortet" not in rendered
    assert entry.details["recipient"] == "linkmobility"


def test_a_marketing_sms_gets_the_opt_out_line(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    sid = consenting(ceo)
    queued = messaging.send_sms(ceo, sid, "marketing", "Tilbud!")
    assert queued.draft.text == f"Tilbud!\n{OPT_OUT_LINE}"
    assert factory.state.outbox[queued.outbox_id].personal == {"destination": PHONE, "text": queued.draft.text}


def test_a_draft_writes_nothing(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    sid = customer(ceo)
    commits = factory.commits
    draft = messaging.draft_sms(ceo, sid, "service", "Привет")
    assert (draft.length.encoding, draft.length.segments, draft.opt_out) == (Encoding.UCS2, 1, False)
    assert factory.commits == commits and factory.state.outbox == {}


def test_service_needs_an_active_relationship(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    sid = customer(ceo, order=False)
    with pytest.raises(Forbidden, match=r"needs an active order or contract \(Art. 6\(1\)\(b\)\)"):
        messaging.send_sms(ceo, sid, "service", TEXT)
    register.start_relationship(ceo, sid, "order")
    register.end_relationship(ceo, sid)
    with pytest.raises(Forbidden, match="has none on 2026-11-25"):
        messaging.send_sms(ceo, sid, "service", TEXT)
    assert factory.state.outbox == {}


def test_marketing_needs_what_the_audience_needs(ceo: Context) -> None:
    sid = customer(ceo)  # a customer with an order: no exception from § 15 is used
    with pytest.raises(Forbidden, match="no consent to marketing by sms"):
        messaging.send_sms(ceo, sid, "marketing", "Tilbud!")
    objected = consenting(ceo, 2)
    consent.object_to(ceo, objected)
    with pytest.raises(Forbidden, match="objected to marketing"):
        messaging.send_sms(ceo, objected, "marketing", "Tilbud!")


def test_a_restricted_subject_gets_no_sms_at_all(ceo: Context) -> None:
    sid = consenting(ceo)
    register.start_relationship(ceo, sid, "order")
    consent.restrict(ceo, sid)
    for purpose in ("service", "marketing"):
        with pytest.raises(Forbidden, match=r"processing is restricted \(Art. 18\)"):
            messaging.send_sms(ceo, sid, purpose, TEXT)


def test_the_policy_must_name_link_mobility_as_recipient(ceo: Context) -> None:
    sid = customer(ceo)
    without = replace(ceo, policy=ceo.policy.model_copy(update={"recipients": {}}))
    with pytest.raises(Forbidden, match="does not name linkmobility as a recipient of the phone number for service"):
        messaging.send_sms(without, sid, "service", TEXT)


@pytest.mark.parametrize(
    ("purpose", "text", "field"),
    [("bookkeeping", TEXT, "purpose"), ("service", "", "text"), ("service", "Hei 😀", "text")],
)
def test_bad_input(ceo: Context, purpose: str, text: str, field: str) -> None:
    sid = customer(ceo)
    with pytest.raises(InvalidInput) as info:
        messaging.send_sms(ceo, sid, purpose, text)
    assert info.value.problems[0].field == field


def test_unknown_subject(ceo: Context) -> None:
    with pytest.raises(NotFound):
        messaging.send_sms(ceo, "nobody", "service", TEXT)


def test_roles(as_role: Callable[[str], Context], ceo: Context) -> None:
    sid = consenting(ceo)
    register.start_relationship(ceo, sid, "order")
    messaging.send_sms(as_role("staff"), sid, "service", TEXT)
    messaging.send_sms(as_role("marketing"), sid, "marketing", "Tilbud!")
    with pytest.raises(Forbidden, match="may not send SMS about"):
        messaging.send_sms(as_role("marketing"), sid, "service", TEXT)
    with pytest.raises(Forbidden, match="may not send marketing SMS"):
        messaging.send_sms(as_role("auditor"), sid, "marketing", "Tilbud!")


def test_reports_are_answered_each_on_its_own(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    queued = messaging.send_sms(ceo, customer(ceo), "service", TEXT)
    # An unknown refId (an erased person's message, say) no longer holds up the report beside it.
    sent, unknown = messaging.record_reports(
        ceo, [DeliveryReport(queued.outbox_id, 1000), DeliveryReport("nope", 1001)]
    )
    assert (sent.result, sent.status, sent.changed) == (messaging.ReportResult.RECORDED, MessageStatus.SENT, True)
    assert (unknown.result, unknown.message_id, unknown.status, unknown.changed) == (
        messaging.ReportResult.UNKNOWN,
        None,
        None,
        False,
    )
    assert factory.state.messages[queued.message_id][0].status is MessageStatus.SENT
    assert [e.action for e in factory.audit_entries()][-1] == "sms.report"  # the known one only
    [same] = messaging.record_reports(ceo, [DeliveryReport(queued.outbox_id, 1000)])
    assert same.result is messaging.ReportResult.REPEATED
    [outcome] = messaging.record_reports(ceo, [DeliveryReport(queued.outbox_id, 1012, "lm-9")])
    assert (outcome.status, outcome.changed, outcome.meaning) == (MessageStatus.SENT, True, "delayed")
    [outcome] = messaging.record_reports(ceo, [DeliveryReport(queued.outbox_id, 1001)])
    message = factory.state.messages[queued.message_id][0]
    assert (message.status, message.result_code, message.vendor_message_id) == (MessageStatus.DELIVERED, 1001, "lm-9")
    [late] = messaging.record_reports(ceo, [DeliveryReport(queued.outbox_id, 1005)])
    assert (late.status, late.changed, late.result) == (MessageStatus.DELIVERED, False, messaging.ReportResult.LATE)
    assert [e.action for e in factory.audit_entries()][-3:] == ["sms.report"] * 3


def test_stopp_withdraws_and_reveals_nothing(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    ceo = replace(ceo, policy_sha256=NOTICE)  # the notice a withdrawal by reply is recorded against
    sid = consenting(ceo)
    assert messaging.handle_inbound(ceo, InboundSms("Hei", "STOPP")).keyword == "STOPP"  # not a number
    assert messaging.handle_inbound(ceo, InboundSms(PHONE, "Takk")).keyword is None
    commits = factory.commits
    assert messaging.handle_inbound(ceo, InboundSms("+4798765432", " stopp ")).keyword == "STOPP"
    assert factory.commits == commits  # an unknown number changes nothing
    assert messaging.handle_inbound(ceo, InboundSms(PHONE[1:], "Stopp")).keyword == "STOPP"
    ledger = consent.consent_ledger(ceo, sid)
    assert ledger.marketing["sms"] == "consent to marketing by sms was withdrawn on 2026-11-25"
    assert [e.method.value for e in ledger.events] == ["web", "sms_reply"]


def test_message_texts_are_forgotten_after_the_policys_period(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock
) -> None:
    sid = customer(ceo)
    old = messaging.send_sms(ceo, sid, "service", TEXT)
    assert messaging.forget_old_texts(ceo) == 0  # 90 days in the bundled policy: nothing is that old yet
    clock.advance(days=89)
    recent = messaging.send_sms(ceo, sid, "service", "Velkommen i morgen")
    clock.advance(days=2)  # the first is now 91 days old, the second 2
    assert messaging.forget_old_texts(ceo) == 1
    assert factory.state.messages[old.message_id][1] is None
    assert factory.state.messages[old.message_id][0].purpose == "service"  # the metadata stays
    assert factory.state.messages[recent.message_id][1] == "Velkommen i morgen"
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.details["count"]) == ("messages.forget_texts", 1)
    assert messaging.forget_old_texts(ceo) == 0


def test_without_a_message_rule_texts_are_kept(ceo: Context, factory: FakeUnitOfWorkFactory, clock) -> None:
    sid = customer(ceo)
    messaging.send_sms(ceo, sid, "service", TEXT)
    clock.advance(days=4000)
    assert messaging.forget_old_texts(replace(ceo, policy=ceo.policy.model_copy(update={"messages": None}))) == 0
