"""Importing subjects from a file: all rows or none, every problem named with the file's own line number."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personvern.domain.access import Actor
from personvern.domain.errors import Forbidden, InvalidInput
from personvern.policy.schema import Policy
from personvern.services import register
from personvern.services.context import Context
from personvern.services.register import add_subject, import_subjects
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock


def row(n: int, **override: str) -> dict[str, str]:
    return {"full_name": f"Person Nummer{n}", "phone": f"9{n:07d}", "email": f"person{n}@example.no", **override}


def numbered(rows: list[dict[str, str]]) -> list[tuple[int, dict[str, str]]]:
    """Rows as a CSV reader gives them: the header is line 1, so data starts on line 2."""
    return list(enumerate(rows, start=2))


def problems_by_line(info: pytest.ExceptionInfo[InvalidInput]) -> dict[int | None, set[str]]:
    found: dict[int | None, set[str]] = {}
    for p in info.value.problems:
        found.setdefault(p.line, set()).add(p.field)
    return found


def test_import_adds_every_row_and_records_each(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    ticks: list[int] = []
    count = import_subjects(staff, "one_time_customer", numbered([row(n) for n in range(5)]), {}, progress=ticks.append)
    assert count == 5 and sum(ticks) == 5
    assert {s.values["email"] for s in factory.state.subjects.values()} == {f"person{n}@example.no" for n in range(5)}
    assert all(s.source == "import" and s.received_at == NOW for s in factory.state.subjects.values())
    entries = factory.audit_entries()
    assert [e.action for e in entries] == ["subject.create"] * 5
    assert {e.subject_id for e in entries} == set(factory.state.subjects)
    assert factory.verify().ok
    assert factory.commits == 1  # one transaction


def test_empty_cells_are_absent_values(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    import_subjects(staff, "one_time_customer", numbered([row(1, postal_address="  ")]), {})
    [subject] = factory.state.subjects.values()
    assert "postal_address" not in subject.values


def test_file_wide_reasons_apply_to_rows_that_fill_the_field(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    rows = [row(1, postal_address="Storgata 1"), row(2, postal_address="")]
    import_subjects(staff, "one_time_customer", numbered(rows), {"postal_address": "paper invoices"})
    details = sorted((e.details.get("reasons") or {}).get("postal_address", "") for e in factory.audit_entries())
    assert details == ["", "paper invoices"]
    assert "storgata" not in repr(factory.state.audit).casefold()


def test_when_needed_column_without_a_reason_is_refused_on_each_row(
    staff: Context, factory: FakeUnitOfWorkFactory
) -> None:
    rows = [row(1, postal_address="Storgata 1"), row(2), row(3, postal_address="Storgata 3")]
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", numbered(rows), {})
    assert problems_by_line(info) == {2: {"postal_address"}, 4: {"postal_address"}}
    assert factory.state.subjects == {}


def test_one_bad_row_among_many_stores_nothing_and_names_every_bad_row(
    staff: Context, factory: FakeUnitOfWorkFactory
) -> None:
    rows = [row(n) for n in range(40)]
    rows[3] = row(3, email="not-an-email")
    rows[17] = row(17, phone="22 12 34 56", full_name="")
    rows[39] = {k: v for k, v in row(39).items() if k != "email"}
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", numbered(rows), {})
    assert problems_by_line(info) == {5: {"email"}, 19: {"phone", "full_name"}, 41: {"email"}}
    message = str(info.value)
    assert message.startswith("nothing was imported: 4 problem(s)")
    assert "line 5: email: " in message and "line 41: email: is required" in message
    assert (factory.state.subjects, factory.state.audit, factory.commits) == ({}, [], 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 30), data=st.data())
def test_every_bad_row_is_reported_with_its_line(
    policy: Policy, clock: FixedClock, size: int, data: st.DataObject
) -> None:
    factory = FakeUnitOfWorkFactory(policy)
    ctx = Context(policy, factory, clock, Actor("staff-user", "staff"))
    bad = data.draw(st.sets(st.integers(0, size - 1), min_size=1))
    breakages = {"email": "kari@", "phone": "12", "full_name": "\x00", "shoe_size": "42"}
    rows = []
    broken: dict[int, str] = {}
    for n in range(size):
        if n in bad:
            field = data.draw(st.sampled_from(sorted(breakages)))
            rows.append(row(n, **{field: breakages[field]}))
            broken[n + 2] = field
        else:
            rows.append(row(n))
    with pytest.raises(InvalidInput) as info:
        import_subjects(ctx, "one_time_customer", numbered(rows), {})
    assert {p.line: p.field for p in info.value.problems} == broken
    assert [p.line for p in info.value.problems] == sorted(broken)
    assert factory.state.subjects == {} and factory.state.audit == []


def test_duplicates_inside_the_file_name_the_first_line(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    rows = [
        row(1),
        row(2, email="PERSON1@example.NO"),
        row(3),
        row(4, phone="+47 900 00 003"),  # row(3)'s phone, written otherwise
        row(5, email="person1@EXAMPLE.no"),
    ]
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", numbered(rows), {})
    found = {(p.line, p.field, p.message) for p in info.value.problems}
    assert found == {
        (3, "email", "the same value as line 2"),
        (5, "phone", "the same value as line 4"),
        (6, "email", "the same value as line 2"),
    }
    assert factory.state.subjects == {}


def test_duplicates_against_the_register_name_the_holder(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    held = add_subject(staff, "one_time_customer", row(7), {})
    rows = [row(1), row(2, email="Person7@Example.no"), row(3, phone="+4790000007"), row(4)]
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", numbered(rows), {})
    found = {(p.line, p.field, p.message) for p in info.value.problems}
    assert found == {
        (3, "email", f"is already registered for subject {held.id}"),
        (4, "phone", f"is already registered for subject {held.id}"),
    }
    assert list(factory.state.subjects) == [held.id]
    assert [e.action for e in factory.audit_entries()] == ["subject.create"]


@pytest.mark.parametrize("bad_index", [0, 5, 9])
def test_a_bad_row_in_a_later_batch_rolls_back_the_batches_already_written(
    staff: Context, factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch, bad_index: int
) -> None:
    monkeypatch.setattr(register, "IMPORT_BATCH", 3)
    rows = [row(n) for n in range(10)]
    rows[bad_index] = row(bad_index, email="kari@")
    ticks: list[int] = []
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", numbered(rows), {}, progress=ticks.append)
    assert problems_by_line(info) == {bad_index + 2: {"email"}}
    assert sum(ticks) == 10  # every row was still checked
    assert (factory.state.subjects, factory.state.audit, factory.commits) == ({}, [], 0)


def test_a_duplicate_across_batches_is_found(
    staff: Context, factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register, "IMPORT_BATCH", 2)
    rows = [row(n) for n in range(7)]
    rows[6] = row(6, phone=row(0)["phone"])
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", numbered(rows), {})
    assert [(p.line, p.field, p.message) for p in info.value.problems] == [(8, "phone", "the same value as line 2")]
    assert factory.state.subjects == {}


def test_many_batches_commit_once(
    staff: Context, factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register, "IMPORT_BATCH", 4)
    assert import_subjects(staff, "one_time_customer", numbered([row(n) for n in range(10)]), {}) == 10
    assert (len(factory.state.subjects), len(factory.state.audit), factory.commits) == (10, 10, 1)
    assert factory.verify().ok


def test_problems_are_listed_in_line_order(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    held = add_subject(staff, "one_time_customer", row(7), {})
    rows = [row(1), row(2, email=row(7)["email"]), row(3, full_name="\x00"), row(4, phone=row(7)["phone"])]
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", numbered(rows), {})
    assert [(p.line, p.field) for p in info.value.problems] == [(3, "email"), (4, "full_name"), (5, "phone")]
    assert str(info.value).splitlines()[1:] == [
        f"line 3: email: is already registered for subject {held.id}",
        "line 4: full_name: must not contain control characters",
        f"line 5: phone: is already registered for subject {held.id}",
    ]


@pytest.mark.parametrize("rows", [[], [(2, {"full_name": " ", "email": ""})]])
def test_a_file_without_data_rows_is_refused(
    staff: Context, factory: FakeUnitOfWorkFactory, rows: list[tuple[int, dict[str, str]]]
) -> None:
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "one_time_customer", rows, {})
    assert factory.state.subjects == {}
    if not rows:
        assert info.value.problems[0].field == "file"


def test_unknown_kind_is_refused(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(InvalidInput) as info:
        import_subjects(staff, "visitor", numbered([row(1)]), {})
    assert {p.field for p in info.value.problems} == {"kind"}
    assert factory.state.subjects == {}


@pytest.mark.parametrize("role", ["auditor", "marketing"])
def test_read_only_roles_may_not_import(as_role: Callable[[str], Context], role: str) -> None:
    with pytest.raises(Forbidden):
        import_subjects(as_role(role), "one_time_customer", numbered([row(1)]), {})
