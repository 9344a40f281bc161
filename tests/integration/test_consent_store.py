"""The consent ledger and the audience query on SQLite and PostgreSQL: round trips, a Python oracle, index use."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from personvern.bootstrap import FixedClock, Runtime
from personvern.domain.consent import (
    Block,
    BlockKind,
    ConsentAction,
    ConsentEvent,
    ConsentMethod,
    marketing_block_reason,
)
from personvern.domain.subjects import Subject
from personvern.services import consent, register
from personvern.store import tables as t
from personvern.store.consent_repo import audience_query

T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOTICE = "c" * 64


def _person(n: int) -> dict[str, str]:
    return {"full_name": f"Person {n} Nordmann", "phone": f"+474{1_000_000 + n:07d}", "email": f"person{n}@example.no"}


def _add(rt: Runtime, n: int) -> str:
    return register.add_subject(rt.context(), "one_time_customer", _person(n), {}).id


def test_the_ledger_round_trips(runtime: Runtime) -> None:
    ctx = runtime.context()
    sid, other = _add(runtime, 1), _add(runtime, 2)
    given = consent.give_consent(ctx, sid, "marketing", "sms", "phone").event
    objection = consent.object_to(ctx, sid, "marketing", "Kunden ringte fra Tromsø")
    restriction = consent.restrict(ctx, sid, reason="Bestrider adressen i Bodø")
    consent.give_consent(ctx, other, "marketing", "email", "web")
    ledger = consent.consent_ledger(ctx, sid)
    assert ledger.events == [given]
    assert given.at == runtime.clock.now() and given.at.tzinfo is not None
    assert given.notice_sha256 == runtime.notice_sha256() != ""  # the notice init published
    assert ledger.blocks == sorted([objection, restriction], key=lambda b: (b.set_at, b.id))
    assert {b.reason for b in ledger.blocks} == {"Kunden ringte fra Tromsø", "Bestrider adressen i Bodø"}
    assert ledger.marketing["sms"] is not None and "Art. 18" in ledger.marketing["sms"]
    with runtime.uow() as uow:
        assert uow.consents.get(given.id) == given
        assert uow.consents.latest(sid, "marketing", "sms") == given
        assert uow.consents.latest(sid, "marketing", "email") is None
        assert consent.is_restricted(uow, sid) and not consent.is_restricted(uow, other)
    # Reasons are free text about a person: stored sealed, readable by no one without the subject's key.
    with runtime.engine.connect() as conn:
        stored = list(conn.scalars(select(t.subject_blocks.c.reason)))
        audit = " ".join(conn.scalars(select(t.audit_log.c.details)))
    assert stored and all(r.startswith("sealed:") for r in stored)
    for word in ("Tromsø", "Bodø", "Person 1", "41000001"):
        assert not any(word in r for r in stored)
        assert word not in audit


def test_lifting_and_withdrawal_are_stored(runtime: Runtime) -> None:
    ctx = runtime.context()
    sid = _add(runtime, 1)
    consent.give_consent(ctx, sid, "marketing", "sms", "web")
    block = consent.object_to(ctx, sid)
    later_clock = FixedClock(runtime.clock.now() + timedelta(hours=2))
    later = replace(ctx, clock=later_clock)
    fresh = consent.give_consent(later, sid, "marketing", "sms", "web")
    assert [b.id for b in fresh.lifted] == [block.id]
    [stored] = consent.consent_ledger(later, sid).blocks
    assert stored.lifted_at == later_clock.now()
    assert stored.lift_reason is not None and fresh.event.id in stored.lift_reason
    consent.withdraw_consent(later, sid, "marketing", "sms", "web")
    assert consent.marketing_audience(later, "sms", count_only=True) == 0


def _random_register(rt: Runtime, rnd: random.Random, n: int) -> list[str]:
    """n subjects with random ledgers and blocks, written straight through the repositories in one transaction."""
    now = rt.clock.now()
    subjects = [
        Subject(f"{i:08x}{rnd.getrandbits(96):024x}", "one_time_customer", _person(i), "test", now, now, now)
        for i in range(n)
    ]
    with rt.uow() as uow:
        uow.subjects.add(subjects)
        for s in subjects:
            for channel in ("sms", "email"):
                for _ in range(rnd.choice([0, 0, 1, 1, 2, 3, 4])):
                    uow.consents.append(
                        ConsentEvent(
                            f"{rnd.getrandbits(128):032x}",
                            s.id,
                            "marketing",
                            channel,
                            rnd.choice(list(ConsentAction)),
                            T0 + timedelta(days=rnd.randint(0, 5)),  # few instants: ties are common
                            ConsentMethod.WEB,
                            "test",
                            "ceo",
                            NOTICE,
                        )
                    )
            for _ in range(rnd.choice([0, 0, 0, 0, 1, 2])):
                kind = rnd.choice(list(BlockKind))
                set_at = T0 + timedelta(days=rnd.randint(0, 5))
                lifted = None if rnd.random() < 0.5 else set_at + timedelta(days=rnd.randint(0, 3))
                purpose = rnd.choice(["marketing", "marketing", "b2b_contact"]) if kind is BlockKind.OBJECTION else None
                uow.blocks.add(
                    Block(f"{rnd.getrandbits(128):032x}", s.id, kind, purpose, set_at, "test", None, lifted, None, None)
                )
        uow.commit()
    return [s.id for s in subjects]


def _oracle(rt: Runtime, ids: list[str], channel: str) -> list[str]:
    """The audience the slow way: the domain rule, subject by subject."""
    with rt.uow() as uow:
        return sorted(
            sid
            for sid in ids
            if marketing_block_reason(uow.consents.for_subject(sid), uow.blocks.for_subject(sid), channel) is None
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_audience_query_agrees_with_the_rule(runtime: Runtime, seed: int) -> None:
    rnd = random.Random(seed)
    ids = _random_register(runtime, rnd, 300)
    ctx = runtime.context()
    for channel, field in (("sms", "phone"), ("email", "email")):
        expected = _oracle(runtime, ids, channel)
        assert 0 < len(expected) < len(ids)
        assert consent.marketing_audience(ctx, channel, count_only=True) == len(expected)
        pages = []
        for offset in range(0, len(expected) + 37, 37):
            page = consent.marketing_audience(ctx, channel, limit=37, offset=offset)
            assert isinstance(page, list)
            pages.extend(page)
        assert [m.subject_id for m in pages] == expected
        values = {sid: _person(int(sid[:8], 16))[field] for sid in expected}
        assert {m.subject_id: m.address for m in pages} == values
    # Erased subjects leave with their ledger.
    gone = _oracle(runtime, ids, "sms")[:5]
    with runtime.uow() as uow:
        for sid in gone:
            uow.subjects.erase(sid)
        uow.commit()
    left = [sid for sid in ids if sid not in gone]
    assert consent.marketing_audience(ctx, "sms", count_only=True) == len(_oracle(runtime, left, "sms"))


def _plan(rt: Runtime, statement: object) -> str:
    sql = str(statement.compile(rt.engine, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    with rt.engine.connect() as conn:
        if rt.engine.dialect.name == "sqlite":
            return "\n".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        # A table of a few hundred rows is rightly read whole by PostgreSQL; with sequential scans priced out,
        # the plan shows whether the index can serve the query at all (at 200 000 subjects see the bench).
        with conn.begin():
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            return "\n".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + sql))


def test_the_audience_query_reads_the_audience_index(runtime: Runtime) -> None:
    _random_register(runtime, random.Random(3), 200)
    with runtime.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    query = audience_query("marketing", "sms")
    count = select(func.count()).select_from(query.subquery())
    page = query.order_by(query.selected_columns[0]).limit(50).offset(10)
    for statement in (count, page):
        plan = _plan(runtime, statement)
        assert "ix_consent_events_audience" in plan, plan
        if runtime.engine.dialect.name == "sqlite":
            # Both the scan and the probe for a later event read only the index, and nothing is sorted.
            assert plan.count("COVERING INDEX ix_consent_events_audience") == 2, plan
            assert "TEMP B-TREE" not in plan, plan
            assert "SCAN" not in plan, plan
