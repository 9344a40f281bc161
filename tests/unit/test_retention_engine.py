"""The retention engine: the policy's rules on examples, and properties over random histories (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personvern.domain.consent import Block, BlockKind, ConsentAction, ConsentEvent, ConsentMethod, current_state
from personvern.domain.retention import (
    OPEN_REQUEST,
    RESTRICTION,
    Action,
    Decision,
    Facts,
    add,
    decide,
    legal_holds,
)
from personvern.domain.subjects import Relationship, RelationshipType
from personvern.policy.schema import Duration, Policy

BOOKKEEPING_FIELDS = frozenset(
    {
        "full_name",
        "email",
        "organisation_number",
        "organisation_name",
        "company_name",
        "billing_address",
        "invoice_reference",
    }
)
NOTICE = "0" * 64


def at(d: date, hour: int = 12) -> datetime:
    return datetime.combine(d, time(hour), tzinfo=UTC)


def order(start: date, ended: date | None = None, rid: str = "r1") -> Relationship:
    return Relationship(rid, "s1", RelationshipType.ORDER, start, None, ended)


def contract(start: date, ends: date | None = None, ended: date | None = None, rid: str = "c1") -> Relationship:
    return Relationship(rid, "s1", RelationshipType.CONTRACT, start, ends, ended)


def consent(d: date, action: str = "given", channel: str = "sms", eid: str | None = None) -> ConsentEvent:
    return ConsentEvent(
        eid or f"{d.isoformat()}-{channel}-{action}",
        "s1",
        "marketing",
        channel,
        ConsentAction(action),
        at(d),
        ConsentMethod.WEB,
        "tester",
        "ceo",
        NOTICE,
    )


def objection(d: date, lifted: date | None = None) -> Block:
    return Block(
        f"o-{d.isoformat()}",
        "s1",
        BlockKind.OBJECTION,
        "marketing",
        at(d, 13),
        "tester",
        lifted_at=at(lifted, 14) if lifted else None,
    )


def facts(
    kind: str = "one_time_customer",
    received: date = date(2020, 3, 1),
    relationships: tuple[Relationship, ...] = (),
    consents: tuple[ConsentEvent, ...] = (),
    blocks: tuple[Block, ...] = (),
    **kw: bool,
) -> Facts:
    return Facts(kind, at(received, 9), relationships, consents, blocks, **kw)


def rules(d: Decision) -> set[str]:
    return {r.rule for r in d.reasons}


# ---------------------------------------------------------------- the policy's rules on examples


def test_calendar_arithmetic_29_february() -> None:
    assert add(date(2024, 2, 29), Duration(years=1)) == date(2025, 2, 28)
    assert add(date(2024, 1, 31), Duration(months=1)) == date(2024, 2, 29)
    assert add(date(2024, 2, 29), Duration(years=4)) == date(2028, 2, 29)


def test_one_time_customer_with_an_open_order_is_kept_open_ended(policy: Policy) -> None:
    d = decide(policy, facts(relationships=(order(date(2026, 1, 10)),)), date(2026, 11, 25))
    assert not d.due and d.kept_until is None and d.until is None
    assert "agreement" in rules(d)
    # The order's year is bookkept: those fields are held until five years after that financial year.
    assert [(h.rule, h.until, h.fields) for h in d.holds] == [("bookkeeping", date(2032, 1, 1), BOOKKEEPING_FIELDS)]


def test_ended_order_archives_at_once_but_holds_the_bookkeeping_fields(policy: Policy) -> None:
    f = facts(relationships=(order(date(2026, 1, 10), ended=date(2026, 3, 1)),))
    d = decide(policy, f, date(2026, 11, 25))
    assert d.due and d.kept_until == date(2026, 3, 1) and d.cause == "agreement"
    assert d.action is Action.ARCHIVE
    assert d.hold_until == date(2032, 1, 1) and d.held_fields == BOOKKEEPING_FIELDS
    assert d.until == date(2032, 1, 1)
    [hold] = legal_holds(policy, f, date(2026, 11, 25))
    assert hold.rule == "bookkeeping" and hold.legal_obligation and hold.until == date(2032, 1, 1)
    # On the first day of 2032 the hold is over too.
    later = decide(policy, f, date(2032, 1, 1))
    assert later.holds == () and legal_holds(policy, f, date(2032, 1, 1)) == []
    assert decide(policy, f, date(2031, 12, 31)).hold_until == date(2032, 1, 1)


def test_order_of_29_december_is_bookkept_in_its_own_year(policy: Policy) -> None:
    f = facts(relationships=(order(date(2026, 12, 29), ended=date(2027, 1, 5)),))
    assert decide(policy, f, date(2027, 2, 1)).hold_until == date(2032, 1, 1)


def test_contract_customer_kept_until_the_contract_ends_then_bookkeeping_from_its_end(policy: Policy) -> None:
    f = facts(kind="contract_customer", relationships=(contract(date(2025, 1, 1), ends=date(2027, 6, 30)),))
    d = decide(policy, f, date(2026, 11, 25))
    assert not d.due and d.kept_until == date(2027, 6, 30) and d.cause == "agreement"
    assert d.hold_until == date(2033, 1, 1)
    after = decide(policy, f, date(2027, 6, 30))
    assert after.due and after.kept_until == date(2027, 6, 30) and after.action is Action.ARCHIVE


def test_contract_without_end_is_open_ended_with_its_bookkeeping(policy: Policy) -> None:
    f = facts(kind="contract_customer", relationships=(contract(date(2025, 1, 1)),))
    d = decide(policy, f, date(2026, 11, 25))
    assert d.kept_until is None and d.holds[0].until is None and d.until is None


def test_marketing_consent_keeps_ten_years_from_receipt(policy: Policy) -> None:
    f = facts(
        received=date(2020, 3, 1),
        relationships=(order(date(2020, 3, 1), ended=date(2020, 4, 1)),),
        consents=(consent(date(2020, 3, 1)),),
    )
    d = decide(policy, f, date(2026, 11, 25))
    assert not d.due and d.kept_until == date(2030, 3, 1) and d.cause == "marketing_consent"
    assert decide(policy, f, date(2030, 3, 1)).due


def test_withdrawal_ends_the_consent_reason_at_once(policy: Policy) -> None:
    f = facts(
        relationships=(order(date(2020, 3, 1), ended=date(2020, 4, 1)),),
        consents=(consent(date(2020, 3, 1)), consent(date(2026, 5, 4), "withdrawn")),
    )
    d = decide(policy, f, date(2026, 11, 25))
    assert d.due and d.kept_until == date(2026, 5, 4) and d.cause == "marketing_consent"
    assert d.action is Action.ARCHIVE  # withdrawing consent is no erasure request


def test_consent_on_another_channel_still_keeps(policy: Policy) -> None:
    f = facts(
        consents=(
            consent(date(2020, 3, 1)),
            consent(date(2021, 1, 1), channel="email"),
            consent(date(2026, 5, 4), "withdrawn"),
        ),
    )
    assert decide(policy, f, date(2026, 11, 25)).kept_until == date(2030, 3, 1)


def test_objection_ends_consent_and_makes_the_action_erase(policy: Policy) -> None:
    f = facts(
        relationships=(order(date(2020, 3, 1), ended=date(2020, 4, 1)),),
        consents=(consent(date(2020, 3, 1)),),
        blocks=(objection(date(2026, 6, 1)),),
    )
    d = decide(policy, f, date(2026, 11, 25))
    assert d.due and d.kept_until == date(2026, 6, 1) and d.action is Action.ERASE


def test_objection_while_the_order_is_open_changes_only_the_action(policy: Policy) -> None:
    f = facts(
        relationships=(order(date(2026, 1, 1)),),
        consents=(consent(date(2026, 1, 1)),),
        blocks=(objection(date(2026, 6, 1)),),
    )
    d = decide(policy, f, date(2026, 11, 25))
    assert not d.due and d.kept_until is None and d.action is Action.ERASE
    assert "marketing_consent" not in rules(d)


def test_fresh_consent_after_a_lifted_objection_keeps_again(policy: Policy) -> None:
    f = facts(
        consents=(consent(date(2020, 3, 1)), consent(date(2026, 7, 1), eid="z-fresh")),
        blocks=(objection(date(2026, 6, 1), lifted=date(2026, 7, 1)),),
    )
    d = decide(policy, f, date(2026, 11, 25))
    assert not d.due and d.kept_until == date(2030, 3, 1) and d.action is Action.ARCHIVE


def test_open_request_and_restriction_keep_everything(policy: Policy) -> None:
    ended = facts(relationships=(order(date(2020, 3, 1), ended=date(2020, 4, 1)),))
    assert decide(policy, ended, date(2026, 11, 25)).due
    d = decide(policy, replace(ended, open_request=True), date(2026, 11, 25))
    assert not d.due and d.kept_until is None and OPEN_REQUEST in rules(d)
    restricted = replace(ended, blocks=(Block("b", "s1", BlockKind.RESTRICTION, None, at(date(2026, 1, 1)), "t"),))
    d = decide(policy, restricted, date(2026, 11, 25))
    assert not d.due and RESTRICTION in rules(d)


def test_erasure_request_erases_never_archives(policy: Policy) -> None:
    f = facts(relationships=(order(date(2020, 3, 1), ended=date(2020, 4, 1)),), erasure_requested=True)
    assert decide(policy, f, date(2026, 11, 25)).action is Action.ERASE


def test_business_representative_without_relationship_is_kept_as_a_prospect_then_erased(policy: Policy) -> None:
    d = decide(policy, facts(kind="business_representative", received=date(2026, 2, 1)), date(2026, 11, 25))
    # Kept as a prospect for 90 days from receipt (Art. 6(1)(b)), then erased as the policy says for the kind.
    assert d.due and d.kept_until == date(2026, 5, 2) and d.cause == "prospect" and d.action is Action.ERASE
    assert d.reasons == ()


def test_kind_outside_a_rule_is_not_kept_by_it(policy: Policy) -> None:
    narrowed = policy.model_copy(
        update={
            "retention": {
                **policy.retention,
                "agreement": policy.retention["agreement"].model_copy(update={"kinds": ["contract_customer"]}),
            }
        }
    )
    d = decide(narrowed, facts(relationships=(order(date(2026, 1, 1)),)), date(2026, 11, 25))
    assert "agreement" not in rules(d) and d.due


def test_received_day_is_the_controllers_day(policy: Policy) -> None:
    # 23:30 UTC on 31 December is already 1 January in Oslo: ten years count from 1 January.
    f = Facts("one_time_customer", datetime(2020, 12, 31, 23, 30, tzinfo=UTC), (), (consent(date(2021, 1, 1)),), ())
    assert decide(policy, f, date(2026, 1, 1)).kept_until == date(2031, 1, 1)


# ---------------------------------------------------------------- properties over random histories

START = date(2015, 1, 1)


def _day(n: int) -> date:
    return START + timedelta(days=n)


@st.composite
def relationships(draw: st.DrawFn) -> tuple[Relationship, ...]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, 4000))
        if draw(st.booleans()):
            ended = draw(st.none() | st.integers(start, 4200))
            out.append(order(_day(start), _day(ended) if ended is not None else None, f"o{i}"))
        else:
            ends = draw(st.none() | st.integers(start + 1, 4500))
            ended = draw(st.none() | st.integers(start, 4200))
            out.append(
                contract(_day(start), _day(ends) if ends else None, _day(ended) if ended is not None else None, f"c{i}")
            )
    return tuple(out)


@st.composite
def histories(draw: st.DrawFn) -> tuple[Facts, date]:
    """A subject with orders and contracts, a consent ledger in time order, objections and perhaps a restriction."""
    kind = draw(st.sampled_from(["one_time_customer", "contract_customer", "business_representative"]))
    received = draw(st.integers(0, 3000))
    rels = draw(relationships())
    moment = received
    events: list[ConsentEvent] = []
    blocks: list[Block] = []
    for i in range(draw(st.integers(0, 6))):
        moment += draw(st.integers(0, 400))
        what = draw(st.sampled_from(["given", "withdrawn", "objection"]))
        if what == "objection":
            blocks.append(objection(_day(moment)))
            continue
        channel = draw(st.sampled_from(["sms", "email"]))
        state = current_state(events).get(("marketing", channel))
        if what == "withdrawn" and (state is None or state.action is not ConsentAction.GIVEN):
            continue
        events.append(consent(_day(moment), what, channel, eid=f"{i:03d}"))
        if what == "given":  # a fresh consent lifts the objections set before it (Art. 21(3))
            blocks = [
                b.lifted(at(_day(moment), 14), "t", None) if b.active and b.set_at < events[-1].at else b
                for b in blocks
            ]
    if draw(st.booleans()) and draw(st.booleans()):
        blocks.append(Block("r", "s1", BlockKind.RESTRICTION, None, at(_day(moment)), "t"))
    f = Facts(
        kind,
        at(_day(received), 9),
        rels,
        tuple(events),
        tuple(blocks),
        open_request=draw(st.booleans()) and draw(st.booleans()),
    )
    today = _day(moment + draw(st.integers(0, 5000)))
    return f, today


def _le(a: date | None, b: date | None) -> bool:
    """a <= b where None is the open end (later than every date)."""
    return b is None or (a is not None and a <= b)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_the_date_is_never_before_a_live_reason_ends_nor_after_the_latest(
    policy: Policy, case: tuple[Facts, date]
) -> None:
    f, today = case
    d = decide(policy, f, today)
    whole = [r for r in d.reasons if r.fields is None]
    for r in whole:
        assert r.until is None or r.until > today  # only reasons in force are listed
        assert _le(r.until, d.kept_until)
    for r in d.reasons:
        assert _le(r.until, d.until)
    if whole:
        assert not d.due
        assert any(r.until == d.kept_until for r in whole)  # never after the latest reason ends
    else:
        assert d.due and d.kept_until is not None and d.kept_until <= today
    if d.holds:
        assert any(r.until == d.hold_until for r in d.holds)
        assert d.until in (d.kept_until, d.hold_until)
    else:
        assert d.until == d.kept_until


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.integers(0, 400), st.sampled_from(["sms", "email"]))
def test_a_withdrawal_never_lengthens_it(policy: Policy, case: tuple[Facts, date], gap: int, channel: str) -> None:
    f, today = case
    last = max([f.received_at, *(e.at for e in f.consents), *(b.set_at for b in f.blocks)])
    state = current_state(f.consents).get(("marketing", channel))
    if state is None or state.action is not ConsentAction.GIVEN:
        return
    when = last.date() + timedelta(days=gap)
    withdrawn = replace(f, consents=(*f.consents, consent(when, "withdrawn", channel, eid="zzz")))
    day = max(today, when)
    before, after = decide(policy, f, day), decide(policy, withdrawn, day)
    assert _le(after.kept_until, before.kept_until) or (before.due and after.due)
    assert _le(after.until, before.until) or (before.due and after.due)
    assert after.due or not before.due
    assert {r.rule for r in after.reasons} <= {r.rule for r in before.reasons}


@settings(max_examples=200)
@given(histories())
def test_an_objection_in_force_always_erases_and_an_open_request_always_keeps(
    policy: Policy, case: tuple[Facts, date]
) -> None:
    f, today = case
    if any(b.active and b.kind is BlockKind.OBJECTION for b in f.blocks):
        assert decide(policy, f, today).action is Action.ERASE
    held = decide(policy, replace(f, open_request=True), today)
    assert not held.due and held.kept_until is None


@settings(max_examples=200)
@given(histories())
def test_legal_holds_are_the_legal_obligation_reasons_in_force(policy: Policy, case: tuple[Facts, date]) -> None:
    f, today = case
    holds = legal_holds(policy, f, today)
    assert all(
        h.legal_obligation and h.purpose == "bookkeeping" and (h.until is None or h.until > today) for h in holds
    )
    if f.relationships:
        assert all(h.fields == BOOKKEEPING_FIELDS for h in holds)
    else:
        assert holds == []


@pytest.mark.parametrize("kind", ["one_time_customer", "contract_customer"])
def test_the_policys_expiry_action_per_kind(policy: Policy, kind: str) -> None:
    assert decide(policy, facts(kind=kind), date(2026, 11, 25)).action is Action.ARCHIVE


def test_an_erased_subject_is_kept_only_for_its_legal_hold_then_erased(policy: Policy) -> None:
    f = facts(relationships=(order(date(2026, 1, 10)),), erased=True)
    d = decide(policy, f, date(2026, 11, 25))
    # The open order no longer keeps the whole record: it was erased but for the bookkeeping fields.
    assert not d.due and d.kept_until == date(2032, 1, 1) and d.cause == "bookkeeping"
    assert d.action is Action.ARCHIVE and "agreement" not in rules(d)
    later = decide(policy, f, date(2032, 1, 1))
    assert later.due and later.kept_until == date(2032, 1, 1) and later.action is Action.ARCHIVE
    assert decide(policy, replace(f, erasure_requested=True), date(2032, 1, 1)).action is Action.ERASE
    assert decide(policy, replace(f, open_request=True), date(2032, 1, 1)).kept_until is None


# ---------------------------------------------------------------- prospects: steps before a contract (Art. 6(1)(b))


def test_a_prospect_is_kept_for_the_policys_time_from_receipt(policy: Policy) -> None:
    d = decide(policy, facts(received=date(2026, 11, 1)), date(2026, 11, 25))
    assert not d.due and d.kept_until == date(2027, 1, 30) and d.cause == "prospect"
    [reason] = [r for r in d.reasons if r.fields is None]
    assert (reason.rule, reason.purpose, reason.until) == ("prospect", "service", date(2027, 1, 30))
    later = decide(policy, facts(received=date(2026, 11, 1)), date(2027, 1, 30))
    assert later.due and later.kept_until == date(2027, 1, 30) and later.cause == "prospect"
    assert later.action is Action.ARCHIVE  # as the policy says for one-time customers


def test_an_order_a_contract_or_a_consent_ends_being_a_prospect(policy: Policy) -> None:
    received = date(2026, 11, 1)
    for history in (
        {"relationships": (order(date(2026, 11, 10)),)},
        {"relationships": (contract(date(2027, 1, 1), ends=date(2028, 1, 1)),)},  # a contract not yet begun
        {"consents": (consent(date(2026, 11, 2)),)},
    ):
        d = decide(policy, facts(received=received, **history), date(2026, 11, 25))  # type: ignore[arg-type]
        assert "prospect" not in rules(d) and d.cause != "prospect", history
    # An ended order does not make a prospect of the customer again: the agreement ended, and so does the keeping.
    done = (order(date(2026, 11, 2), date(2026, 11, 5)),)
    ended = decide(policy, facts(received=received, relationships=done), date(2026, 11, 25))
    assert "prospect" not in rules(ended) and ended.cause == "agreement"
    # Nor does a withdrawn consent: it ends the keeping at once (Art. 7(3)).
    withdrawn = (consent(date(2026, 11, 2)), consent(date(2026, 11, 3), "withdrawn"))
    gone = decide(policy, facts(received=received, consents=withdrawn), date(2026, 11, 25))
    assert gone.due and gone.kept_until == date(2026, 11, 3) and gone.cause == "marketing_consent"


def test_a_representative_of_an_organisation_with_a_contract_is_no_prospect(policy: Policy) -> None:
    theirs = contract(date(2026, 1, 1), ends=date(2027, 6, 30))  # the organisation's, in the representative's facts
    d = decide(policy, facts("business_representative", date(2026, 11, 1), (theirs,)), date(2026, 11, 25))
    assert "prospect" not in rules(d) and d.kept_until == date(2027, 6, 30) and d.cause == "agreement"


def test_a_rule_for_prospects_must_count_from_receipt(policy: Policy) -> None:
    from pydantic import ValidationError

    from personvern.policy.schema import RetentionRule

    base = policy.retention["prospect"].model_dump()
    for broken in ({"counts_from": None, "keep": None}, {"counts_from": "relationship_end"}):
        with pytest.raises(ValidationError, match="prospects"):
            RetentionRule.model_validate(base | broken)
