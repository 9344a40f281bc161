"""Deadlines and the life cycle of data subject requests (Art. 12(3), Regulation 1182/71 Art. 3(2)(c))."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain import requests as rq
from personvern.domain.errors import Conflict, InvalidInput
from personvern.domain.requests import Channel, Request, RequestState, RequestType, Verification

days = st.dates(min_value=date(1990, 1, 1), max_value=date(2200, 12, 31))


def last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


@pytest.mark.parametrize(
    ("received", "due", "extended"),
    [
        (date(2026, 1, 31), date(2026, 2, 28), date(2026, 4, 30)),
        (date(2028, 1, 31), date(2028, 2, 29), date(2028, 4, 30)),  # leap year
        (date(2026, 1, 15), date(2026, 2, 15), date(2026, 4, 15)),
        (date(2026, 3, 31), date(2026, 4, 30), date(2026, 6, 30)),
        (date(2026, 12, 31), date(2027, 1, 31), date(2027, 3, 31)),
        (date(2027, 11, 30), date(2027, 12, 30), date(2028, 2, 29)),
        (date(2028, 2, 29), date(2028, 3, 29), date(2028, 5, 29)),
    ],
)
def test_known_deadlines(received: date, due: date, extended: date) -> None:
    assert rq.answer_due(received) == due
    assert rq.answer_due(received, rq.MAX_EXTENSION_MONTHS) == extended


@given(days, st.integers(min_value=0, max_value=36))
def test_a_month_ends_on_the_same_date_or_the_last_day_of_the_month(day: date, months: int) -> None:
    end = rq.add_months(day, months)
    assert (end.year * 12 + end.month) - (day.year * 12 + day.month) == months
    assert end.day == min(day.day, last_day(end.year, end.month))


@given(days)
def test_extension_gives_three_months_in_all_and_never_less_than_one(day: date) -> None:
    first, one_more, two_more = rq.answer_due(day), rq.answer_due(day, 1), rq.answer_due(day, 2)
    assert day < first <= one_more <= two_more
    assert two_more == rq.add_months(day, 3)
    assert (two_more - day).days <= 92 and (first - day).days >= 28


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_the_day_of_receipt_is_the_controllers_day(at: datetime) -> None:
    local = rq.received_on(at, "Europe/Oslo")
    # Oslo is one or two hours ahead of UTC: the local day is the UTC day or the next one.
    assert local in (at.date(), at.date() + timedelta(days=1))


def request(received: date = date(2026, 1, 31), state: RequestState = RequestState.RECEIVED) -> Request:
    at = datetime(received.year, received.month, received.day, 9, tzinfo=UTC)
    return Request(
        "r1", RequestType.ACCESS, state, "s1", Channel.EMAIL, "nb", at, received, rq.answer_due(received), "ceo"
    )


AT = datetime(2026, 2, 1, tzinfo=UTC)


@given(days, st.integers(min_value=0, max_value=120))
def test_an_extension_is_possible_exactly_within_the_first_month(received: date, after: int) -> None:
    r = request(received)
    today = received + timedelta(days=after)
    if today <= rq.answer_due(received):
        assert rq.extend(r, AT, today, "complex").due_on == rq.answer_due(received, 2)
    else:
        with pytest.raises(Conflict, match="first month"):
            rq.extend(r, AT, today, "complex")


def test_one_extension_only_with_a_reason() -> None:
    r = request()
    with pytest.raises(InvalidInput, match="reason"):
        rq.extend(r, AT, date(2026, 2, 1), "  ")
    with pytest.raises(InvalidInput, match="months"):
        rq.extend(r, AT, date(2026, 2, 1), "x", months=3)
    once = rq.extend(r, AT, date(2026, 2, 1), "many requests", months=1)
    assert once.due_on == date(2026, 3, 31)
    with pytest.raises(Conflict, match="already extended"):
        rq.extend(once, AT, date(2026, 2, 2), "again", months=1)


def test_nothing_is_fulfilled_before_verification_and_nothing_after_closing() -> None:
    r = request()
    with pytest.raises(Conflict, match="verified"):
        rq.complete(r, AT, "ceo", {})
    with pytest.raises(Conflict, match="verified"):
        rq.start(r)
    v = rq.verify(r, AT, "ceo", Verification.BANKID)
    with pytest.raises(Conflict, match="already verified"):
        rq.verify(v, AT, "ceo", Verification.BANKID)
    done = rq.complete(rq.start(v), AT, "ceo", {"held": True})
    assert (done.state, done.open) == (RequestState.COMPLETED, False)
    for move in (
        lambda x: rq.verify(x, AT, "ceo", Verification.BANKID),
        lambda x: rq.reject(x, AT, "ceo", "late"),
        lambda x: rq.extend(x, AT, date(2026, 2, 1), "x"),
    ):
        with pytest.raises(Conflict, match="completed"):
            move(done)


def test_rejection_needs_a_reason_and_may_come_before_verification() -> None:
    with pytest.raises(InvalidInput, match=r"12\(5\)"):
        rq.reject(request(), AT, "ceo", "")
    rejected = rq.reject(request(), AT, "ceo", "manifestly unfounded")
    assert (rejected.state, rejected.rejection_reason) == (RequestState.REJECTED, "manifestly unfounded")


@given(days, st.integers(min_value=-40, max_value=40))
def test_days_left_and_overdue_agree(received: date, offset: int) -> None:
    r = request(received)
    today = r.due_on + timedelta(days=offset)
    assert r.days_left(today) == -offset
    assert r.overdue(today) == (offset > 0)
