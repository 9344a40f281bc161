"""One-time codes and rate-limit windows: shapes, expiry and tries, and windows every process agrees on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain import otp
from personvern.domain.errors import InvalidInput

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=999_999))
def test_every_code_is_six_digits_with_leading_zeros_kept(n: int) -> None:
    code = otp.new_code(lambda _bound: n)
    assert len(code) == 6 and int(code) == n
    assert otp.check_code_shape(code[:3] + " " + code[3:]) == code


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "123 45"])
def test_a_code_of_another_shape_is_refused_naming_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        otp.check_code_shape(typed)
    assert refused.value.problems[0].field == "code"


@given(st.integers(min_value=0, max_value=otp.TRIES + 2), st.integers(min_value=-700, max_value=700))
def test_a_challenge_is_open_only_in_time_and_within_its_tries(attempts: int, seconds: int) -> None:
    challenge = otp.Challenge(AT, attempts, used=False)
    now = AT + timedelta(seconds=seconds)
    state = challenge.state(now)
    if attempts >= otp.TRIES:
        assert state == "used"
    else:
        assert state == ("expired" if seconds >= 0 else "open")
    assert otp.Challenge(AT, 0, used=True).state(now) == "used"


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_a_window_holds_its_instant_and_ends_when_retry_after_says(now: datetime) -> None:
    limit = otp.SEND_PER_CLIENT
    start = limit.window_start(now)
    assert start <= now < start + limit.window
    assert start.timestamp() % limit.window.total_seconds() == 0  # the same edges in every process
    assert 1 <= limit.retry_after(now) <= limit.window.total_seconds() + 1


def test_the_code_lives_ten_minutes_as_nist_allows() -> None:
    assert timedelta(minutes=10) == otp.VALID and otp.DIGITS == 6 and otp.TRIES == 5
