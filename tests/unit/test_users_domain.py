"""Staff users' rules: names, passwords, sessions ending, and how failed sign-ins slow down and lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from personvern.domain.errors import InvalidInput
from personvern.domain.users import (
    ABSOLUTE,
    FREE_FAILURES,
    IDLE,
    LOCK_AFTER,
    LOCK_FOR,
    MAX_DELAY,
    Session,
    Throttle,
    check_name,
    check_new_user,
    check_password,
)

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["kari", "ola.nordmann", "ceo-user", "a1"])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "k", "Kari", "1kari", "kari nordmann", "kari<b>", "x" * 41])
def test_bad_names_name_the_field(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_name(name)
    assert refused.value.problems[0].field == "name"


def test_a_new_user_needs_a_known_role_and_language() -> None:
    with pytest.raises(InvalidInput, match="role"):
        check_new_user("kari", "boss", "nb")
    with pytest.raises(InvalidInput, match="language"):
        check_new_user("kari", "staff", "de")


def test_passwords_are_long_and_do_not_hold_the_name() -> None:
    assert check_password("correct horse battery", "kari")
    for bad in ["short", "x" * 257, "kari-is-my-password"]:
        with pytest.raises(InvalidInput) as refused:
            check_password(bad, "kari")
        assert refused.value.problems[0].field == "password"


def test_a_session_ends_when_idle_or_too_old() -> None:
    s = Session("d", "u", "c", T0, T0)
    assert s.alive(T0 + IDLE - timedelta(seconds=1))
    assert not s.alive(T0 + IDLE)
    busy = Session("d", "u", "c", T0, T0 + ABSOLUTE - timedelta(minutes=1))
    assert not busy.alive(T0 + ABSOLUTE)


def test_the_first_failures_are_free_then_each_waits_longer_then_a_lock() -> None:
    assert Throttle(FREE_FAILURES - 1, T0).wait(T0) == timedelta(0)
    first = Throttle(FREE_FAILURES, T0).wait(T0)
    assert first > timedelta(0)
    assert Throttle(FREE_FAILURES + 1, T0).wait(T0) > first
    assert Throttle(LOCK_AFTER, T0).wait(T0) == LOCK_FOR
    assert Throttle(LOCK_AFTER, T0).wait(T0 + LOCK_FOR) == timedelta(0)


@given(st.integers(min_value=0, max_value=1000), st.integers(min_value=0, max_value=10_000))
def test_the_wait_is_bounded_and_never_negative(failures: int, seconds_later: int) -> None:
    wait = Throttle(failures, T0).wait(T0 + timedelta(seconds=seconds_later))
    assert timedelta(0) <= wait <= max(MAX_DELAY, LOCK_FOR)
    if failures < LOCK_AFTER:
        assert wait <= MAX_DELAY
