"""Keeping schedules current in the transaction of every change, and the plan and run on the in-memory store."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from personvern.domain.errors import Forbidden
from personvern.domain.retention import Action, Schedule
from personvern.domain.subjects import Relationship, RelationshipType
from personvern.services import sweep
from personvern.services.consent import give_consent, object_to, restrict, withdraw_consent
from personvern.services.register import (
    Context,
    add_subject,
    end_relationship,
    import_subjects,
    start_relationship,
    update_subject,
)
from personvern.services.retention import refresh_stale
from tests.unit.builders import ORGNR
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

KARI = {"full_name": "Kari Nordmann", "phone": "912 34 567", "email": "kari@example.no"}
PROSPECT_END = NOW.date() + timedelta(days=90)  # the bundled policy keeps a prospect 90 days from receipt
LONG_AGO = NOW - timedelta(days=120)  # received before that: nothing keeps someone with no order any more
ORG = {"organisation_number": ORGNR, "organisation_name": "Brønnøysundregistrene"}


def person(n: int) -> dict[str, str]:
    return {"full_name": f"Person Nummer{n}", "phone": f"9{n:07d}", "email": f"person{n}@example.no"}


@pytest.fixture
def ceo(ceo: Context) -> Context:
    return replace(ceo, policy_sha256="a" * 64)  # consent is tied to the notice the person saw


def schedule(factory: FakeUnitOfWorkFactory, sid: str) -> Schedule:
    return factory.state.retention.schedules[sid][0]


def test_a_new_subject_without_an_order_is_kept_as_a_prospect_for_the_policys_time(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    s = add_subject(ceo, "one_time_customer", KARI, {})
    assert schedule(factory, s.id) == Schedule(PROSPECT_END, Action.ARCHIVE, "prospect")


def test_a_subject_received_long_ago_without_an_order_is_due_since_the_prospect_time_ended(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    s = add_subject(ceo, "one_time_customer", KARI, {}, received_at=LONG_AGO)
    assert schedule(factory, s.id) == Schedule(LONG_AGO.date() + timedelta(days=90), Action.ARCHIVE, "prospect")


def test_relationships_and_consent_keep_the_schedule_current(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    s = add_subject(ceo, "one_time_customer", KARI, {})
    start_relationship(ceo, s.id, "order", date(2026, 11, 25))
    sch = schedule(factory, s.id)
    assert sch.retain_until is None and sch.rule == "agreement"
    assert sch.hold_until == date(2032, 1, 1) and sch.hold_fields is not None and "email" in sch.hold_fields
    give_consent(ceo, s.id, "marketing", "sms", "web")
    assert schedule(factory, s.id).retain_until is None
    end_relationship(ceo, s.id, "order", date(2026, 11, 25))
    assert schedule(factory, s.id).retain_until == date(2036, 11, 25)  # ten years from receipt
    clock.advance(days=30)
    withdraw_consent(ceo, s.id, "marketing", "sms", "web")
    assert schedule(factory, s.id).retain_until == date(2026, 12, 25)  # at once
    assert schedule(factory, s.id).action is Action.ARCHIVE


def test_objection_makes_the_action_erase_and_restriction_keeps(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    s = add_subject(ceo, "one_time_customer", KARI, {}, received_at=LONG_AGO)
    object_to(ceo, s.id, "marketing")
    assert schedule(factory, s.id).action is Action.ERASE
    restrict(ceo, s.id)
    assert schedule(factory, s.id).retain_until is None and schedule(factory, s.id).rule == "restriction"
    restrict(ceo, s.id, lift=True)
    assert schedule(factory, s.id).retain_until == LONG_AGO.date() + timedelta(days=90)


def test_import_computes_every_schedule_in_the_same_transaction(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    rows = [(n + 2, {k: v for k, v in person(n).items()}) for n in range(20)]
    assert import_subjects(ceo, "one_time_customer", rows, {}) == 20
    assert factory.commits == 1
    assert set(factory.state.retention.schedules) == set(factory.state.subjects)


def test_imported_representatives_count_their_organisations_contract(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    customer = add_subject(ceo, "contract_customer", {**person(1), **ORG}, {})
    start_relationship(ceo, customer.id, "contract", date(2026, 1, 1), ends_on=date(2027, 6, 30))
    other_org = {"organisation_number": "923609016", "organisation_name": "Annen AS"}
    rows = [(2, {**person(2), **ORG}), (3, {**person(3), **other_org})]  # the second's has no contract
    assert import_subjects(ceo, "business_representative", rows, {}) == 2
    by_phone = {s.values["phone"]: s.id for s in factory.state.subjects.values()}
    assert schedule(factory, by_phone["+4790000002"]).retain_until == date(2027, 6, 30)
    assert schedule(factory, by_phone["+4790000003"]).retain_until == PROSPECT_END


def test_a_representative_is_kept_by_the_organisations_contract(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    customer = add_subject(ceo, "contract_customer", {**person(1), **ORG}, {})
    start_relationship(ceo, customer.id, "contract", date(2026, 1, 1), ends_on=date(2027, 6, 30))
    rep = add_subject(ceo, "business_representative", {**person(2), **ORG}, {})
    assert schedule(factory, rep.id).retain_until == date(2027, 6, 30)
    end_relationship(ceo, customer.id, "contract", date(2026, 11, 25))
    assert schedule(factory, rep.id).retain_until == date(2026, 11, 25)  # the peer was recomputed too
    assert schedule(factory, rep.id).action is Action.ERASE  # the policy erases representatives
    # Moving to another organisation takes the old one's contracts away.
    other = add_subject(ceo, "business_representative", {**person(3), **ORG}, {})
    assert schedule(factory, other.id).retain_until == date(2026, 11, 25)
    update_subject(ceo, other.id, {"organisation_number": "923609016"}, [], {})
    # With no order, contract or consent of their own or their new organisation's, only the prospect rule is left.
    assert schedule(factory, other.id).retain_until == PROSPECT_END


def test_stale_schedules_are_computed_before_planning(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    s = add_subject(ceo, "one_time_customer", KARI, {})
    factory.state.retention.schedules.clear()
    assert refresh_stale(ceo) == 1
    assert schedule(factory, s.id).retain_until == PROSPECT_END


# ---------------------------------------------------------------- plan and run


def _timeline(ceo: Context, clock: FixedClock) -> dict[str, str]:
    """One of each: an ended order, an open order, a contract, consent kept, consent withdrawn, an objection."""
    ids = {}
    for n, name in enumerate(["ended", "open", "contract", "consent", "withdrawn", "objected"]):
        kind = "contract_customer" if name == "contract" else "one_time_customer"
        values = {**person(n), **ORG} if kind == "contract_customer" else person(n)
        ids[name] = add_subject(ceo, kind, values, {}).id
    start_relationship(ceo, ids["ended"], "order", date(2026, 1, 5))
    end_relationship(ceo, ids["ended"], "order", date(2026, 2, 1))
    start_relationship(ceo, ids["open"], "order", date(2026, 1, 5))
    start_relationship(ceo, ids["contract"], "contract", date(2026, 1, 1), ends_on=date(2027, 12, 31))
    for name in ("consent", "withdrawn", "objected"):
        give_consent(ceo, ids[name], "marketing", "email", "web")
    clock.advance(days=1)
    withdraw_consent(ceo, ids["withdrawn"], "marketing", "email", "web")
    object_to(ceo, ids["objected"], "marketing")
    return ids


def test_plan_lists_what_is_due_with_action_rule_and_since(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    ids = _timeline(ceo, clock)
    due = {d.subject_id: d for d in sweep.plan(ceo)}
    assert set(due) == {ids["ended"], ids["withdrawn"], ids["objected"]}
    ended = due[ids["ended"]]
    # The order's bookkeeping fields are held until 2032: only the rest is due, by erasure, archived later.
    assert (ended.step, ended.rule, ended.since, ended.held_until, ended.then) == (
        Action.ERASE,
        "agreement",
        date(2026, 2, 1),
        date(2032, 1, 1),
        Action.ARCHIVE,
    )
    assert ended.fields == ("phone",) and ended.held == ("full_name", "email")  # of the fields it holds
    withdrawn = due[ids["withdrawn"]]
    assert (withdrawn.step, withdrawn.rule, withdrawn.since, withdrawn.partial) == (
        Action.ARCHIVE,
        "marketing_consent",
        date(2026, 11, 26),
        False,
    )
    assert due[ids["objected"]].step is Action.ERASE
    assert factory.audit_entries()[-1].action == "retention.plan"


def test_run_archives_erases_and_holds_then_nothing_is_due(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    ids = _timeline(ceo, clock)
    ticks: list[int] = []
    result = sweep.run(ceo, batch=2, progress=ticks.append)
    assert (result.due, result.archived, result.erased, result.held, result.failed) == (3, 1, 1, 1, [])
    assert sum(ticks) == 3
    assert list(sweep.plan(ceo)) == []
    state = factory.state
    assert ids["withdrawn"] not in state.subjects and any(
        r.subject_id == ids["withdrawn"] for r, _v in state.rights.archive.values()
    )
    assert ids["objected"] not in state.subjects and not state.rights.archive.get(ids["objected"])
    # The ended order's person: erased but for the bookkeeping fields, kept until 2032, then archived.
    held = state.subjects[ids["ended"]]
    assert "phone" not in held.values and "email" in held.values
    sch = schedule(factory, ids["ended"])
    assert (sch.retain_until, sch.action) == (date(2032, 1, 1), Action.ARCHIVE)
    assert {ids["open"], ids["contract"], ids["consent"]} <= set(state.subjects)
    assert factory.verify().ok
    clock.at = datetime(2032, 1, 1, 12, tzinfo=NOW.tzinfo)
    later = sweep.run(ceo)
    assert ids["ended"] not in factory.state.subjects and later.archived >= 1


def test_only_the_role_that_runs_retention_may_plan_or_run(as_role) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        list(sweep.plan(as_role("staff")))
    with pytest.raises(Forbidden):
        sweep.run(as_role("auditor"))


def test_the_run_checks_the_facts_again_before_acting(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    sid = add_subject(ceo, "one_time_customer", KARI, {}, received_at=LONG_AGO).id
    # An order recorded behind the schedule's back (no refresh): the run must not archive the customer.
    factory.state.relationships["r"] = Relationship("r", sid, RelationshipType.ORDER, date(2026, 11, 1))
    result = sweep.run(ceo)
    assert (result.skipped, result.archived) == (1, 0) and sid in factory.state.subjects
    assert schedule(factory, sid).retain_until is None
