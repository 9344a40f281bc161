"""`personvern demo`: an empty register filled with synthetic customers, once, through the normal use cases."""

from __future__ import annotations

from sqlalchemy import create_engine, func, select

from personvern.store import tables as t


def _count(url: str, table) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        engine.dispose()


def _distinct(url: str, *columns) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(*columns).distinct())]
    finally:
        engine.dispose()


def test_demo_fills_an_empty_register_once(pv):
    first = pv.json("demo", "--subjects", "40", "--now", "2026-11-25T12:00:00+00:00")
    assert first["added"] == 40 and first["existing"] == 0
    assert first["relationships"] >= 30
    assert _count(pv.db_url, t.subjects) == 40
    listed = pv.json("subject", "list", "--limit", "100")
    kinds = {s["kind"] for s in listed["subjects"]}
    assert kinds == {"one_time_customer", "contract_customer", "business_representative"}
    assert pv("audit", "verify").exit_code == 0

    # The demo's customers made their marketing choices through the consent service, so the marketing
    # examples show people.
    assert first["consents"] > 0 and first["withdrawn"] >= 0 and first["objections"] >= 0
    assert pv.json("marketing", "audience", "--channel", "sms", "--count", "--role", "marketing")["count"] > 0
    assert pv.json("marketing", "audience", "--channel", "email", "--count", "--role", "marketing")["count"] > 0
    events = _count(pv.db_url, t.consent_events)
    assert events == first["consents"] + first["withdrawn"]
    [(method, notice)] = _distinct(pv.db_url, t.consent_events.c.method, t.consent_events.c.notice_sha256)[:1]
    assert method in {"web", "phone", "paper"} and len(notice) == 64
    assert _count(pv.db_url, t.subject_blocks) == first["objections"]

    again = pv.json("demo", "--subjects", "40")
    assert (again["added"], again["existing"]) == (0, 40)
    assert _count(pv.db_url, t.subjects) == 40


def test_demo_refuses_a_bad_size_and_a_role_that_may_not_write(pv):
    bad = pv("demo", "--subjects", "0")
    assert bad.exit_code == 3 and "subjects" in bad.stderr
    assert pv("demo", "--subjects", "5", "--role", "auditor").exit_code == 6
