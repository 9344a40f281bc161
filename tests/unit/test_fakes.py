"""The fake unit of work behaves like a transaction and its audit log is a real hash chain."""

from __future__ import annotations

from datetime import date

import pytest

from personvern.domain.audit import AuditEvent
from personvern.domain.errors import Conflict
from personvern.domain.subjects import Relationship, RelationshipType, Subject
from personvern.policy.schema import Policy
from personvern.services.ports import Lookup, PolicyRecord
from tests.unit.conftest import NOW
from tests.unit.fakes import FAKE_CHAIN, FakeUnitOfWorkFactory, FixedClock


def subject(sid: str, email: str, kind: str = "one_time_customer", **extra: str) -> Subject:
    values = {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": email, **extra}
    return Subject(sid, kind, values, "test", NOW, NOW, NOW)


def test_committed_changes_are_seen_by_later_units_of_work(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as uow:
        uow.subjects.add([subject("a", "kari@example.no")])
        uow.audit.append([AuditEvent("subject.create", "a")], "u", "ceo", NOW)
        uow.policies.record(PolicyRecord("1", "x" * 64, "text", NOW))
        uow.commit()
    with factory() as uow:
        assert uow.subjects.get("a") is not None
        assert uow.policies.current() is not None
        assert [e[3] for e in uow.audit.for_subject("a")] == ["subject.create"]


def test_leaving_without_commit_discards_everything(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as uow:
        uow.subjects.add([subject("a", "kari@example.no")])
        uow.audit.append([AuditEvent("subject.create", "a")], "u", "ceo", NOW)
        uow.policies.record(PolicyRecord("1", "x" * 64, "text", NOW))
    with factory() as uow:
        assert uow.subjects.get("a") is None
        assert uow.policies.current() is None
        assert list(uow.audit.for_subject("a")) == []
    assert factory.state.audit == []


def test_an_exception_discards_the_work(factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError), factory() as uow:
        uow.subjects.add([subject("a", "kari@example.no")])
        raise RuntimeError("boom")
    assert factory.state.subjects == {}


def test_uncommitted_changes_are_invisible_to_another_unit_of_work(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as first:
        first.subjects.add([subject("a", "kari@example.no")])
        with factory() as second:
            assert second.subjects.get("a") is None
        first.commit()
    with factory() as third:
        assert third.subjects.get("a") is not None


def test_changes_after_commit_are_discarded_without_a_second_commit(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as uow:
        uow.subjects.add([subject("a", "kari@example.no")])
        uow.commit()
        uow.subjects.add([subject("b", "ola@example.no", phone="+4791234568")])
    assert set(factory.state.subjects) == {"a"}


def test_lookups_use_lookup_keys_and_unique_values_are_enforced(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as uow:
        uow.subjects.add([subject("a", "Kari@Example.no")])
        assert uow.subjects.find(Lookup("email", "kari@example.no")) == ["a"]
        assert uow.subjects.find(Lookup("phone", "+4791234567")) == ["a"]
        assert uow.subjects.find(Lookup("full_name", "Kari Nordmann")) == []  # not a lookup field
        assert uow.subjects.find_many("email", {"kari@example.no", "ola@example.no"}) == {"kari@example.no": "a"}
        with pytest.raises(Conflict):
            uow.subjects.add([subject("b", "KARI@example.no", phone="+4791234568")])
        with pytest.raises(Conflict):  # two in one batch, and the batch is all or nothing
            uow.subjects.add(
                [subject("c", "c@example.no", phone="+4791234569"), subject("d", "d@example.no", phone="+4791234569")]
            )
        assert [s.id for s in uow.subjects.get_many(["a", "b", "c", "d"])] == ["a"]
        assert uow.subjects.stored_fields() == {("one_time_customer", f) for f in ("full_name", "phone", "email")}


def test_list_filters_by_kind_and_organisation_and_pages(factory: FakeUnitOfWorkFactory, policy: Policy) -> None:
    business = {"organisation_number": "974760673", "organisation_name": "Brreg"}
    with factory() as uow:
        uow.subjects.add(
            [
                subject("a", "a@example.no", phone="+4791234561"),
                subject("b", "b@example.no", "contract_customer", phone="+4791234562", **business),
                subject("c", "c@example.no", "business_representative", phone="+4791234563", **business),
            ]
        )
        assert [s.id for s in uow.subjects.list(None, None, 10, 0)] == ["a", "b", "c"]
        assert [s.id for s in uow.subjects.list("contract_customer", None, 10, 0)] == ["b"]
        org = Lookup("organisation_number", "974760673")
        assert [s.id for s in uow.subjects.list(None, org, 10, 0)] == ["b", "c"]
        assert uow.subjects.count(None, org) == 2
        assert [s.id for s in uow.subjects.list(None, None, 1, 1)] == ["b"]


def test_relationships_end_and_erase(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as uow:
        uow.subjects.add([subject("a", "kari@example.no")])
        uow.relationships.add(Relationship("r", "a", RelationshipType.ORDER, date(2026, 1, 1)))
        uow.relationships.end("r", date(2026, 2, 1))
        assert uow.relationships.for_subject("a")[0].ended_on == date(2026, 2, 1)
        uow.subjects.erase("a")
        assert uow.relationships.for_subject("a") == []


def test_audit_entries_are_chained_and_verify(factory: FakeUnitOfWorkFactory) -> None:
    for n in range(3):
        with factory() as uow:
            uow.audit.append([AuditEvent("x", str(n)), AuditEvent("y", str(n), "service", {"k": n})], "u", "ceo", NOW)
            uow.commit()
    rows = factory.state.audit
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0][8] == FAKE_CHAIN.first_prev
    assert all(rows[i][8] == rows[i - 1][9] for i in range(1, len(rows)))
    assert factory.verify().ok
    assert factory.audit_entries()[1].details == {"k": 0}


def test_tampering_with_the_fake_audit_log_is_detected(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as uow:
        uow.audit.append([AuditEvent("x"), AuditEvent("y"), AuditEvent("z")], "u", "ceo", NOW)
        uow.commit()
    row = factory.state.audit[1]
    factory.state.audit[1] = (*row[:4], "tampered", *row[5:])
    report = factory.verify()
    assert (report.ok, report.broken_at) == (False, 2)


def test_removing_the_last_audit_entries_is_detected(factory: FakeUnitOfWorkFactory) -> None:
    with factory() as uow:
        uow.audit.append([AuditEvent("x"), AuditEvent("y"), AuditEvent("z")], "u", "ceo", NOW)
        uow.commit()
    del factory.state.audit[-1]
    report = factory.verify()
    assert (report.ok, report.broken_at) == (False, 3)


def test_fixed_clock() -> None:
    clock = FixedClock(NOW)
    assert clock.now() == NOW
    clock.advance(days=1)
    assert (clock.now() - NOW).days == 1
