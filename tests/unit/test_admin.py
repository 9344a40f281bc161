"""Loading the policy into the register (versioned, CEO only) and verifying the audit log."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from personvern.domain.access import Actor
from personvern.domain.errors import Forbidden, PolicyRejected
from personvern.policy.loader import LoadedPolicy, parse_policy
from personvern.services.admin import load_policy_version, verify_audit
from personvern.services.context import Context
from personvern.services.register import add_subject, show_subject
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

CEO = Actor("dagleg", "ceo")


def newer(loaded: LoadedPolicy) -> LoadedPolicy:
    return parse_policy(loaded.text.replace('version = "2026.1"', 'version = "2026.2"', 1), "new.toml")


def test_first_load_is_recorded(factory: FakeUnitOfWorkFactory, clock: FixedClock, loaded: LoadedPolicy) -> None:
    result = load_policy_version(factory, clock, CEO, loaded)
    assert (result.version, result.sha256, result.changed, result.previous) == ("2026.1", loaded.sha256, True, None)
    [record] = factory.state.policies
    assert (record.version, record.sha256, record.text, record.loaded_at) == ("2026.1", loaded.sha256, loaded.text, NOW)
    [entry] = factory.audit_entries()
    assert (entry.action, entry.actor, entry.role) == ("policy.load", "dagleg", "ceo")
    assert entry.details == {"version": "2026.1", "sha256": loaded.sha256, "source": loaded.source}


def test_the_same_text_is_not_recorded_twice(
    factory: FakeUnitOfWorkFactory, clock: FixedClock, loaded: LoadedPolicy
) -> None:
    load_policy_version(factory, clock, CEO, loaded)
    clock.advance(days=1)
    again = load_policy_version(factory, clock, CEO, parse_policy(loaded.text, "copy.toml"))
    assert (again.changed, again.version, again.previous) == (False, "2026.1", "2026.1")
    assert len(factory.state.policies) == 1
    assert len(factory.state.audit) == 1


def test_a_new_text_is_a_new_version(factory: FakeUnitOfWorkFactory, clock: FixedClock, loaded: LoadedPolicy) -> None:
    load_policy_version(factory, clock, CEO, loaded)
    clock.advance(days=30)
    second = newer(loaded)
    result = load_policy_version(factory, clock, CEO, second)
    assert (result.version, result.sha256, result.changed, result.previous) == ("2026.2", second.sha256, True, "2026.1")
    assert [r.version for r in factory.state.policies] == ["2026.1", "2026.2"]
    assert [e.action for e in factory.audit_entries()] == ["policy.load", "policy.load"]
    # Back to the old text: a change again, recorded again; the history keeps every version (Art. 5(2)).
    assert load_policy_version(factory, clock, CEO, loaded).changed
    assert [r.version for r in factory.state.policies] == ["2026.1", "2026.2", "2026.1"]


def without_national_id_for_contracts(loaded: LoadedPolicy) -> LoadedPolicy:
    text = newer(loaded).text
    at = text.index("[fields.national_id]")
    old = 'kinds = ["one_time_customer", "contract_customer"]'
    assert text.index(old, at) < text.index("[fields.role]")
    return parse_policy(text[:at] + text[at:].replace(old, 'kinds = ["one_time_customer"]', 1), "new.toml")


@pytest.mark.parametrize("with_national_id", [True, False])
def test_a_new_policy_must_still_declare_what_the_register_holds(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock, loaded: LoadedPolicy, with_national_id: bool
) -> None:
    load_policy_version(factory, clock, CEO, loaded)
    values = {
        "full_name": "Kari Nordmann",
        "phone": "91234567",
        "email": "kari@example.no",
        "organisation_number": "974760673",
        "organisation_name": "Brreg",
    }
    reasons = {}
    if with_national_id:
        values["national_id"] = "15108695088"
        reasons["national_id"] = "credit check"
    add_subject(ceo, "contract_customer", values, reasons)
    audit_before = list(factory.state.audit)
    narrower = without_national_id_for_contracts(loaded)
    if not with_national_id:
        assert load_policy_version(factory, clock, CEO, narrower).changed
        return
    with pytest.raises(PolicyRejected) as info:
        load_policy_version(factory, clock, CEO, narrower)
    message = str(info.value)
    assert "'national_id'" in message and "'contract_customer'" in message
    assert "15108695088" not in message
    assert [r.version for r in factory.state.policies] == ["2026.1"]
    assert factory.state.audit == audit_before


@pytest.mark.parametrize("role", ["staff", "marketing", "auditor", "intern"])
def test_only_the_ceo_loads_a_policy(
    factory: FakeUnitOfWorkFactory, clock: FixedClock, loaded: LoadedPolicy, role: str
) -> None:
    with pytest.raises(Forbidden):
        load_policy_version(factory, clock, Actor("x", role), loaded)
    assert factory.state.policies == [] and factory.state.audit == []


def test_verify_audit_after_real_use(as_role: Callable[[str], Context], factory: FakeUnitOfWorkFactory) -> None:
    staff = as_role("staff")
    subject = add_subject(staff, "one_time_customer", {"full_name": "K", "phone": "91234567", "email": "k@ex.no"}, {})
    show_subject(staff, subject.id)
    report = verify_audit(factory, Actor("rev", "auditor"))
    assert (report.ok, report.checked) == (True, 2)
    row = factory.state.audit[0]
    factory.state.audit[0] = (*row[:7], '{"fields":["email"]}', *row[8:])
    report = verify_audit(factory, CEO)
    assert (report.ok, report.broken_at) == (False, 1)


@pytest.mark.parametrize("role", ["staff", "marketing"])
def test_verify_audit_needs_the_permission(factory: FakeUnitOfWorkFactory, role: str) -> None:
    with pytest.raises(Forbidden):
        verify_audit(factory, Actor("x", role))
