"""The annual review on the in-memory store: the report, its hash, signing by the policy's role, and removal."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from personvern.domain.errors import Conflict, Forbidden, IntegrityBroken, InvalidInput, NotFound
from personvern.policy.loader import LoadedPolicy, parse_policy
from personvern.services import review, sweep
from personvern.services.admin import load_policy_version
from personvern.services.consent import give_consent
from personvern.services.context import Context
from personvern.services.register import add_subject, end_relationship, start_relationship
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock


@pytest.fixture
def ceo(ceo: Context) -> Context:
    return replace(ceo, policy_sha256="a" * 64)


def person(n: int) -> dict[str, str]:
    return {"full_name": f"Person Nummer{n}", "phone": f"9{n:07d}", "email": f"person{n}@example.no"}


LONG_AGO = datetime(2026, 6, 1, 12, tzinfo=UTC)  # past the 90 days the bundled policy keeps a prospect


def _register(ceo: Context) -> dict[str, str]:
    ids = {
        name: add_subject(ceo, "one_time_customer", person(n), {}, received_at=LONG_AGO if name == "bare" else None).id
        for n, name in enumerate(["open", "ended", "bare", "consent"])
    }
    start_relationship(ceo, ids["open"], "order", date(2026, 11, 1))
    start_relationship(ceo, ids["ended"], "order", date(2026, 1, 1))
    end_relationship(ceo, ids["ended"], "order", date(2026, 2, 1))
    give_consent(ceo, ids["consent"], "marketing", "sms", "web")
    return ids


def test_the_report_gives_each_record_its_reason_and_no_values(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    ids = _register(ceo)
    run = review.run_review(ceo, 2026)
    by_id = {e["id"]: e for e in run.report["subjects"]}
    assert by_id[ids["open"]]["reason"] == "agreement" and by_id[ids["open"]]["until"] is None
    assert by_id[ids["consent"]]["reason"] == "marketing_consent" and by_id[ids["consent"]]["until"] == "2036-11-25"
    assert by_id[ids["bare"]]["reason"] == "none" and by_id[ids["bare"]]["action"] == "archive"
    ended = by_id[ids["ended"]]
    assert (ended["reason"], ended["until"], ended["action"]) == ("bookkeeping", "2032-01-01", "erase")
    assert run.report["summary"]["without_reason"] == 1
    assert run.record.sha256 == review.digest(run.record.report)
    text = run.record.report
    for n in range(4):
        for value in person(n).values():
            assert value not in text
    assert factory.audit_entries()[-1].action == "review.run"
    assert factory.audit_entries()[-1].details["sha256"] == run.record.sha256


def test_signing_freezes_the_hash_in_the_audit_chain_and_removes_what_has_no_reason(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    ids = _register(ceo)
    run = review.run_review(ceo, 2026)
    # Between the run and the signing, the bare customer places an order: it has a reason again.
    other = add_subject(ceo, "one_time_customer", person(9), {}).id
    start_relationship(ceo, ids["bare"], "order")
    signed = review.sign_review(ceo, run.record.id)
    assert signed.record.signed_at == clock.at and signed.record.signed_by == ceo.actor.name
    assert signed.removed.skipped == 1 and signed.removed.archived == 0
    assert ids["bare"] in factory.state.subjects and other in factory.state.subjects  # not in the report
    actions = [e.action for e in factory.audit_entries()]
    assert "review.sign" in actions and factory.verify().ok
    [entry] = [e for e in factory.audit_entries() if e.action == "review.sign"]
    assert entry.details["sha256"] == run.record.sha256
    with pytest.raises(Conflict, match="signed"):
        review.sign_review(ceo, run.record.id)
    # 2025 has no signed review, but the register held no data in 2025: none is owed (issue 16).
    assert review.reminder(ceo) is None


def test_sign_removes_subjects_and_archived_records_without_reason(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    ids = _register(ceo)
    sweep.run(ceo)  # archives the bare one, erases the ended one but for its bookkeeping fields
    policy = ceo.policy.model_copy(
        update={
            "archive": ceo.policy.archive.model_copy(
                update={
                    "on_expiry": {
                        "one_time_customer": "erase",
                        "contract_customer": "archive",
                        "business_representative": "erase",
                    }
                }
            )
        }
    )
    stricter = replace(ceo, policy=policy)
    run = review.run_review(stricter, 2026)
    [archived] = run.report["archived"]
    assert archived["subject_id"] == ids["bare"] and archived["reason"] == "none"
    signed = review.sign_review(stricter, run.record.id)
    assert signed.archive_erased == 1 and factory.state.rights.archive == {}


def test_only_the_policys_signer_signs_and_bad_input_is_refused(
    ceo: Context,
    as_role,
    factory: FakeUnitOfWorkFactory,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(InvalidInput, match="year"):
        review.run_review(ceo, 2027)
    with pytest.raises(InvalidInput, match="year"):
        review.run_review(ceo, 1999)
    with pytest.raises(Forbidden):
        review.run_review(as_role("staff"), 2026)
    with pytest.raises(NotFound):
        review.sign_review(ceo, "nope")
    run = review.run_review(ceo, 2026)
    policy = ceo.policy.model_copy(update={"review": ceo.policy.review.model_copy(update={"signed_by": "auditor"})})
    with pytest.raises(Forbidden, match="auditor"):
        review.sign_review(replace(ceo, policy=policy), run.record.id)
    # A report changed behind the system's back no longer matches its hash.
    tampered = replace(run.record, report=run.record.report.replace('"year":2026', '"year":2025'))
    factory.state.retention.reviews[run.record.id] = tampered
    with pytest.raises(IntegrityBroken):
        review.sign_review(ceo, run.record.id)
    assert json.loads(run.record.report)["year"] == 2026


def test_reminder_after_the_review_month_until_signed(ceo: Context, clock: FixedClock) -> None:
    clock.at = datetime(2027, 1, 10, 12, tzinfo=UTC)
    assert review.reminder(ceo) is None  # an empty register owes no review
    clock.at = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 1 January 2027 in Oslo: the register's first year is 2027
    add_subject(ceo, "one_time_customer", person(1), {})
    clock.at = datetime(2027, 1, 10, 12, tzinfo=UTC)
    assert review.reminder(ceo) is None
    clock.at = datetime(2026, 12, 31, 12, tzinfo=UTC)  # data in 2026 (a simulation's clock goes back)
    add_subject(ceo, "one_time_customer", person(2), {})
    clock.at = datetime(2027, 1, 10, 12, tzinfo=UTC)
    note = review.reminder(ceo)
    assert note is not None and "2026" in note
    run = review.run_review(ceo, 2026)
    assert review.reminder(ceo) is not None  # run, but not signed
    review.sign_review(ceo, run.record.id)
    assert review.reminder(ceo) is None


def test_daily_sweeps_once_a_day(ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> None:
    _register(ceo)
    first = review.daily(ceo)  # the first sweep of a register waits for the CEO's `retention run`
    assert first.swept is not None and first.swept.done == 0 and first.waiting is not None
    assert sweep.run(ceo).done == 2  # the CEO's run: the confirmation
    assert review.daily(ceo).swept is None  # once a day
    clock.advance(days=1)
    again = review.daily(ceo)
    assert again.swept is not None and again.swept.done == 0
    clock.advance(days=1)
    staff = review.daily(replace(ceo, actor=replace(ceo.actor, role="staff")))
    assert staff.swept is None and "skipped" in staff.reminders[0]


def test_a_new_policy_version_marks_every_schedule_for_recomputation(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock, loaded: LoadedPolicy
) -> None:
    load_policy_version(factory, clock, ceo.actor, loaded)
    add_subject(ceo, "one_time_customer", person(1), {}, received_at=clock.at - timedelta(days=91))
    load_policy_version(factory, clock, ceo.actor, loaded)  # the same text: nothing changes
    assert len(factory.state.retention.schedules) == 1
    newer = parse_policy(loaded.text.replace('version = "2026.1"', 'version = "2026.2"', 1), "new.toml")
    load_policy_version(factory, clock, ceo.actor, newer)
    assert factory.state.retention.schedules == {}
    assert len(list(sweep.plan(ceo))) == 1 and len(factory.state.retention.schedules) == 1
