"""The register's use cases on the in-memory unit of work: add, show, list and update subjects."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest

from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from personvern.domain.subjects import Subject
from personvern.services.register import (
    Context,
    add_subject,
    list_subjects,
    show_subject,
    update_subject,
)
from tests.unit.builders import ORGNR
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory

KARI = {"full_name": "Kari Nordmann", "phone": "912 34 567", "email": "Kari.Nordmann@Example.no"}
OLA = {"full_name": "Ola Hansen", "phone": "+47 413 22 456", "email": "ola@example.no"}
ORG = {"organisation_number": "974 760 673", "organisation_name": "Brønnøysundregistrene"}
OTHER_ORGNR = "923609016"


def person(n: int) -> dict[str, str]:
    return {"full_name": f"Person Nummer{n}", "phone": f"9{n:07d}", "email": f"person{n}@example.no"}


def audit_text(factory: FakeUnitOfWorkFactory) -> str:
    return "\n".join(repr(row) for row in factory.state.audit).casefold()


def assert_no_personal_values(factory: FakeUnitOfWorkFactory, values: Iterable[str]) -> None:
    """Not a single personal value, in any form, in any column of any audit entry."""
    text = audit_text(factory)
    for value in values:
        for form in {value, value.replace(" ", ""), value.removeprefix("+47"), value.split("\n")[0]}:
            assert not form or form.casefold() not in text, form


def actions(factory: FakeUnitOfWorkFactory) -> list[tuple[str, str | None, str | None]]:
    return [(e.action, e.subject_id, e.purpose) for e in factory.audit_entries()]


def stored(factory: FakeUnitOfWorkFactory) -> dict[str, Subject]:
    return factory.state.subjects


# ------------------------------------------------------------------ add


def test_add_stores_normalised_values_and_records_it(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    subject = add_subject(ceo, "one_time_customer", KARI, {})
    assert stored(factory) == {subject.id: subject}
    assert subject.values == {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "Kari.Nordmann@example.no"}
    assert (subject.kind, subject.source, subject.received_at, subject.created_at) == (
        "one_time_customer",
        "data_subject",
        NOW,
        NOW,
    )
    [entry] = factory.audit_entries()
    assert (entry.action, entry.subject_id, entry.actor, entry.role, entry.at) == (
        "subject.create",
        subject.id,
        "ceo-user",
        "ceo",
        NOW,
    )
    assert entry.details == {
        "kind": "one_time_customer",
        "fields": ["email", "full_name", "phone"],
        "source": "data_subject",
    }
    assert_no_personal_values(factory, [*KARI.values(), *subject.values.values()])
    assert factory.verify().ok


def test_add_with_a_when_needed_field_records_the_reason(staff: Context, factory: FakeUnitOfWorkFactory) -> None:
    values = {**KARI, **ORG, "invoice_reference": "PO-7"}
    subject = add_subject(staff, "contract_customer", values, {"invoice_reference": "their accounts need it"})
    assert subject.values["organisation_number"] == ORGNR
    [entry] = factory.audit_entries()
    assert entry.details["reasons"] == {"invoice_reference": "their accounts need it"}
    assert_no_personal_values(factory, ["PO-7", *KARI.values()])


def test_add_with_invalid_values_stores_nothing(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    with pytest.raises(InvalidInput) as info:
        add_subject(ceo, "one_time_customer", {**KARI, "phone": "22 12 34 56", "shoe_size": "42"}, {})
    assert {p.field for p in info.value.problems} == {"phone", "shoe_size"}
    assert (stored(factory), factory.state.audit, factory.commits) == ({}, [], 0)


@pytest.mark.parametrize(
    "clash",
    [
        {"email": "KARI.NORDMANN@example.NO"},
        {"phone": "+47 91 23 45 67"},
        {"phone": "004791234567", "email": "kari.nordmann@EXAMPLE.no"},
    ],
)
def test_add_the_same_person_twice_is_a_conflict_naming_the_first(
    ceo: Context, factory: FakeUnitOfWorkFactory, clash: dict[str, str]
) -> None:
    first = add_subject(ceo, "one_time_customer", KARI, {})
    before = list(factory.state.audit)
    with pytest.raises(Conflict) as info:
        add_subject(ceo, "one_time_customer", {**OLA, **clash}, {})
    message = str(info.value)
    for field in clash:
        assert f"{field}: is already registered for subject {first.id}" in message
    assert list(stored(factory)) == [first.id]
    assert factory.state.audit == before
    assert "nordmann" not in message.casefold() and "91234567" not in message


@pytest.mark.parametrize("role", ["ceo", "staff"])
def test_ceo_and_staff_may_add(as_role: Callable[[str], Context], role: str) -> None:
    add_subject(as_role(role), "one_time_customer", KARI, {})


@pytest.mark.parametrize("role", ["marketing", "auditor", "intern"])
def test_other_roles_may_not_add(as_role: Callable[[str], Context], factory: FakeUnitOfWorkFactory, role: str) -> None:
    with pytest.raises(Forbidden):
        add_subject(as_role(role), "one_time_customer", KARI, {})
    assert (stored(factory), factory.state.audit) == ({}, [])


# ------------------------------------------------------------------ show


@pytest.fixture
def kari(ceo: Context) -> Subject:
    return add_subject(ceo, "contract_customer", {**KARI, **ORG, "national_id": "15108695088"}, {"national_id": "x"})


@pytest.mark.parametrize(
    "how",
    [
        {"email": "Kari.Nordmann@Example.no"},
        {"email": "kari.nordmann@example.no"},
        {"email": " KARI.NORDMANN@EXAMPLE.NO "},
        {"phone": "91234567"},
        {"phone": "+47 912 34 567"},
        {"phone": "0047 912 34 567"},
    ],
)
def test_show_by_email_or_phone_in_any_form(staff: Context, kari: Subject, how: Mapping[str, str]) -> None:
    view = show_subject(staff, **how)
    assert view.subject == kari
    assert view.values == kari.values


def test_show_by_id_lists_values_in_policy_order(staff: Context, kari: Subject) -> None:
    view = show_subject(staff, kari.id)
    assert list(view.values) == [name for name in staff.policy.fields if name in kari.values]
    assert view.relationships == []


def test_show_records_a_read_with_its_purpose_and_no_values(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    show_subject(staff, email="kari.nordmann@example.no", purpose="bookkeeping")
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.subject_id, entry.purpose, entry.actor) == (
        "subject.read",
        kari.id,
        "bookkeeping",
        "staff-user",
    )
    assert entry.details == {"fields": sorted(kari.values)}
    assert_no_personal_values(factory, [*KARI.values(), *kari.values.values(), "15108695088", "brønnøysund"])
    assert factory.verify().ok


def test_show_purpose_defaults_to_service_or_bookkeeping_for_the_auditor(
    as_role: Callable[[str], Context], kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    show_subject(as_role("staff"), kari.id)
    show_subject(as_role("auditor"), kari.id)
    assert [e.purpose for e in factory.audit_entries()[-2:]] == ["service", "bookkeeping"]


def test_show_with_an_unknown_purpose_is_refused(staff: Context, kari: Subject) -> None:
    with pytest.raises(InvalidInput) as info:
        show_subject(staff, kari.id, purpose="curiosity")
    assert info.value.problems[0].field == "purpose"


def test_auditor_sees_only_bookkeeping_fields(as_role: Callable[[str], Context], kari: Subject) -> None:
    view = show_subject(as_role("auditor"), kari.id)
    assert set(view.values) == {"full_name", "email", "organisation_number", "organisation_name"}
    assert view.subject.values == kari.values  # the domain object is whole; the view is what is shown


def test_auditor_read_records_only_the_fields_shown(
    as_role: Callable[[str], Context], kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    show_subject(as_role("auditor"), kari.id)
    entry = factory.audit_entries()[-1]
    assert (entry.role, entry.details) == (
        "auditor",
        {"fields": sorted(show_subject(as_role("auditor"), kari.id).values)},
    )
    assert "phone" not in entry.details["fields"]


@pytest.mark.parametrize("role", ["marketing", "intern"])
def test_roles_without_read_may_not_show(
    as_role: Callable[[str], Context], kari: Subject, factory: FakeUnitOfWorkFactory, role: str
) -> None:
    before = len(factory.state.audit)
    with pytest.raises(Forbidden):
        show_subject(as_role(role), kari.id)
    assert len(factory.state.audit) == before


@pytest.mark.parametrize(
    ("how", "secret"),
    [
        ({"email": "nobody.hansen@example.no"}, "hansen"),
        ({"phone": "+47 987 65 432"}, "98765432"),
        ({"subject_id": "0" * 32}, None),
    ],
)
def test_show_someone_not_there_is_not_found_without_echoing_the_value(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory, how: Mapping[str, str], secret: str | None
) -> None:
    before = len(factory.state.audit)
    with pytest.raises(NotFound) as info:
        show_subject(staff, **how)
    if secret is not None:
        assert secret not in str(info.value).replace(" ", "").casefold()
    assert len(factory.state.audit) == before  # nothing was read


@pytest.mark.parametrize(
    "how",
    [{}, {"subject_id": "x", "email": "kari@example.no"}, {"email": "kari@example.no", "phone": "91234567"}],
)
def test_show_needs_exactly_one_way_to_find_the_subject(staff: Context, how: Mapping[str, str]) -> None:
    with pytest.raises(InvalidInput):
        show_subject(staff, **how)


def test_show_with_a_malformed_email_is_invalid_input_naming_the_field(staff: Context) -> None:
    with pytest.raises(InvalidInput) as info:
        show_subject(staff, email="kari.nordmann@")
    assert info.value.problems[0].field == "email"
    assert "kari.nordmann" not in str(info.value)


# ------------------------------------------------------------------ list


@pytest.fixture
def register(ceo: Context, clock: object) -> dict[str, Subject]:
    """Three one-time customers, two contract customers of one organisation, one representative of another."""
    made = {}
    for n in range(3):
        made[f"p{n}"] = add_subject(ceo, "one_time_customer", person(n), {})
    for n in range(3, 5):
        made[f"c{n}"] = add_subject(ceo, "contract_customer", {**person(n), **ORG}, {})
    made["r5"] = add_subject(
        ceo,
        "business_representative",
        {**person(5), "organisation_number": OTHER_ORGNR, "organisation_name": "Other AS"},
        {},
    )
    return made


def test_list_all_and_by_kind(staff: Context, register: dict[str, Subject]) -> None:
    total, views = list_subjects(staff)
    assert total == 6 and {v.subject.id for v in views} == {s.id for s in register.values()}
    total, views = list_subjects(staff, kind="contract_customer")
    assert total == 2 and {v.subject.id for v in views} == {register["c3"].id, register["c4"].id}


def test_list_by_organisation_number_in_any_format(staff: Context, register: dict[str, Subject]) -> None:
    total, views = list_subjects(staff, organisation_number="974 760 673")
    assert total == 2 and {v.subject.id for v in views} == {register["c3"].id, register["c4"].id}
    total, views = list_subjects(staff, organisation_number=OTHER_ORGNR)
    assert total == 1 and [v.subject.id for v in views] == [register["r5"].id]
    total, views = list_subjects(staff, organisation_number=OTHER_ORGNR, kind="contract_customer")
    assert (total, views) == (0, [])


def test_list_pages_and_counts_the_whole(staff: Context, register: dict[str, Subject]) -> None:
    seen = []
    for offset in range(0, 6, 4):
        total, views = list_subjects(staff, limit=4, offset=offset)
        assert total == 6
        seen += [v.subject.id for v in views]
    assert sorted(seen) == sorted(s.id for s in register.values())
    assert list_subjects(staff, offset=6) == (6, [])


def test_list_records_one_read_per_subject_shown(
    staff: Context, register: dict[str, Subject], factory: FakeUnitOfWorkFactory
) -> None:
    before = len(factory.state.audit)
    _, views = list_subjects(staff, limit=2, offset=1, purpose="bookkeeping")
    reads = factory.audit_entries()[before:]
    assert [(e.action, e.subject_id, e.purpose, e.details) for e in reads] == [
        ("subject.read", v.subject.id, "bookkeeping", {"via": "list"}) for v in views
    ]
    assert_no_personal_values(factory, [v for n in range(6) for v in person(n).values()])


def test_list_for_the_auditor_hides_non_bookkeeping_fields(
    as_role: Callable[[str], Context], register: dict[str, Subject]
) -> None:
    _, views = list_subjects(as_role("auditor"))
    assert all("phone" not in v.values and "email" in v.values for v in views)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"kind": "visitor"}, "kind"),
        ({"organisation_number": "974760674"}, "organisation"),
        ({"purpose": "curiosity"}, "purpose"),
    ],
)
def test_list_arguments_are_checked(
    staff: Context, register: dict[str, Subject], factory: FakeUnitOfWorkFactory, args: dict[str, object], field: str
) -> None:
    before = len(factory.state.audit)
    with pytest.raises(InvalidInput) as info:
        list_subjects(staff, **args)  # type: ignore[arg-type]
    assert info.value.problems[0].field == field
    assert len(factory.state.audit) == before


def test_list_limits_at_the_edges_are_allowed(staff: Context, register: dict[str, Subject]) -> None:
    assert len(list_subjects(staff, limit=1)[1]) == 1
    assert len(list_subjects(staff, limit=10_000)[1]) == 6


def test_marketing_may_not_list(as_role: Callable[[str], Context], register: dict[str, Subject]) -> None:
    with pytest.raises(Forbidden):
        list_subjects(as_role("marketing"))


# ------------------------------------------------------------------ update


def test_update_sets_a_value_and_records_what_changed(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory, clock: object
) -> None:
    updated = update_subject(staff, kari.id, {"email": "kari@nordmann.example"}, [], {})
    assert updated.values["email"] == "kari@nordmann.example"
    assert stored(factory)[kari.id] == updated
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.subject_id, entry.details) == (
        "subject.update",
        kari.id,
        {"changed": ["email"], "removed": []},
    )
    assert "kari@nordmann.example" not in audit_text(factory)
    assert show_subject(staff, email="KARI@nordmann.example").subject.id == kari.id
    with pytest.raises(NotFound):
        show_subject(staff, email="kari.nordmann@example.no")


def test_update_with_a_when_needed_field_records_the_reason(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    update_subject(staff, kari.id, {"postal_address": "Storgata 1\n0155 Oslo"}, [], {"postal_address": "sends paper"})
    entry = factory.audit_entries()[-1]
    assert entry.details == {"changed": ["postal_address"], "removed": [], "reasons": {"postal_address": "sends paper"}}
    assert "storgata" not in audit_text(factory)


def test_update_when_needed_field_without_reason_is_refused(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    with pytest.raises(InvalidInput) as info:
        update_subject(staff, kari.id, {"postal_address": "Storgata 1"}, [], {})
    assert info.value.problems[0].field == "postal_address"
    assert stored(factory)[kari.id] == kari


def test_update_unset_optional_field(staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory) -> None:
    updated = update_subject(staff, kari.id, {}, ["national_id"], {})
    assert "national_id" not in updated.values and "national_id" not in stored(factory)[kari.id].values
    assert factory.audit_entries()[-1].details == {"changed": [], "removed": ["national_id"]}


def test_update_unset_required_field_is_refused(staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory) -> None:
    audit_before = len(factory.state.audit)
    with pytest.raises(InvalidInput) as info:
        update_subject(staff, kari.id, {"full_name": "Kari Hansen"}, ["phone"], {})
    assert [p.field for p in info.value.problems] == ["phone"]
    assert stored(factory)[kari.id] == kari
    assert len(factory.state.audit) == audit_before


def test_update_to_another_subjects_email_or_phone_is_a_conflict(
    staff: Context, kari: Subject, factory: FakeUnitOfWorkFactory
) -> None:
    ola = add_subject(staff, "one_time_customer", OLA, {})
    for change in ({"email": "KARI.nordmann@example.no"}, {"phone": "91234567"}):
        with pytest.raises(Conflict, match=f"already registered for subject {kari.id}"):
            update_subject(staff, ola.id, change, [], {})
    assert stored(factory)[ola.id] == ola


def test_update_own_email_in_another_case_is_not_a_conflict(staff: Context, kari: Subject) -> None:
    updated = update_subject(staff, kari.id, {"email": "KARI.NORDMANN@example.no"}, [], {})
    assert updated.values["email"] == "KARI.NORDMANN@example.no"


@pytest.mark.parametrize(
    ("changes", "remove", "reasons"),
    [
        ({}, [], {}),
        ({"role": "buyer"}, [], {"role": "x"}),  # not declared for a contract customer
        ({"email": "x@example.no"}, ["email"], {}),
        ({"full_name": "Kari"}, [], {"postal_address": "no value"}),
    ],
)
def test_update_refuses_invalid_changes(
    staff: Context,
    kari: Subject,
    factory: FakeUnitOfWorkFactory,
    changes: dict[str, str],
    remove: list[str],
    reasons: dict[str, str],
) -> None:
    with pytest.raises(InvalidInput):
        update_subject(staff, kari.id, changes, remove, reasons)
    assert stored(factory)[kari.id] == kari


def test_update_unknown_subject_is_not_found(staff: Context) -> None:
    with pytest.raises(NotFound):
        update_subject(staff, "missing", {"full_name": "X"}, [], {})


@pytest.mark.parametrize("role", ["auditor", "marketing"])
def test_read_only_roles_may_not_update(as_role: Callable[[str], Context], kari: Subject, role: str) -> None:
    with pytest.raises(Forbidden):
        update_subject(as_role(role), kari.id, {"full_name": "X"}, [], {})
