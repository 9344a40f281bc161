"""Cookie choices in the store, on SQLite and PostgreSQL: kept as given, counted by month, deleted after `keep`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from personvern.bootstrap import Runtime
from personvern.domain.access import SUBJECT, Actor
from personvern.domain.cookies import CookieChoice, Method, banner_version
from personvern.domain.errors import Forbidden
from personvern.services import cookies
from personvern.services.context import Context

VISITOR = "Vb8k2QmX0pLr7TzN4wYcHa"


class At:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


def _choice(n: int, at: datetime, statistics: bool, visitor: str = VISITOR) -> CookieChoice:
    chosen = {"necessary": True, "statistics": statistics, "marketing": False}
    return CookieChoice(f"c{n:030d}", visitor, at, "0123456789abcdef", chosen, Method.CUSTOM, False)


def test_a_choice_reads_back_as_stored(runtime: Runtime) -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    with runtime.uow() as uow:
        uow.cookie_choices.add(_choice(1, at, True))
        uow.cookie_choices.add(replace(_choice(2, at, False), method=Method.GPC, gpc=True))
        uow.cookie_choices.add(_choice(3, at, True, visitor="another-visitor-of-22ch"))
        uow.commit()
    with runtime.uow() as uow:
        found = uow.cookie_choices.for_visitor(VISITOR)
        assert uow.cookie_choices.count() == 3
    assert [c.id for c in found] == [f"c{1:030d}", f"c{2:030d}"]
    assert found[0] == _choice(1, at, True)
    assert found[1].method is Method.GPC and found[1].gpc is True and found[1].choices["statistics"] is False


def test_counts_per_month_on_the_controllers_clock_and_old_choices_go(runtime: Runtime) -> None:
    ctx = runtime.context()
    rows = [
        # 31 October 23:30 UTC is 1 November in Oslo: November's.
        _choice(1, datetime(2026, 10, 31, 23, 30, tzinfo=UTC), True),
        _choice(2, datetime(2026, 10, 15, 9, 0, tzinfo=UTC), False),
        _choice(3, datetime(2026, 10, 16, 9, 0, tzinfo=UTC), True),
        _choice(4, datetime(2026, 11, 20, 9, 0, tzinfo=UTC), True),
        _choice(5, datetime(2025, 8, 1, 9, 0, tzinfo=UTC), True),  # older than 15 months on 25 November 2026
    ]
    with runtime.uow() as uow:
        for row in rows:
            uow.cookie_choices.add(row)
        uow.commit()
    found = cookies.choice_counts(ctx, date(2026, 10, 1), date(2026, 11, 30))
    table = {(c.month, c.category): (c.given, c.refused) for c in found}
    assert table == {
        ("2026-10", "statistics"): (1, 1),
        ("2026-10", "marketing"): (0, 2),
        ("2026-11", "statistics"): (2, 0),
        ("2026-11", "marketing"): (0, 2),
    }
    with pytest.raises(Forbidden):
        cookies.choice_counts(replace(ctx, actor=Actor("web:x", SUBJECT)), date(2026, 10, 1), date(2026, 11, 30))
    assert cookies.forget_old_choices(ctx) == 1
    assert cookies.forget_old_choices(ctx) == 0
    with runtime.uow() as uow:
        assert uow.cookie_choices.count() == 4


def test_the_worker_daily_pass_forgets_old_choices(runtime: Runtime) -> None:
    from personvern.services import review

    with runtime.uow() as uow:
        uow.cookie_choices.add(_choice(1, datetime(2025, 1, 1, tzinfo=UTC), True))
        uow.commit()
    review.daily(runtime.context())
    with runtime.uow() as uow:
        assert uow.cookie_choices.count() == 0


def test_recording_a_choice_checks_the_version_in_force(runtime: Runtime) -> None:
    ctx: Context = replace(runtime.context(), actor=Actor("web:cookie-banner", SUBJECT))
    policy = runtime.policy.policy
    assert policy.cookies is not None
    done = cookies.record_choice(ctx, VISITOR, {"marketing": True}, "custom", banner_version(policy.cookies))
    with runtime.uow() as uow:
        assert uow.cookie_choices.for_visitor(VISITOR) == [done]
