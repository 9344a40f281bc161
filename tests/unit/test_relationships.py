"""Starting and ending customer relationships: orders and contracts, with their dates checked."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date

import pytest

from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.domain.subjects import RelationshipType, Subject
from personvern.services.context import Context
from personvern.services.register import add_subject, end_relationship, show_subject, start_relationship
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory

TODAY = NOW.date()


@pytest.fixture
def kari(staff: Context) -> Subject:
    return add_subject(
        staff, "one_time_customer", {"full_name": "Kari", "phone": "91234567", "email": "k@example.no"}, {}
    )


def open_relationships(factory: FakeUnitOfWorkFactory, subject: Subject) -> list[str]:
    return [r.id for r in factory.state.relationships.values() if r.subject_id == subject.id and r.ended_on is None]


def test_start_an_order_today(staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory) -> None:
    rel = start_relationship(staff, kari.id, "order", description="Lagerplass 12 m²")
    assert (rel.type, rel.started_on, rel.ends_on, rel.ended_on) == (RelationshipType.ORDER, TODAY, None, None)
    assert factory.state.relationships == {rel.id: rel}
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.subject_id) == ("relationship.start", kari.id)
    assert entry.details == {"relationship": rel.id, "type": "order", "started_on": TODAY.isoformat()}
    assert "lagerplass" not in repr(factory.state.audit).casefold()  # what was ordered is personal data
    assert show_subject(staff, kari.id).relationships == [rel]


def test_start_a_contract_with_a_stated_end(staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory) -> None:
    rel = start_relationship(staff, kari.id, "contract", date(2026, 1, 1), date(2027, 1, 1))
    assert (rel.type, rel.started_on, rel.ends_on) == (RelationshipType.CONTRACT, date(2026, 1, 1), date(2027, 1, 1))
    assert factory.audit_entries()[-1].details["ends_on"] == "2027-01-01"


@pytest.mark.parametrize(
    ("type_", "start", "ends", "field"),
    [
        ("order", None, date(2027, 1, 1), "ends"),  # only a contract states its end in advance
        ("contract", date(2026, 1, 1), date(2026, 1, 1), "ends"),
        ("contract", date(2026, 1, 1), date(2025, 12, 31), "ends"),
        ("contract", None, TODAY, "ends"),
        ("lease", None, None, "type"),
    ],
)
def test_start_refuses_bad_types_and_dates(
    staff: Context,
    kari: Subject,
    factory: FakeUnitOfWorkFactory,
    type_: str,
    start: date | None,
    ends: date | None,
    field: str,
) -> None:
    audit_before = len(factory.state.audit)
    with pytest.raises(InvalidInput) as info:
        start_relationship(staff, kari.id, type_, start, ends)
    assert info.value.problems[0].field == field
    assert factory.state.relationships == {}
    assert len(factory.state.audit) == audit_before


def test_start_refuses_an_empty_description(staff: Context, kari: Subject) -> None:
    with pytest.raises(InvalidInput):
        start_relationship(staff, kari.id, "order", description="  ")


def test_start_for_an_unknown_subject_is_not_found(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound):
        start_relationship(staff, "missing", "order")
    assert factory.state.audit == []


def test_end_all_open_relationships(staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory) -> None:
    order = start_relationship(staff, kari.id, "order", date(2026, 1, 1))
    contract = start_relationship(staff, kari.id, "contract", date(2026, 2, 1))
    ended = end_relationship(staff, kari.id)
    assert {r.id for r in ended} == {order.id, contract.id}
    assert all(r.ended_on == TODAY for r in ended)
    assert open_relationships(factory, kari) == []
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.details["ended_on"], set(entry.details["relationships"])) == (
        "relationship.end",
        TODAY.isoformat(),
        {order.id, contract.id},
    )


def test_end_only_the_given_type(staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory) -> None:
    order = start_relationship(staff, kari.id, "order", date(2026, 1, 1))
    contract = start_relationship(staff, kari.id, "contract", date(2026, 2, 1))
    [ended] = end_relationship(staff, kari.id, "contract", date(2026, 3, 1))
    assert (ended.id, ended.ended_on) == (contract.id, date(2026, 3, 1))
    assert open_relationships(factory, kari) == [order.id]


def test_end_with_none_open_is_not_found(staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(NotFound):
        end_relationship(staff, kari.id)
    start_relationship(staff, kari.id, "order", date(2026, 1, 1))
    with pytest.raises(NotFound):
        end_relationship(staff, kari.id, "contract")
    end_relationship(staff, kari.id)
    with pytest.raises(NotFound):
        end_relationship(staff, kari.id)


def test_end_before_the_start_is_refused_and_ends_nothing(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    start_relationship(staff, kari.id, "order", date(2026, 1, 1))
    start_relationship(staff, kari.id, "contract", date(2026, 6, 1))
    audit_before = len(factory.state.audit)
    with pytest.raises(InvalidInput) as info:
        end_relationship(staff, kari.id, ended_on=date(2026, 3, 1))
    assert info.value.problems[0].field == "on"
    assert len(open_relationships(factory, kari)) == 2  # the order was not ended either
    assert len(factory.state.audit) == audit_before


def test_end_on_the_start_day_is_allowed(staff: Context, kari: Subject) -> None:
    rel = start_relationship(staff, kari.id, "order", date(2026, 1, 1))
    [ended] = end_relationship(staff, kari.id, ended_on=date(2026, 1, 1))
    assert ended.id == rel.id


def test_ending_never_makes_a_relationship_active_longer(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    contract = start_relationship(staff, kari.id, "contract", date(2025, 1, 1), date(2025, 7, 1))
    assert not contract.active_on(date(2026, 1, 1))
    with contextlib.suppress(NotFound):  # nothing open is a fine answer
        end_relationship(staff, kari.id)
    after = factory.state.relationships[contract.id]
    assert not after.active_on(date(2026, 1, 1))


def test_end_with_an_unknown_type_or_subject(staff: Context, kari: Subject) -> None:
    with pytest.raises(InvalidInput):
        end_relationship(staff, kari.id, "lease")
    with pytest.raises(NotFound):
        end_relationship(staff, "missing")


@pytest.mark.parametrize("role", ["auditor", "marketing"])
def test_read_only_roles_may_not_start_or_end(as_role: Callable[[str], Context], kari: Subject, role: str) -> None:
    with pytest.raises(Forbidden):
        start_relationship(as_role(role), kari.id, "order")
    with pytest.raises(Forbidden):
        end_relationship(as_role(role), kari.id)


def test_end_one_relationship_by_the_id_start_gave(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    order = start_relationship(staff, kari.id, "order", date(2026, 1, 1))
    contract = start_relationship(staff, kari.id, "contract", date(2026, 2, 1))
    [ended] = end_relationship(staff, contract.id, ended_on=date(2026, 6, 30))
    assert (ended.id, ended.subject_id, ended.ended_on) == (contract.id, kari.id, date(2026, 6, 30))
    assert open_relationships(factory, kari) == [order.id]
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.subject_id) == ("relationship.end", kari.id)
    assert entry.details == {"relationships": [contract.id], "ended_on": "2026-06-30"}


def test_end_by_id_refuses_what_is_not_open_or_not_of_that_type(staff: Context, kari: Subject) -> None:
    order = start_relationship(staff, kari.id, "order", date(2026, 1, 1))
    expired = start_relationship(staff, kari.id, "contract", date(2025, 1, 1), date(2025, 7, 1))
    with pytest.raises(InvalidInput, match="type"):
        end_relationship(staff, order.id, "contract")
    with pytest.raises(InvalidInput, match="before the start"):
        end_relationship(staff, order.id, ended_on=date(2025, 12, 31))
    with pytest.raises(Conflict, match="stated end"):
        end_relationship(staff, expired.id)
    end_relationship(staff, order.id, "order", date(2026, 3, 1))
    with pytest.raises(Conflict, match="already ended"):
        end_relationship(staff, order.id)
    with pytest.raises(NotFound, match="no subject or relationship"):
        end_relationship(staff, "f" * 32)
