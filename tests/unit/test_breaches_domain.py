"""The breach rules (Art. 33-34): the deadline 72 hours after discovery, overdue after it, phases and late reasons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain.breaches import (
    NOTIFY_WITHIN,
    Breach,
    Notification,
    Phase,
    Recipient,
    Risk,
    Status,
    check_authority_notice,
    check_breach,
    check_count,
    check_open,
    clean_categories,
    clean_text,
    hours,
    parse_phase,
    parse_risk,
)
from personvern.domain.errors import Conflict, InvalidInput

T = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def breach(**changes: object) -> Breach:
    base = Breach("b1", "Lost laptop", T, T, "ceo-user", T)
    return replace(base, **changes)  # type: ignore[arg-type]


def told(b: Breach, at: datetime, phase: Phase, late_reason: str | None = None) -> Breach:
    n = Notification(f"n{len(b.notifications)}", b.id, Recipient.AUTHORITY, at, at, "ceo", phase, "ref", late_reason)
    return replace(b, notifications=(*b.notifications, n))


def problems(b: Breach, now: datetime = T) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        check_breach(b, now)
    return {p.field: p.message for p in info.value.problems}


def test_the_deadline_is_72_hours_after_discovery_and_overdue_after_it() -> None:
    b = breach()
    assert b.deadline == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert b.status(T) is Status.DUE
    assert b.status(b.deadline) is Status.DUE  # due at T + 72 h ...
    assert b.status(b.deadline + timedelta(seconds=1)) is Status.OVERDUE  # ... overdue after it
    assert b.overdue(b.deadline + timedelta(hours=5))
    assert not b.overdue(b.deadline)


@given(
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
)
def test_due_until_the_deadline_and_overdue_after_it_whenever_discovered(
    discovered: datetime, later: timedelta
) -> None:
    b = breach(discovered_at=discovered)
    expected = Status.DUE if later <= NOTIFY_WITHIN else Status.OVERDUE
    assert b.status(discovered + later) is expected


def test_a_notified_breach_or_one_without_risk_is_not_overdue() -> None:
    late = T + timedelta(days=10)
    assert told(breach(), T + timedelta(hours=1), Phase.INITIAL).status(late) is Status.NOTIFIED
    assert breach(risk=Risk.UNLIKELY, risk_reason="encrypted").status(late) is Status.NOT_REQUIRED
    assert breach(risk=Risk.HIGH).status(late) is Status.OVERDUE


def test_phases_initial_then_follow_ups_then_final() -> None:
    b = breach()
    now = T + timedelta(hours=2)
    assert check_authority_notice(b, now, now, None, None) is Phase.INITIAL
    b = told(b, now, Phase.INITIAL)
    assert check_authority_notice(b, now, now, None, None) is Phase.FOLLOW_UP
    with pytest.raises(InvalidInput, match="follow_up or final"):
        check_authority_notice(b, now, now, Phase.INITIAL, None)
    b = told(b, now, Phase.FINAL)
    assert b.closed and b.status(now) is Status.CLOSED
    # Closed: what becomes known later goes to the authority as a follow-up (Art. 33(4)), never a second final.
    assert b.next_phase() is Phase.FOLLOW_UP
    assert check_authority_notice(b, now, now, None, None) is Phase.FOLLOW_UP
    with pytest.raises(Conflict, match="is closed: the final notification was given"):
        check_authority_notice(b, now, now, Phase.FINAL, None)
    with pytest.raises(Conflict, match="follow-up notification"):
        check_open(b)


def test_the_first_notification_is_not_a_follow_up() -> None:
    with pytest.raises(InvalidInput, match="first notification is initial"):
        check_authority_notice(breach(), T, T, Phase.FOLLOW_UP, None)
    assert check_authority_notice(breach(), T, T, Phase.FINAL, None) is Phase.FINAL


def test_a_late_first_notification_needs_its_reason() -> None:
    late = T + timedelta(hours=80)
    with pytest.raises(InvalidInput) as info:
        check_authority_notice(breach(), late, late, None, None)
    [problem] = info.value.problems
    assert problem.field == "late_reason"
    assert "80 h after the breach was discovered" in problem.message and "Art. 33(1)" in problem.message
    assert check_authority_notice(breach(), late, late, None, "the extent was unclear") is Phase.INITIAL
    # At the deadline itself it is on time, and a reason is refused as noise.
    with pytest.raises(InvalidInput, match="within 72 hours"):
        check_authority_notice(breach(), T + NOTIFY_WITHIN, late, None, "why not")
    # A follow-up after the deadline needs none (Art. 33(4): without undue further delay).
    first = told(breach(), T + timedelta(hours=1), Phase.INITIAL)
    assert check_authority_notice(first, late, late, None, None) is Phase.FOLLOW_UP


def test_when_the_authority_was_told_must_make_sense() -> None:
    with pytest.raises(InvalidInput, match="before the breach was discovered"):
        check_authority_notice(breach(), T - timedelta(minutes=1), T, None, None)
    with pytest.raises(InvalidInput, match="in the future"):
        check_authority_notice(breach(), T + timedelta(hours=1), T, None, None)
    first = told(breach(), T + timedelta(hours=5), Phase.INITIAL)
    with pytest.raises(InvalidInput, match="before the last notification"):
        check_authority_notice(first, T + timedelta(hours=4), T + timedelta(hours=6), None, None)


def test_the_record_must_be_consistent() -> None:
    assert problems(breach(discovered_at=T + timedelta(hours=1))) == {
        "discovered_at": f"is in the future (now is {T.isoformat()})"
    }
    assert "occurred_at" in problems(breach(occurred_at=T + timedelta(minutes=1)))
    assert "occurred_until" in problems(
        breach(occurred_at=T - timedelta(hours=2), occurred_until=T - timedelta(hours=3))
    )
    assert "occurred_until" in problems(breach(occurred_until=T - timedelta(hours=3)))
    assert problems(breach(people=1, subject_ids=("a", "b"))) == {"people": "is 1, but 2 affected subjects are listed"}
    assert "risk_reason" in problems(breach(risk=Risk.UNLIKELY))
    assert "description" in problems(breach(description=""))
    check_breach(breach(occurred_at=T - timedelta(days=1), occurred_until=T, people=2, subject_ids=("a",)), T)


def test_free_text_is_cleaned_and_bounded() -> None:
    assert clean_text("cause", "  Phishing\n e-post \t ") == "Phishing\n e-post"
    assert clean_text("cause", "   ") is None
    with pytest.raises(InvalidInput, match="cause: must not contain control characters"):
        clean_text("cause", "a\x00b")
    with pytest.raises(InvalidInput, match="measures_taken: must be at most 5000 characters"):
        clean_text("measures_taken", "x" * 5001)
    assert clean_categories(["navn", " Navn ", "e-post"]) == ("navn", "e-post")
    with pytest.raises(InvalidInput, match="categories"):
        clean_categories([" "])
    with pytest.raises(InvalidInput, match="people"):
        check_count("people", -1)


def test_words_for_risk_and_phase_and_hours() -> None:
    assert parse_risk("high") is Risk.HIGH and parse_risk(None) is None
    with pytest.raises(InvalidInput, match="risk: must be unlikely"):
        parse_risk("severe")
    assert parse_phase("follow_up") is Phase.FOLLOW_UP
    with pytest.raises(InvalidInput, match="phase"):
        parse_phase("second")
    assert (hours(timedelta(hours=84)), hours(timedelta(hours=72, minutes=30))) == ("84 h", "72 h 30 min")


def test_a_high_risk_means_the_people_must_be_told() -> None:
    b = breach(risk=Risk.HIGH)
    assert b.subjects_must_be_told
    n = Notification("s1", b.id, Recipient.SUBJECTS, T, T, "ceo", outcome={"queued": 1})
    assert not replace(b, notifications=(n,)).subjects_must_be_told
