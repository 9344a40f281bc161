"""The consent rules: state from the ledger, objections and their lifting, restriction, and checks of input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain.consent import (
    Block,
    BlockKind,
    ConsentAction,
    ConsentEvent,
    ConsentMethod,
    ConsentStatus,
    channel_field,
    check_consent_target,
    check_method,
    check_notice,
    check_objection_purpose,
    current_state,
    effective_consent,
    effective_consents,
    latest_event,
    marketing_block_reason,
    objections_lifted_by,
)
from personvern.domain.errors import InvalidInput
from personvern.policy.schema import Policy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SID = "s1"


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def event(
    n: int, action: str = "given", channel: str = "sms", eid: str | None = None, purpose: str = "marketing"
) -> ConsentEvent:
    return ConsentEvent(
        eid or f"e{n:04d}",
        SID,
        purpose,
        channel,
        ConsentAction(action),
        day(n),
        ConsentMethod.WEB,
        "u",
        "ceo",
        "a" * 64,
    )


def objection(n: int, lifted: int | None = None, purpose: str = "marketing", bid: str = "b1") -> Block:
    block = Block(bid, SID, BlockKind.OBJECTION, purpose, day(n), "u")
    return block if lifted is None else block.lifted(day(lifted), "u", "fresh consent")


def restriction(n: int, lifted: int | None = None, bid: str = "r1") -> Block:
    block = Block(bid, SID, BlockKind.RESTRICTION, None, day(n), "u")
    return block if lifted is None else block.lifted(day(lifted), "u", None)


# ---------------------------------------------------------------- the rule, case by case


def test_no_consent_blocks_and_says_so() -> None:
    assert marketing_block_reason([], [], "sms") == "no consent to marketing by sms"
    assert marketing_block_reason([event(1, channel="email")], [], "sms") == "no consent to marketing by sms"


def test_a_consent_in_force_allows_marketing_on_its_channel_only() -> None:
    events = [event(1)]
    assert marketing_block_reason(events, [], "sms") is None
    assert marketing_block_reason(events, [], "email") == "no consent to marketing by email"


def test_a_withdrawal_blocks_and_names_its_date() -> None:
    events = [event(1), event(59, "withdrawn")]
    assert marketing_block_reason(events, [], "sms") == "consent to marketing by sms was withdrawn on 2026-03-01"


def test_consent_given_again_after_a_withdrawal_is_in_force() -> None:
    assert marketing_block_reason([event(1), event(2, "withdrawn"), event(3)], [], "sms") is None


def test_an_objection_blocks_whatever_the_consent_says() -> None:
    reason = marketing_block_reason([event(1), event(5)], [objection(3)], "sms")
    assert reason is not None
    assert reason.startswith("the person objected to marketing on 2026-01-04")
    assert "Art. 21(3)" in reason


def test_an_objection_to_another_purpose_does_not_block_marketing() -> None:
    assert marketing_block_reason([event(1)], [objection(3, purpose="b2b_contact")], "sms") is None


def test_a_consent_from_before_a_lifted_objection_stays_void() -> None:
    # Lifted by a fresh consent on email: SMS consent predates the objection and does not come back.
    events = [event(1, channel="sms"), event(5, channel="email")]
    blocks = [objection(3, lifted=5)]
    assert marketing_block_reason(events, blocks, "email") is None
    reason = marketing_block_reason(events, blocks, "sms")
    assert reason is not None
    assert "given before the objection on 2026-01-04" in reason


def test_a_consent_at_the_same_instant_as_the_objection_does_not_count() -> None:
    assert marketing_block_reason([event(3)], [objection(3, lifted=4)], "sms") is not None


def test_a_restriction_blocks_and_names_article_18() -> None:
    reason = marketing_block_reason([event(1)], [restriction(2)], "sms")
    assert reason == "processing is restricted (Art. 18) since 2026-01-03"
    assert marketing_block_reason([event(1)], [restriction(2, lifted=3)], "sms") is None


def test_a_restriction_is_named_before_an_objection() -> None:
    reason = marketing_block_reason([event(1)], [objection(2), restriction(3)], "sms")
    assert reason is not None
    assert "Art. 18" in reason


def test_objections_lifted_only_by_a_consent_given_strictly_after_them() -> None:
    blocks = [objection(3, bid="o1"), objection(5, bid="o2"), objection(1, lifted=2, bid="old"), restriction(0)]
    assert [b.id for b in objections_lifted_by(blocks, event(4))] == ["o1"]
    assert [b.id for b in objections_lifted_by(blocks, event(6))] == ["o1", "o2"]
    assert objections_lifted_by(blocks, event(3)) == []
    assert objections_lifted_by(blocks, event(6, "withdrawn")) == []
    assert objections_lifted_by(blocks, event(6, purpose="other")) == []


def test_ties_in_time_are_broken_by_id() -> None:
    events = [event(1, "given", eid="b"), event(1, "withdrawn", eid="a")]
    assert current_state(events)[("marketing", "sms")].id == "b"
    assert marketing_block_reason(events, [], "sms") is None
    assert latest_event(events, "marketing", "sms") == events[0]


# ---------------------------------------------------------------- properties over random histories

instants = st.integers(0, 6)  # few distinct days, so ties in time are common
ids = st.text("abcdef0123", min_size=1, max_size=3)
events_st = st.lists(
    st.builds(
        lambda n, action, channel, eid: event(n, action, channel, eid),
        instants,
        st.sampled_from(["given", "withdrawn"]),
        st.sampled_from(["sms", "email"]),
        ids,
    ),
    max_size=12,
    unique_by=lambda e: e.id,
)
blocks_st = st.lists(
    st.builds(
        lambda kind, n, lifted_after, purpose, bid: Block(
            bid,
            SID,
            kind,
            purpose if kind is BlockKind.OBJECTION else None,
            day(n),
            "u",
            lifted_at=None if lifted_after is None else day(n + lifted_after),
        ),
        st.sampled_from(list(BlockKind)),
        instants,
        st.none() | st.integers(0, 3),
        st.sampled_from(["marketing", "b2b_contact"]),
        ids,
    ),
    max_size=4,
    unique_by=lambda b: b.id,
)


@given(events_st)
def test_the_state_is_the_latest_event_by_time_then_id(events: list[ConsentEvent]) -> None:
    state = current_state(events)
    assert set(state) == {e.key for e in events}
    for key, chosen in state.items():
        same = [e for e in events if e.key == key]
        assert chosen == max(same, key=lambda e: (e.at, e.id))
    # The order the events arrive in does not matter.
    assert current_state(reversed(events)) == state


@given(events_st, blocks_st, st.sampled_from(["sms", "email"]))
def test_the_rule_matches_its_definition(events: list[ConsentEvent], blocks: list[Block], channel: str) -> None:
    latest = current_state(events).get(("marketing", channel))
    restricted = any(b.active and b.kind is BlockKind.RESTRICTION for b in blocks)
    objected = any(
        b.kind is BlockKind.OBJECTION
        and b.purpose == "marketing"
        and (b.active or (latest is not None and b.set_at >= latest.at))
        for b in blocks
    )
    allowed = latest is not None and latest.action is ConsentAction.GIVEN and not restricted and not objected
    assert (marketing_block_reason(events, blocks, channel) is None) == allowed


@given(events_st, blocks_st, st.sampled_from(["sms", "email"]))
def test_a_withdrawal_after_the_last_consent_always_blocks(
    events: list[ConsentEvent], blocks: list[Block], channel: str
) -> None:
    last = max([e.order for e in events if e.key == ("marketing", channel)], default=(day(0), ""))
    withdrawal = event(6, "withdrawn", channel, eid="zzzz")
    if withdrawal.order <= last:
        return
    assert marketing_block_reason([*events, withdrawal], blocks, channel) is not None


@given(blocks_st, events_st)
def test_an_objection_is_lifted_only_by_a_consent_strictly_after_it(
    blocks: list[Block], events: list[ConsentEvent]
) -> None:
    for e in events:
        lifted = objections_lifted_by(blocks, e)
        for b in blocks:
            expected = (
                e.action is ConsentAction.GIVEN
                and b.active
                and b.kind is BlockKind.OBJECTION
                and b.purpose == e.purpose
                and b.set_at < e.at
            )
            assert (b in lifted) == expected


@given(events_st, blocks_st)
def test_after_a_fresh_consent_lifts_the_objections_marketing_on_its_channel_is_allowed(
    events: list[ConsentEvent], blocks: list[Block]
) -> None:
    fresh = event(9, "given", "sms", eid="zzzz")
    lifted = {b.id for b in objections_lifted_by(blocks, fresh)}
    after = [b.lifted(fresh.at, "u", "fresh") if b.id in lifted else b for b in blocks]
    reason = marketing_block_reason([*events, fresh], after, "sms")
    still_blocked = any(b.active for b in after if b.kind is BlockKind.RESTRICTION) or any(
        b.active and b.kind is BlockKind.OBJECTION and b.purpose == "marketing" for b in after
    )
    assert (reason is None) == (not still_blocked)


# ---------------------------------------------------------------- input checked against the policy


@pytest.mark.parametrize(
    ("purpose", "channel", "needles"),
    [
        ("newsletter", "sms", ["purpose", "unknown purpose 'newsletter'", "marketing"]),
        ("service", "sms", ["purpose", "6(1)(b)", "not on consent", "marketing"]),
        ("bookkeeping", "email", ["purpose", "6(1)(c)"]),
        ("marketing", "fax", ["channel", "'fax' is not a channel of marketing", "sms, email"]),
        ("marketing", "", ["channel"]),
    ],
)
def test_consent_only_for_a_consent_purpose_on_its_channels(
    policy: Policy, purpose: str, channel: str, needles: list[str]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_consent_target(policy, purpose, channel)
    for needle in needles:
        assert needle in str(caught.value)


def test_the_bundled_policy_accepts_marketing_by_sms_and_email(policy: Policy) -> None:
    check_consent_target(policy, "marketing", "sms")
    check_consent_target(policy, "marketing", "email")
    assert channel_field(policy, "marketing", "sms") == "phone"
    assert channel_field(policy, "marketing", "email") == "email"


def test_methods_and_notices() -> None:
    assert [check_method(m.value) for m in ConsentMethod] == list(ConsentMethod)
    with pytest.raises(InvalidInput, match="method: must be one of: web, phone, paper, import, sms_reply"):
        check_method("carrier pigeon")
    assert check_notice(" " + "AB" * 32 + " ") == "ab" * 32
    for bad in ("", "abc", "g" * 64, "a" * 65):
        with pytest.raises(InvalidInput, match="notice: must be the sha256"):
            check_notice(bad)


def test_objection_follows_article_21(policy: Policy) -> None:
    check_objection_purpose(policy, "marketing")  # direct marketing, 21(2)
    check_objection_purpose(policy, "b2b_contact")  # legitimate interest, 21(1)
    for purpose in ("service", "bookkeeping"):
        with pytest.raises(InvalidInput, match=r"Art\. 21 gives a right to object only"):
            check_objection_purpose(policy, purpose)
    with pytest.raises(InvalidInput, match="unknown purpose"):
        check_objection_purpose(policy, "nope")


# ---------------------------------------------------------------- the state shown is the state the rules decide


@given(events_st, blocks_st, st.sampled_from(["sms", "email"]))
def test_the_state_shown_agrees_with_the_rule(events: list[ConsentEvent], blocks: list[Block], channel: str) -> None:
    """What a screen or letter calls "in force" is exactly what lets marketing reach the person; the rest says why."""
    state = effective_consent(events, blocks, "marketing", channel)
    assert state.in_force == (marketing_block_reason(events, blocks, channel) is None)
    latest = latest_event(events, "marketing", channel)
    assert state.event == latest
    if state.status is ConsentStatus.NEVER_GIVEN:
        assert latest is None and state.reason == "never given"
    elif state.status is ConsentStatus.WITHDRAWN:
        assert latest is not None and latest.action is ConsentAction.WITHDRAWN
    else:
        assert latest is not None and latest.action is ConsentAction.GIVEN
    if state.status is ConsentStatus.VOID:
        assert state.block is not None and state.block.kind is BlockKind.OBJECTION
        assert state.since == state.block.set_at and "objection on" in state.reason


def test_each_state_says_why_with_its_dates() -> None:
    given_ = [event(1)]
    assert effective_consent([], [], "marketing", "sms").reason == "never given"
    assert effective_consent(given_, [], "marketing", "sms").reason == "in force: given on 2026-01-02"
    withdrawn = effective_consent([*given_, event(2, "withdrawn")], [], "marketing", "sms")
    assert (withdrawn.status, withdrawn.reason) == (ConsentStatus.WITHDRAWN, "withdrawn on 2026-01-03 (Art. 7(3))")
    void = effective_consent(given_, [objection(3)], "marketing", "sms")
    assert void.status is ConsentStatus.VOID and void.since == day(3)
    assert void.reason.startswith("void: given on 2026-01-02, void since the objection on 2026-01-04 (Art. 21(3))")
    # A consent given before an objection stays void after the objection is lifted (Art. 21(3)).
    lifted = effective_consent(given_, [objection(3, lifted=4)], "marketing", "sms")
    assert lifted.status is ConsentStatus.VOID and "(lifted on 2026-01-05; Art. 21(3))" in lifted.reason
    paused = effective_consent(given_, [restriction(5)], "marketing", "sms")
    assert (paused.status, paused.in_force) == (ConsentStatus.RESTRICTED, False)
    assert paused.reason == "restricted (Art. 18): given on 2026-01-02; processing paused since 2026-01-06"
    assert effective_consent(given_, [restriction(5, lifted=6)], "marketing", "sms").in_force


def test_every_consent_the_policy_asks_for_is_listed(policy: Policy) -> None:
    states = effective_consents(policy, [event(1, channel="email")], [])
    assert [(s.purpose, s.channel, s.status) for s in states] == [
        ("marketing", "sms", ConsentStatus.NEVER_GIVEN),
        ("marketing", "email", ConsentStatus.IN_FORCE),
    ]
