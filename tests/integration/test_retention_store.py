"""Retention schedules in the SQL store on SQLite and PostgreSQL: facts, saving, the range scan and its index."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import select, text

from personvern.bootstrap import FixedClock, Runtime
from personvern.domain.retention import Action, Schedule
from personvern.services import consent, register, retention, sweep
from personvern.store import tables as t
from personvern.store.retention_repo import due_query

ORG = {"organisation_number": "974760673", "organisation_name": "Brønnøysundregistrene"}


def _person(n: int) -> dict[str, str]:
    return {"full_name": f"Person {n} Nordmann", "phone": f"+474{1_000_000 + n:07d}", "email": f"person{n}@example.no"}


def test_facts_gather_relationships_of_the_organisation_consent_blocks_and_requests(runtime: Runtime) -> None:
    ctx = runtime.context()
    customer = register.add_subject(ctx, "contract_customer", {**_person(1), **ORG}, {}).id
    rep = register.add_subject(ctx, "business_representative", {**_person(2), **ORG}, {}).id
    register.start_relationship(ctx, customer, "contract", date(2026, 1, 1), date(2027, 6, 30), "Kontor 3")
    consent.give_consent(ctx, rep, "marketing", "sms", "web")
    consent.object_to(ctx, rep, "marketing", "ringte")
    with runtime.uow() as uow:
        facts = uow.retention.facts([customer, rep, "nobody"])
        assert set(facts) == {customer, rep}
        [rel] = facts[rep].relationships
        assert rel.subject_id == customer and rel.ends_on == date(2027, 6, 30) and rel.description is None
        assert [e.action.value for e in facts[rep].consents] == ["given"]
        assert [b.kind.value for b in facts[rep].blocks] == ["objection"] and facts[rep].blocks[0].reason is None
        assert not facts[rep].open_request and not facts[rep].erased
        assert uow.retention.peers([customer]) == {customer, rep}
        scheduled = uow.retention.scheduled([customer, rep])
    assert scheduled[rep].schedule == Schedule(
        date(2027, 6, 30),
        Action.ERASE,
        "agreement",
        date(2033, 1, 1),
        scheduled[rep].schedule.hold_fields,  # type: ignore[union-attr]
    )
    assert scheduled[customer].schedule is not None and scheduled[customer].schedule.action is Action.ARCHIVE


def test_imported_schedules_are_stored_with_the_rows_as_a_recomputation_finds_them(runtime: Runtime) -> None:
    ctx = runtime.context()
    customer = register.add_subject(ctx, "contract_customer", {**_person(1), **ORG}, {}).id
    register.start_relationship(ctx, customer, "contract", date(2026, 1, 1), date(2027, 6, 30), "Kontor 3")
    other = {"organisation_number": "923609016", "organisation_name": "Annen AS"}
    rows = [(2, {**_person(2), **ORG}), (3, {**_person(3), **other})]
    assert register.import_subjects(ctx, "business_representative", rows, {}) == 2
    register.import_subjects(ctx, "one_time_customer", [(2, _person(4))], {})
    with runtime.uow() as uow:
        ids = [s.id for s in uow.subjects.list(None, None, 100, 0) if s.id != customer]
        stored = uow.retention.scheduled(ids)
        assert sorted(s.schedule.retain_until for s in stored.values()) == [  # type: ignore[union-attr]
            date(2027, 2, 23),  # no order, contract or consent: 90 days from receipt (the prospect rule)
            date(2027, 2, 23),
            date(2027, 6, 30),  # the representative of the customer's organisation
        ]
        retention.refresh(ctx, uow, ids)
        assert uow.retention.scheduled(ids) == stored


def test_save_groups_alike_and_due_pages_by_the_index(runtime: Runtime) -> None:
    ctx = runtime.context()
    rows = [(n + 2, _person(n)) for n in range(30)]
    register.import_subjects(ctx, "one_time_customer", rows, {})
    with runtime.uow() as uow:
        ids = sorted(s.id for s in uow.subjects.list(None, None, 100, 0))
        day = date(2026, 11, 25)
        assert uow.retention.count_due(day) == 0 and uow.retention.count_due(day + timedelta(days=90)) == 30
        # Spread them over ten days, then page through in sevens.
        uow.retention.save(
            {sid: Schedule(day - timedelta(days=i % 10), Action.ERASE, "agreement") for i, sid in enumerate(ids)},
            runtime.clock.now(),
        )
        uow.retention.save({ids[0]: Schedule(None, Action.ARCHIVE, "agreement")}, runtime.clock.now())
        uow.commit()
    seen: list[tuple[date, str]] = []
    after = None
    with runtime.uow() as uow:
        while page := uow.retention.due(day, after, 7):
            keys = [(p.schedule.retain_until, p.subject_id) for p in page]  # type: ignore[union-attr]
            seen += keys  # type: ignore[arg-type]
            after = keys[-1]
        assert uow.retention.count_due(day - timedelta(days=5)) == len(
            [k for k in seen if k[0] <= day - timedelta(days=5)]
        )
    assert seen == sorted(seen) and len(seen) == 29 and ids[0] not in {k[1] for k in seen}


def _plan(rt: Runtime, statement: object) -> str:
    sql = str(statement.compile(rt.engine, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    with rt.engine.connect() as conn:
        if rt.engine.dialect.name == "sqlite":
            return "\n".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
        with conn.begin():
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            return "\n".join(str(row[0]) for row in conn.exec_driver_sql("EXPLAIN " + sql))


def test_the_due_query_is_a_range_scan_of_the_index_without_a_sort(runtime: Runtime) -> None:
    register.import_subjects(runtime.context(), "one_time_customer", [(n + 2, _person(n)) for n in range(50)], {})
    with runtime.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    dialect = runtime.engine.dialect.name
    for after in (None, (date(2026, 1, 1), "0")):
        plan = _plan(runtime, due_query(date(2026, 11, 25), after, 500, dialect))
        assert "ix_subjects_retain_until" in plan, plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_a_new_policy_version_leaves_schedules_stale_until_computed(runtime: Runtime) -> None:
    long_ago = runtime.clock.now() - timedelta(days=120)  # past the time a prospect is kept
    sid = register.add_subject(runtime.context(), "one_time_customer", _person(1), {}, received_at=long_ago).id
    with runtime.uow() as uow:
        assert uow.retention.stale(10) == []
        assert uow.retention.mark_stale() == 1
        assert uow.retention.stale(10) == [sid]
        uow.commit()
    assert [d.subject_id for d in sweep.plan(runtime.context())] == [sid]
    with runtime.engine.connect() as conn:
        assert conn.scalar(select(t.subjects.c.retention_at)) is not None


def test_run_on_sql_archives_and_erases_with_holds(runtime: Runtime) -> None:
    ctx = runtime.context()
    ended = register.add_subject(ctx, "one_time_customer", _person(1), {}).id
    register.start_relationship(ctx, ended, "order", date(2026, 1, 5))
    register.end_relationship(ctx, ended, "order", date(2026, 2, 1))
    long_ago = runtime.clock.now() - timedelta(days=120)  # past the time a prospect is kept
    bare = register.add_subject(ctx, "one_time_customer", _person(2), {}, received_at=long_ago).id
    result = sweep.run(ctx)
    assert (result.archived, result.held, result.failed) == (1, 1, [])
    with runtime.uow() as uow:
        assert not uow.subjects.exists(bare) and uow.archive.for_subject(bare) is not None
        held = uow.retention.scheduled([ended])[ended].schedule
        assert held is not None and held.retain_until == date(2032, 1, 1) and held.action is Action.ARCHIVE
    later = replace(ctx, clock=FixedClock(runtime.clock.now().replace(year=2032, month=1, day=1)))
    assert sweep.run(later).archived == 1
    with runtime.uow() as uow:
        assert not uow.subjects.exists(ended)
        assert runtime.uow is not None and uow.audit.verify().ok
