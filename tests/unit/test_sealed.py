"""Every sealed part has an end: a dead outbox row's personal part, and the identity a stranger gave with a request."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from personvern.domain.errors import Conflict, NotFound
from personvern.domain.outbox import OutboxRow, OutboxState
from personvern.domain.requests import Channel, Request, RequestState, RequestType
from personvern.domain.sealed import undelivered_end, unmatched_end
from personvern.policy.schema import Duration, MessageRetention, Policy
from personvern.reports.notice import render_notice
from personvern.reports.record import build_record, render_record
from personvern.services import outbox, review, rights, sealed, sweep
from personvern.services.context import Context
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock


def row(kind: str, state: OutboxState = OutboxState.DEAD, at: datetime = NOW) -> OutboxRow:
    return OutboxRow("r1", kind, None, state, 1, at, at, {})


def test_a_dead_rows_personal_part_ends_by_the_policy(policy: Policy) -> None:
    # 24 Center: 30 days for what could not be delivered, 90 for a deletion HubSpot was never told of.
    upsert = undelivered_end(policy, row("hubspot.upsert"))
    assert upsert is not None and (upsert.at, upsert.rule) == (NOW + timedelta(days=30), "undelivered.keep")
    deletion = undelivered_end(policy, row("hubspot.delete"))
    assert deletion is not None and deletion.rule == "undelivered.keep_deletion"
    assert deletion.at == NOW + timedelta(days=90)
    sms = undelivered_end(policy, row("sms"))
    assert sms is not None and (sms.at, sms.rule) == (NOW + timedelta(days=30), "undelivered.keep")
    assert undelivered_end(policy, row("sms", OutboxState.PENDING)) is None  # still being tried


def test_a_dead_sms_never_outlives_the_text_the_message_log_keeps(policy: Policy) -> None:
    assert policy.messages is not None
    short = policy.model_copy(
        update={"messages": MessageRetention(keep_text=Duration(days=7), description=policy.messages.description)}
    )
    end = undelivered_end(short, row("sms"))
    assert end is not None and (end.at, end.rule) == (NOW + timedelta(days=7), "messages.keep_text")
    # Only an SMS carries a text: other rows keep the outbox's own time.
    upsert = undelivered_end(short, row("hubspot.upsert"))
    assert upsert is not None and upsert.rule == "undelivered.keep"


def request(state: RequestState, subject_id: str | None = None, closed: datetime | None = NOW) -> Request:
    return Request(
        "q1", RequestType.ACCESS, state, subject_id, Channel.EMAIL, "nb", NOW, NOW.date(), NOW.date(), "ceo",
        closed_at=closed,
    )  # fmt: skip


def test_a_strangers_identity_ends_three_months_after_the_answer(policy: Policy) -> None:
    for state in (RequestState.COMPLETED, RequestState.REJECTED):
        end = unmatched_end(policy, request(state))
        assert end is not None and end.rule == "requests.keep_unmatched"
        assert end.at == datetime(2027, 2, 25, 12, 0, tzinfo=NOW.tzinfo)
    assert unmatched_end(policy, request(RequestState.VERIFIED, closed=None)) is None  # not answered yet
    assert unmatched_end(policy, request(RequestState.COMPLETED, subject_id="s1")) is None  # ends with the person


def test_the_policy_file_may_say_other_times_and_has_defaults(policy: Policy) -> None:
    data = policy.model_dump(mode="json")
    data.pop("undelivered")
    data.pop("requests")
    defaults = Policy.model_validate(data)
    assert defaults.undelivered == policy.undelivered and defaults.requests == policy.requests
    data["requests"] = {"keep_unmatched": {"months": 6}}
    assert Policy.model_validate(data).requests.keep_unmatched == Duration(months=6)


# ---------------------------------------------------------------- the run, on the in-memory unit of work


def _dead(ctx: Context, kind: str, personal: dict[str, str], public: dict[str, object] | None = None) -> str:
    with ctx.uow() as uow:
        queued = outbox.enqueue(ctx, uow, kind, None, public or {"subject": "s-erased"}, personal)
        assert uow.outbox.mark_dead(queued.id, None, 10, "gave up after 10 attempts; last error: HTTP 503")
        uow.commit()
    return queued.id


def test_the_run_forgets_dead_rows_and_strangers_identities_when_their_time_ends(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    sms = _dead(ceo, "sms", {"destination": "+4791234567", "text": "Hei"})
    deletion = _dead(ceo, "hubspot.delete", {"email": "kari@example.no"}, {"subject": "s1", "hubspot_ids": ["901"]})
    opened = rights.open_request(ceo, "access", email="stranger@example.no")
    rights.verify_request(ceo, opened.request.id, "known_email")
    rights.fulfil_request(ceo, opened.request.id)

    clock.advance(days=29)
    assert sealed.plan(ceo) == []
    assert sweep.run(ceo).outbox_forgotten == 0
    assert factory.state.outbox[sms].personal

    assert rights.answer(ceo, opened.request.id).files["letter.html"]
    clock.advance(days=2)
    [due, answer] = sealed.plan(ceo)
    assert (due.what, due.id, due.rule, due.since) == ("outbox", sms, "undelivered.keep", date(2026, 12, 25))
    # The answer's files go after `[requests] keep_answer` (30 days); the stranger's identity stays longer.
    assert (answer.what, answer.id, answer.rule) == ("answer", opened.request.id, "requests.keep_answer")
    first = sweep.run(ceo)
    assert (first.outbox_forgotten, first.requests_forgotten, first.by_hand) == (1, 0, [])
    assert first.answers_forgotten == 1
    with pytest.raises(NotFound, match="no longer kept"):
        rights.answer(ceo, opened.request.id)
    shown = rights.show_request(ceo, opened.request.id)
    assert "letter.html" in shown.request.outcome["files"] and shown.request.outcome["answer_forgotten_on"]
    assert factory.state.outbox[sms].personal == {}
    assert "personal part forgotten on 2026-12-26" in (factory.state.outbox[sms].last_error or "")
    with pytest.raises(Conflict, match="nothing left to send"):
        outbox.retry_dead(ceo, sms)

    clock.advance(days=60)  # 2027-02-24: three months after the answer is the 25th
    [due] = sealed.plan(ceo)
    assert (due.what, due.id, due.by_hand) == ("outbox", deletion, due.by_hand)
    assert due.by_hand is not None and "by hand" in due.by_hand and "901" in due.by_hand
    assert sweep.run(ceo).by_hand == [deletion]
    assert factory.state.outbox[deletion].personal == {}
    assert (factory.state.outbox[deletion].last_error or "").startswith("to do by hand: HubSpot")

    assert rights.show_request(ceo, opened.request.id).identity == {"email": "stranger@example.no"}
    clock.advance(days=2)
    [due] = sealed.plan(ceo)
    assert (due.what, due.id, due.rule) == ("request", opened.request.id, "requests.keep_unmatched")
    assert sweep.run(ceo).requests_forgotten == 1
    assert rights.show_request(ceo, opened.request.id).identity is None
    assert sealed.plan(ceo) == []
    events = [e.action for e in factory.audit_entries()]
    assert events.count("outbox.forget") == 2 and events.count("request.forget") == 1
    assert events.count("request.forget_answer") == 1


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_the_notice_and_the_record_state_these_times(policy: Policy, lang: str) -> None:
    text = render_notice(policy, lang, "md").text
    days = "dager" if lang == "nb" else "days"
    assert f"30 {days}" in text and f"90 {days}" in text
    assert ("3 måneder" if lang == "nb" else "3 months") in text
    html = render_record(build_record(policy, "0" * 64, lang, NOW, {}, []), "html")
    for period in (f"30 {days}", f"90 {days}", "3 måneder" if lang == "nb" else "3 months"):
        assert period in html


def test_the_workers_daily_sweep_reminds_of_a_deletion_left_to_do_by_hand(ceo: Context, clock: FixedClock) -> None:
    deletion = _dead(ceo, "hubspot.delete", {"email": "kari@example.no"}, {"subject": "s1", "hubspot_ids": []})
    clock.advance(days=91)
    duty = review.daily(ceo)
    assert duty.swept is not None and duty.swept.by_hand == [deletion]
    assert any("must now be done by hand" in r and "outbox list --dead" in r for r in duty.reminders)
