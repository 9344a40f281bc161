"""The privacy statistics from the SQL store on SQLite and PostgreSQL: exact figures of a year made by the services.

Each event is made through the services at its own moment (the clock moved along a timeline), so months and
years come out of the store as they will in use; the ones near a month's or year's edge test the buckets in
the controller's time zone (Europe/Oslo: UTC+1 in winter, UTC+2 in summer).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import pytest
from sqlalchemy import func, insert, select

from personvern.bootstrap import FixedClock, Runtime
from personvern.domain.access import Actor
from personvern.domain.errors import Forbidden, InvalidInput
from personvern.domain.statistics import AnswerTimes, BreachYear, ConsentMonth, CookieMonth, RequestMonth
from personvern.services import breaches, consent, register, rights
from personvern.services.breaches import BreachInput
from personvern.services.context import Context
from personvern.services.statistics import statistics
from personvern.store import tables as t
from tests.e2e.support import ONE_TIME, values


def _at(runtime: Runtime, iso: str) -> Context:
    return dataclasses.replace(runtime.context(), clock=FixedClock(datetime.fromisoformat(iso)))


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def make_a_year(runtime: Runtime) -> None:
    """Requests, breaches, consents and cookie choices around 2026, in time order."""
    at = lambda iso: _at(runtime, iso)  # noqa: E731
    ctx = at("2025-12-01T10:00:00+00:00")
    s1, s2, s3 = (register.add_subject(ctx, ONE_TIME, values(n), {}).id for n in (1, 2, 3))
    rights.open_request(at("2025-12-31T22:30:00+00:00"), "access", subject_id=s1)  # 23:30 in Oslo: 2025
    consent.give_consent(at("2025-12-31T22:59:00+00:00"), s3, "marketing", "sms", "paper")  # 23:59: 2025
    # 00:30 on New Year's Day in Oslo: a breach of 2026, never notified.
    breaches.add_breach(at("2025-12-31T23:30:00+00:00"), BreachInput(description="b5", discovered_at=_when(
        "2025-12-31T23:30:00+00:00")))  # fmt: skip
    r1 = rights.open_request(at("2026-01-10T10:00:00+00:00"), "access", subject_id=s1).request.id
    rights.verify_request(at("2026-01-10T10:00:00+00:00"), r1, "bankid")
    consent.give_consent(at("2026-01-15T10:00:00+00:00"), s1, "marketing", "sms", "web")
    rights.fulfil_request(at("2026-01-20T10:00:00+00:00"), r1)  # 10 days
    # 00:30 on 1 February in Oslo: both in February.
    r2 = rights.open_request(at("2026-01-31T23:30:00+00:00"), "access", subject_id=s2).request.id
    consent.withdraw_consent(at("2026-01-31T23:30:00+00:00"), s1, "marketing", "sms", "sms_reply")
    b1 = breaches.add_breach(
        at("2026-02-01T10:00:00+00:00"),
        BreachInput(description="b1", discovered_at=_when("2026-02-01T10:00:00+00:00"), risk="high", subjects=[s1]),
    ).id
    breaches.notify_authority(at("2026-02-03T10:00:00+00:00"), b1, "A1")  # 48 hours: in time
    breaches.notify_subjects(at("2026-02-03T10:00:00+00:00"), b1, "We lost a laptop with your name on it.")
    rights.reject_request(at("2026-02-05T10:00:00+00:00"), r2, "manifestly unfounded")  # 4 days from 1 Feb
    r3 = rights.open_request(at("2026-03-01T10:00:00+00:00"), "erasure", subject_id=s3).request.id
    b2 = breaches.add_breach(
        at("2026-03-01T10:00:00+00:00"),
        BreachInput(description="b2", discovered_at=_when("2026-03-01T10:00:00+00:00"), risk="likely"),
    ).id
    breaches.notify_authority(at("2026-03-05T10:00:00+00:00"), b2, "A2", late_reason="found late")  # 96 hours
    rights.extend_request(at("2026-03-15T10:00:00+00:00"), r3, "many systems")  # due 1 June: overdue now
    consent.give_consent(at("2026-03-31T22:30:00+00:00"), s2, "marketing", "email", "phone")  # 00:30 CEST: April
    r6 = rights.open_request(at("2026-04-01T10:00:00+00:00"), "access", subject_id=s2).request.id
    rights.reject_request(at("2026-05-15T10:00:00+00:00"), r6, "excessive")  # due 1 May: late, 44 days
    breaches.add_breach(
        at("2026-06-01T10:00:00+00:00"),
        BreachInput(description="b3", discovered_at=_when("2026-06-01T10:00:00+00:00"), risk="unlikely",
                    risk_reason="encrypted disk"),
    )  # fmt: skip
    rights.open_request(at("2026-11-20T10:00:00+00:00"), "objection", subject_id=s1)  # due 20 December
    breaches.add_breach(
        at("2026-11-20T10:00:00+00:00"),
        BreachInput(description="b4", discovered_at=_when("2026-11-20T10:00:00+00:00"), risk="likely"),
    )
    # The website's cookie choices: written as the cookie banner's service writes them (a teammate's), directly.
    chosen = [
        ("2025-12-31T22:00:00+00:00", {"necessary": True, "statistics": True, "marketing": True}),  # 2025
        ("2025-12-31T23:00:00+00:00", {"necessary": True, "statistics": True, "marketing": False}),  # 00:00 Jan
        ("2026-01-20T12:00:00+00:00", {"necessary": True, "statistics": True, "marketing": False}),
        ("2026-02-28T23:30:00+00:00", {"necessary": True, "statistics": False, "marketing": False}),  # March
        ("2026-03-02T12:00:00+00:00", "not json"),  # left out
    ]
    with runtime.engine.begin() as conn:
        for n, (when, choices) in enumerate(chosen):
            conn.execute(
                insert(t.cookie_consents).values(
                    id=f"c{n}",
                    visitor=f"visitor-{n}",
                    at=_when(when),
                    banner_version="v1",
                    choices=choices if isinstance(choices, str) else json.dumps(choices),
                    method="custom",
                    gpc=False,
                )
            )


def test_the_figures_of_a_year_are_exact_on_both_databases(runtime: Runtime) -> None:
    make_a_year(runtime)
    figures = statistics(runtime.context(), 2026)  # now: 2026-11-25
    assert figures.period.label == "2026" and figures.zone == "Europe/Oslo"
    assert figures.requests == [
        RequestMonth("2026-01", "access", 1, 1, 0, 0, 0, 0, 0),
        RequestMonth("2026-02", "access", 1, 0, 1, 0, 0, 0, 0),
        RequestMonth("2026-03", "erasure", 1, 0, 0, 1, 1, 1, 0),
        RequestMonth("2026-04", "access", 1, 0, 1, 0, 0, 0, 1),
        RequestMonth("2026-11", "objection", 1, 0, 0, 0, 1, 0, 0),
    ]
    assert figures.answer_times == [
        AnswerTimes("access", 3, 3, 10.0, 44),
        AnswerTimes("erasure", 1, 0, None, None),
        AnswerTimes("objection", 1, 0, None, None),
    ]
    assert figures.breaches == [BreachYear(2026, 5, 2, 1, 1, 1, 2)]
    assert figures.consents == [
        ConsentMonth("2026-01", "marketing", "sms", "web", 1, 0),
        ConsentMonth("2026-02", "marketing", "sms", "sms_reply", 0, 1),
        ConsentMonth("2026-04", "marketing", "email", "phone", 1, 0),
    ]
    assert figures.cookies == [
        CookieMonth("2026-01", "marketing", 0, 2),
        CookieMonth("2026-01", "necessary", 2, 0),
        CookieMonth("2026-01", "statistics", 2, 0),
        CookieMonth("2026-03", "marketing", 0, 1),
        CookieMonth("2026-03", "necessary", 1, 0),
        CookieMonth("2026-03", "statistics", 0, 1),
    ]

    both = statistics(runtime.context(), 2025, 2026)
    assert both.requests[0] == RequestMonth("2025-12", "access", 1, 0, 0, 0, 1, 1, 0)  # due 31 January
    assert both.answer_times[0] == AnswerTimes("access", 4, 3, 10.0, 44)
    assert both.breaches == [BreachYear(2025, 0, 0, 0, 0, 0, 0), BreachYear(2026, 5, 2, 1, 1, 1, 2)]
    assert both.consents[0] == ConsentMonth("2025-12", "marketing", "sms", "paper", 1, 0)
    assert both.cookies[:3] == [
        CookieMonth("2025-12", "marketing", 1, 0),
        CookieMonth("2025-12", "necessary", 1, 0),
        CookieMonth("2025-12", "statistics", 1, 0),
    ]
    assert both.requests[1:] == figures.requests and both.consents[1:] == figures.consents


def test_an_empty_year_has_its_breach_row_and_nothing_else(runtime: Runtime) -> None:
    figures = statistics(runtime.context(), 2024)
    assert figures.breaches == [BreachYear(2024, 0, 0, 0, 0, 0, 0)]
    assert figures.requests == figures.answer_times == figures.consents == figures.cookies == []


def test_only_the_ceo_reads_them_and_a_bad_period_is_refused(runtime: Runtime) -> None:
    for role in ("staff", "auditor", "marketing"):
        with pytest.raises(Forbidden):
            statistics(dataclasses.replace(runtime.context(), actor=Actor("x", role)), 2026)
    for years, field in (
        ((2027, None), "year"),
        ((1999, None), "year"),
        ((2026, 2025), "until"),
        ((2010, 2026), "until"),
    ):
        with pytest.raises(InvalidInput) as caught:
            statistics(runtime.context(), *years)
        assert caught.value.problems[0].field == field


def test_consent_figures_stay_when_their_people_are_erased_or_archived(runtime: Runtime) -> None:
    from personvern.domain.erasure import ErasureCause
    from personvern.services.erasure import archive_subject, erase_many

    make_a_year(runtime)
    before = statistics(runtime.context(), 2025, 2026).consents
    ctx = runtime.context()
    with runtime.engine.connect() as conn:
        people = sorted(conn.scalars(select(t.subjects.c.id)))
    with ctx.uow() as uow:
        archive_subject(ctx, uow, people[0], "the agreement ended")
        erase_many(ctx, uow, people[1:], cause=ErasureCause.REQUEST)
        uow.commit()
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.consent_events)).scalar() == 0
        tallies = conn.execute(select(t.consent_tallies)).all()
    # The boundary events land in the same months as before (hours in UTC, months in Oslo).
    assert statistics(runtime.context(), 2025, 2026).consents == before
    assert sum(row.events for row in tallies) == 4 and all(len(row) == 6 for row in tallies)  # no subject, no id
