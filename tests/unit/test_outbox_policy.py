"""The retry policy: exponential back-off with full jitter, a cap, Retry-After as a lower bound, dead after N."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain.outbox import RetryPolicy, after_failure
from tests.unit.conftest import NOW

POLICY = RetryPolicy(max_attempts=8, base=timedelta(seconds=30), cap=timedelta(hours=1))
draws = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)
attempts = st.integers(min_value=1, max_value=10_000)


@given(attempts, draws)
def test_the_delay_never_exceeds_the_cap_nor_falls_below_the_floor(n: int, draw: float) -> None:
    delay = POLICY.backoff(n, lambda: draw)
    assert POLICY.floor <= delay <= POLICY.cap


@given(attempts, draws)
def test_full_jitter_draws_between_the_floor_and_the_exponential_ceiling(n: int, draw: float) -> None:
    ceiling = POLICY.cap if n > 20 else min(POLICY.cap, POLICY.base * 2 ** (n - 1))
    delay = POLICY.backoff(n, lambda: draw)
    assert delay == max(POLICY.floor, ceiling * draw)


@given(attempts, draws, st.floats(min_value=0.001, max_value=10 * 86_400, allow_nan=False))
def test_retry_after_is_a_lower_bound_up_to_a_day(n: int, draw: float, retry_after: float) -> None:
    delay = POLICY.delay(n, lambda: draw, retry_after)
    assert delay >= min(timedelta(seconds=retry_after), POLICY.retry_after_cap)
    assert delay >= POLICY.backoff(n, lambda: draw)
    assert delay <= max(POLICY.cap, POLICY.retry_after_cap)


@given(st.integers(min_value=1, max_value=30), draws)
def test_a_row_is_dead_exactly_after_max_attempts(max_attempts: int, draw: float) -> None:
    policy = RetryPolicy(max_attempts=max_attempts)
    done = 0
    now = NOW
    while True:
        decision = after_failure(policy, done, now, "HTTP 503", lambda: draw)
        assert decision.attempts == done + 1
        done = decision.attempts
        if decision.dead:
            break
        assert decision.next_attempt_at is not None and decision.next_attempt_at > now
        now = decision.next_attempt_at
    assert done == max_attempts
    assert decision.next_attempt_at is None
    assert decision.error == f"gave up after {max_attempts} attempts; last error: HTTP 503"


def test_the_ceiling_doubles_with_each_attempt_until_the_cap() -> None:
    top = [POLICY.backoff(n, lambda: 1.0) for n in range(1, 10)]
    assert top[:5] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert top[-1] == POLICY.cap


def test_a_zero_draw_still_waits_the_floor_so_a_pass_never_retries_at_once() -> None:
    assert POLICY.backoff(1, lambda: 0.0) == POLICY.floor > timedelta(0)


def test_the_next_attempt_is_scheduled_from_now() -> None:
    decision = after_failure(POLICY, 0, NOW, "timed out", lambda: 0.5, retry_after=None)
    assert decision.next_attempt_at == NOW + timedelta(seconds=15)
    assert not decision.dead
    assert decision.error == "timed out"


def test_retry_after_beyond_the_backoff_wins() -> None:
    decision = after_failure(POLICY, 0, NOW, "HTTP 503", lambda: 0.5, retry_after=120)
    assert decision.next_attempt_at == NOW + timedelta(seconds=120)


def test_a_permanent_failure_is_dead_at_once() -> None:
    decision = after_failure(POLICY, 0, NOW, "credentials refused", lambda: 0.5, permanent=True)
    assert decision.dead and decision.attempts == 1
    assert decision.error == "refused, not retried: credentials refused"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"floor": timedelta(0)},
        {"base": timedelta(hours=2), "cap": timedelta(hours=1)},
    ],
)
def test_nonsense_policies_are_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
