"""The statistics' pure rules: the period, months on the controller's clock, days to answer, the median, the tables."""

from __future__ import annotations

import dataclasses
import statistics as stdlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain.errors import InvalidInput
from personvern.domain.statistics import (
    BreachRow,
    BreachYear,
    ConsentCount,
    ConsentMonth,
    CookieCount,
    CookieMonth,
    Period,
    RequestRow,
    answer_times,
    breach_years,
    choose_period,
    consent_months,
    cookie_months,
    days_to_answer,
    median,
    month_key,
    months_of,
    parse_choices,
    request_months,
)

OSLO = "Europe/Oslo"
instants = st.datetimes(min_value=datetime(1999, 6, 1), max_value=datetime(2031, 6, 1), timezones=st.just(UTC))


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=50))
def test_the_median_is_the_middle_value_whatever_the_order(days: list[int]) -> None:
    found = median(days)
    assert found == stdlib.median(days)
    assert median(list(reversed(days))) == found
    assert min(days) <= (found or 0) <= max(days)
    below = sum(d < found for d in days) if found is not None else 0
    assert below <= len(days) // 2  # no more than half lie below it


def test_the_median_of_none_is_none_and_of_two_their_mean() -> None:
    assert median([]) is None
    assert median([3, 10]) == 6.5
    assert median([44, 4, 10]) == 10.0


@given(instants, st.timezone_keys(), st.integers(min_value=2000, max_value=2030), st.integers(min_value=0, max_value=2))
def test_an_instant_falls_in_the_month_of_its_local_date_in_any_zone(at: datetime, zone: str, first: int, span: int):
    local = at.astimezone(ZoneInfo(zone))
    period = Period(first, first + span)
    months = months_of(period, zone)
    key = month_key(at, zone)
    inside = first <= local.year <= first + span
    assert months.label_of(at) == (key if inside else None)
    assert len(months.labels) == 12 * (span + 1) and list(months.starts) == sorted(months.starts)


@pytest.mark.parametrize(
    ("at", "zone", "month"),
    [
        ("2025-12-31T22:59:59+00:00", OSLO, "2025-12"),  # 23:59:59 in Oslo (UTC+1)
        ("2025-12-31T23:00:00+00:00", OSLO, "2026-01"),  # midnight in Oslo
        ("2026-03-31T21:59:59+00:00", OSLO, "2026-03"),  # summer time: UTC+2
        ("2026-03-31T22:00:00+00:00", OSLO, "2026-04"),
        ("2026-01-01T04:59:00+00:00", "America/New_York", "2025-12"),
        ("2025-12-31T10:00:00+00:00", "Pacific/Kiritimati", "2026-01"),  # UTC+14
    ],
)
def test_months_turn_at_local_midnight(at: str, zone: str, month: str) -> None:
    instant = datetime.fromisoformat(at)
    assert month_key(instant, zone) == month
    year = int(month[:4])
    assert months_of(Period(year, year), zone).label_of(instant) == month


def test_the_period_starts_and_ends_at_local_midnight() -> None:
    months = months_of(Period(2026, 2026), OSLO)
    assert months.starts[0] == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert months.starts[3] == datetime(2026, 3, 31, 22, tzinfo=UTC)  # April begins in summer time
    assert months.end == datetime(2026, 12, 31, 23, tzinfo=UTC)
    assert months.label_of(months.end) is None and months.label_of(months.starts[0] - timedelta(microseconds=1)) is None


def test_days_to_answer_count_the_controllers_calendar_days() -> None:
    assert days_to_answer(date(2026, 1, 10), datetime(2026, 1, 20, 10, tzinfo=UTC), OSLO) == 10
    assert days_to_answer(date(2026, 1, 10), datetime(2026, 1, 20, 23, 30, tzinfo=UTC), OSLO) == 11  # 00:30 on the 21st
    assert days_to_answer(date(2026, 1, 10), datetime(2026, 1, 10, 8, tzinfo=UTC), OSLO) == 0


@pytest.mark.parametrize(
    ("given_years", "field"),
    [((2027, None), "year"), ((1999, None), "year"), ((2026, 2027), "until"), ((2026, 2025), "until"),
     ((2010, 2026), "until")],
)  # fmt: skip
def test_a_period_outside_the_rules_names_its_field(given_years: tuple[int, int | None], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        choose_period(*given_years, this_year=2026)
    assert caught.value.problems[0].field == field


def test_the_period_is_this_year_by_default_and_one_year_when_one_is_given() -> None:
    assert choose_period(None, None, 2026) == Period(2026, 2026)
    assert choose_period(2024, None, 2026) == Period(2024, 2024)
    assert choose_period(2017, 2026, 2026).label == "2017-2026"


def _request(kind: str, state: str, received: date, closed: datetime | None = None, extended: bool = False):
    due = date(received.year + (received.month == 12), received.month % 12 + 1, min(received.day, 28))
    return RequestRow(kind, state, received, due, extended, closed)


def test_requests_are_counted_per_month_of_receipt_and_type() -> None:
    rows = [
        _request("access", "completed", date(2026, 1, 5), datetime(2026, 1, 7, tzinfo=UTC)),
        _request("access", "rejected", date(2026, 1, 9), datetime(2026, 3, 1, tzinfo=UTC)),  # late
        _request("access", "verified", date(2026, 1, 20), extended=True),  # due 2026-02-20: overdue on 1 March
        _request("erasure", "received", date(2026, 2, 27)),  # due 2026-03-27: not yet
    ]
    table = request_months(rows, date(2026, 3, 1), OSLO)
    assert [dataclasses.astuple(m) for m in table] == [
        ("2026-01", "access", 3, 1, 1, 1, 1, 1, 1),
        ("2026-02", "erasure", 1, 0, 0, 0, 1, 0, 0),
    ]
    times = answer_times(rows, OSLO)
    assert [(a.type, a.received, a.answered, a.median_days, a.slowest_days) for a in times] == [
        ("access", 3, 2, 26.5, 51),  # 2 and 51 days
        ("erasure", 1, 0, None, None),
    ]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["access", "erasure"]),
            st.sampled_from(["received", "verified", "completed", "rejected"]),
            st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
            st.integers(min_value=0, max_value=120),
        ),
        max_size=30,
    )
)
def test_every_request_is_counted_once_and_every_answer_timed(raw: list[tuple[str, str, date, int]]) -> None:
    rows = [
        _request(kind, state, day, None if state in ("received", "verified") else
                 datetime(day.year, day.month, day.day, 12, tzinfo=UTC) + timedelta(days=days))
        for kind, state, day, days in raw
    ]  # fmt: skip
    table = request_months(rows, date(2027, 1, 1), OSLO)
    assert sum(m.received for m in table) == len(rows)
    assert all(m.completed + m.rejected + m.open == m.received for m in table)
    times = answer_times(rows, OSLO)
    assert sum(a.answered for a in times) == sum(r.closed_at is not None for r in rows)
    for a in times:
        spent = [d for (k, s, _day, d) in raw if k == a.type and s in ("completed", "rejected")]
        assert a.slowest_days == max(spent, default=None) and a.median_days == median(spent)


def test_breaches_per_year_of_discovery_on_the_controllers_calendar() -> None:
    new_year = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2026 in Oslo
    rows = [
        BreachRow(new_year, None, None, False),  # overdue
        BreachRow(datetime(2026, 2, 1, tzinfo=UTC), "high", datetime(2026, 2, 3, tzinfo=UTC), True),
        BreachRow(datetime(2026, 3, 1, tzinfo=UTC), "likely", datetime(2026, 3, 4, 0, 1, tzinfo=UTC), False),  # late
        BreachRow(datetime(2026, 6, 1, tzinfo=UTC), "unlikely", None, False),  # not required
        BreachRow(datetime(2026, 11, 24, tzinfo=UTC), "likely", None, False),  # 72 hours not yet past
        BreachRow(datetime(2024, 11, 24, tzinfo=UTC), "likely", None, False),  # outside
    ]
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert breach_years(rows, Period(2025, 2026), now, OSLO) == [
        BreachYear(2025, 0, 0, 0, 0, 0, 0),
        BreachYear(2026, 5, 2, 1, 1, 1, 1),
    ]


def test_consents_are_folded_into_given_and_withdrawn() -> None:
    counts = [
        ConsentCount("2026-01", "marketing", "sms", "given", "web", 3),
        ConsentCount("2026-01", "marketing", "sms", "withdrawn", "web", 1),
        ConsentCount("2026-01", "marketing", "sms", "withdrawn", "sms_reply", 2),
        ConsentCount("2026-01", "marketing", "sms", "other", "web", 9),  # not an action of the ledger
    ]
    assert consent_months(counts) == [
        ConsentMonth("2026-01", "marketing", "sms", "sms_reply", 0, 2),
        ConsentMonth("2026-01", "marketing", "sms", "web", 3, 1),
    ]


def test_cookie_choices_are_counted_per_category_and_what_cannot_be_read_is_left_out() -> None:
    counts = [
        CookieCount("2026-01", '{"necessary": true, "statistics": false}', 4),
        CookieCount("2026-01", '{"statistics": true, "necessary": true}', 1),  # another key order, same categories
        CookieCount("2026-01", "[1, 2]", 5),
        CookieCount("2026-01", "{broken", 5),
        CookieCount("2026-01", '{"marketing": "yes"}', 5),
    ]
    assert cookie_months(counts) == [
        CookieMonth("2026-01", "necessary", 5, 0),
        CookieMonth("2026-01", "statistics", 1, 4),
    ]
    assert parse_choices('{"a": true, "b": 1}') == {"a": True}
