"""check_values and check_removal: only declared fields, required ones present, optional ones with a reason."""

from __future__ import annotations

from datetime import date

import pytest

from personvern.domain.errors import FieldProblem
from personvern.domain.subjects import Relationship, RelationshipType, check_removal, check_values
from personvern.policy.schema import Policy
from tests.unit.builders import ORGNR

PERSON = {"full_name": "Kari Nordmann", "phone": "912 34 567", "email": "Kari@Example.NO"}
BUSINESS = {**PERSON, "organisation_number": "974 760 673", "organisation_name": "Brreg"}


def by_field(problems: list[FieldProblem]) -> dict[str, str]:
    assert len({p.field for p in problems}) == len(problems), problems
    return {p.field: p.message for p in problems}


def test_complete_values_are_normalised(policy: Policy) -> None:
    checked = check_values(policy, "one_time_customer", PERSON, {}, complete=True)
    assert checked.problems == []
    assert checked.values == {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "Kari@example.no"}


def test_business_kinds_need_the_organisation(policy: Policy) -> None:
    assert check_values(policy, "contract_customer", BUSINESS, {}, complete=True).values["organisation_number"] == ORGNR
    problems = by_field(check_values(policy, "contract_customer", PERSON, {}, complete=True).problems)
    assert problems == {
        "organisation_number": "is required for kind contract_customer",
        "organisation_name": "is required for kind contract_customer",
    }


def test_undeclared_field_is_named_and_the_allowed_ones_listed(policy: Policy) -> None:
    checked = check_values(
        policy, "business_representative", {**BUSINESS, "national_id": "15108695088"}, {}, complete=True
    )
    [problem] = checked.problems
    assert problem.field == "national_id"
    assert "not declared for kind business_representative" in problem.message
    allowed = problem.message.split("allowed: ", 1)[1]
    assert set(allowed.rstrip(")").split(", ")) == set(policy.fields_for("business_representative"))
    assert "national_id" not in checked.values


def test_field_unknown_to_the_policy_is_refused(policy: Policy) -> None:
    [problem] = check_values(policy, "one_time_customer", {**PERSON, "shoe_size": "42"}, {}, complete=True).problems
    assert problem.field == "shoe_size"


@pytest.mark.parametrize("missing", ["full_name", "phone", "email"])
def test_required_field_missing(policy: Policy, missing: str) -> None:
    values = {k: v for k, v in PERSON.items() if k != missing}
    problems = check_values(policy, "one_time_customer", values, {}, complete=True).problems
    assert by_field(problems) == {missing: "is required for kind one_time_customer"}


def test_partial_change_does_not_need_the_required_fields(policy: Policy) -> None:
    checked = check_values(policy, "one_time_customer", {"email": "ola@example.no"}, {}, complete=False)
    assert (checked.problems, checked.values) == ([], {"email": "ola@example.no"})


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_when_needed_field_without_a_reason_is_refused(policy: Policy, reason: str | None) -> None:
    reasons = {} if reason is None else {"postal_address": reason}
    values = {**PERSON, "postal_address": "Storgata 1"}
    problems = by_field(check_values(policy, "one_time_customer", values, reasons, complete=True).problems)
    assert list(problems) == ["postal_address"]
    assert "only when needed" in problems["postal_address"]


def test_when_needed_field_with_a_reason_is_kept(policy: Policy) -> None:
    values = {**PERSON, "postal_address": "Storgata 1\n0155 Oslo"}
    checked = check_values(policy, "one_time_customer", values, {"postal_address": "invoice by post"}, complete=True)
    assert checked.problems == []
    assert checked.values["postal_address"] == "Storgata 1\n0155 Oslo"


@pytest.mark.parametrize(
    "reasons",
    [
        {"postal_address": "not being set"},  # a when_needed field that is not among the values
        {"full_name": "always collected"},  # a field that needs no reason
        {"shoe_size": "undeclared"},
    ],
)
def test_reason_for_a_field_not_being_set_is_refused(policy: Policy, reasons: dict[str, str]) -> None:
    problems = by_field(check_values(policy, "one_time_customer", PERSON, reasons, complete=True).problems)
    [name] = reasons
    assert problems == {name: "a reason is only given for a 'when needed' field that is being set"}


def test_unknown_kind_is_the_only_problem_and_lists_the_kinds(policy: Policy) -> None:
    checked = check_values(policy, "visitor", {"anything": "x"}, {}, complete=True, line=7)
    [problem] = checked.problems
    assert (problem.field, problem.line) == ("kind", 7)
    assert all(kind in problem.message for kind in policy.kinds)
    assert checked.values == {}


def test_bad_values_are_reported_per_field_and_carry_the_line(policy: Policy) -> None:
    values = {"full_name": " ", "phone": "22 12 34 56", "email": "kari@", "shoe_size": "42"}
    checked = check_values(policy, "one_time_customer", values, {"postal_address": "x"}, complete=True, line=12)
    assert {p.field for p in checked.problems} == {"full_name", "phone", "email", "shoe_size", "postal_address"}
    assert {p.line for p in checked.problems} == {12}
    assert all(str(p).startswith(f"line 12: {p.field}: ") for p in checked.problems)
    assert checked.values == {}


def test_removal_of_required_or_undeclared_fields_is_refused(policy: Policy) -> None:
    problems = by_field(check_removal(policy, "one_time_customer", ["email", "role", "postal_address"]))
    assert problems == {
        "email": "is required for kind one_time_customer and cannot be removed",
        "role": "is not declared for kind one_time_customer",
    }


@pytest.mark.parametrize(
    ("rel", "day", "active"),
    [
        (Relationship("r", "s", RelationshipType.ORDER, date(2026, 1, 10)), date(2026, 1, 9), False),
        (Relationship("r", "s", RelationshipType.ORDER, date(2026, 1, 10)), date(2026, 1, 10), True),
        (Relationship("r", "s", RelationshipType.ORDER, date(2026, 1, 10)), date(2099, 1, 1), True),
        (
            Relationship("r", "s", RelationshipType.CONTRACT, date(2026, 1, 1), date(2026, 7, 1)),
            date(2026, 6, 30),
            True,
        ),
        (
            Relationship("r", "s", RelationshipType.CONTRACT, date(2026, 1, 1), date(2026, 7, 1)),
            date(2026, 7, 1),
            False,
        ),
        (
            Relationship("r", "s", RelationshipType.CONTRACT, date(2026, 1, 1), date(2026, 7, 1), date(2026, 3, 1)),
            date(2026, 4, 1),
            False,
        ),
    ],
)
def test_relationship_is_active_from_its_start_until_its_end(rel: Relationship, day: date, active: bool) -> None:
    assert rel.active_on(day) is active


def test_check_columns_names_unknown_and_missing_columns_once() -> None:
    from personvern.domain.subjects import check_columns
    from personvern.policy import load_policy

    policy = load_policy().policy
    assert check_columns(policy, "one_time_customer", ["full_name", "phone", "email", "postal_address"]) == []
    problems = check_columns(policy, "contract_customer", ["full_name", "phone", "email", "shoe_size"])
    assert [(p.field, p.line) for p in problems] == [
        ("shoe_size", 1),
        ("organisation_number", 1),
        ("organisation_name", 1),
    ]
    assert "not declared" in problems[0].message and "required" in problems[1].message
    assert check_columns(policy, "robot", ["full_name"])[0].field == "kind"
