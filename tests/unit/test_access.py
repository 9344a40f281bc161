"""Roles and permissions: who may read, write, manage the policy and verify the audit log."""

from __future__ import annotations

import re

import pytest

from personvern.domain.access import PHRASES, ROLE_PERMISSIONS, STAFF_ROLES, SUBJECT, Actor, Permission, check_role
from personvern.domain.errors import Forbidden, InvalidInput
from personvern.policy.schema import Policy

ALLOWED = {
    "ceo": set(Permission),
    "staff": {
        Permission.REGISTER_READ,
        Permission.REGISTER_WRITE,
        Permission.SMS_SEND,
        Permission.SMS_MARKETING,
        Permission.OUTBOX_READ,
        Permission.OUTBOX_MANAGE,
        Permission.CONSENT_READ,
        Permission.CONSENT_RECORD,
    },
    "marketing": {Permission.SMS_MARKETING, Permission.AUDIENCE_READ},
    "auditor": {
        Permission.REGISTER_READ,
        Permission.ACCOUNTING_EXPORT,
        Permission.AUDIT_VERIFY,
        Permission.RECORD_READ,
    },
}


def test_the_roles_are_those_of_the_design(policy: Policy) -> None:
    assert set(STAFF_ROLES) == set(ALLOWED) == set(policy.roles)
    assert set(ROLE_PERMISSIONS) == {*STAFF_ROLES, SUBJECT}  # and the person themself on the public page


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("permission", list(Permission))
def test_each_role_has_exactly_its_permissions(role: str, permission: Permission) -> None:
    actor = Actor("someone", role)
    if permission in ALLOWED[role]:
        actor.require(permission)
    else:
        with pytest.raises(Forbidden, match=re.escape(f"role '{role}' may not {PHRASES[permission]}")):
            actor.require(permission)


@pytest.mark.parametrize("permission", list(Permission))
def test_an_unknown_role_may_do_nothing(permission: Permission) -> None:
    with pytest.raises(Forbidden):
        Actor("someone", "intern").require(permission)


def test_check_role() -> None:
    for role in ALLOWED:
        check_role(role)
    with pytest.raises(InvalidInput) as info:
        check_role("intern")
    assert info.value.problems[0].field == "role"
    assert "ceo" in str(info.value)


def test_auditor_sees_only_the_bookkeeping_fields(policy: Policy) -> None:
    auditor = Actor("a", "auditor")
    seen = {name for name, spec in policy.fields.items() if auditor.sees_field(spec.purposes)}
    assert seen == {n for n, spec in policy.fields.items() if "bookkeeping" in spec.purposes}
    # ... which is what the policy says the auditor receives.
    assert seen == set(policy.recipients["auditor"].fields)
    assert not seen & {"phone", "national_id", "postal_address", "role"}


@pytest.mark.parametrize("role", ["ceo", "staff"])
def test_other_readers_see_every_field(policy: Policy, role: str) -> None:
    actor = Actor("a", role)
    assert all(actor.sees_field(spec.purposes) for spec in policy.fields.values())


def test_a_role_looks_people_up_only_by_fields_it_may_read(policy: Policy) -> None:
    auditor = Actor("someone", "auditor")
    auditor.require_lookup("email", policy.fields["email"].purposes)
    auditor.require_lookup("organisation_number", policy.fields["organisation_number"].purposes)
    for name in ("phone", "national_id"):
        with pytest.raises(Forbidden, match=f"role 'auditor' may not look people up by {name}"):
            auditor.require_lookup(name, policy.fields[name].purposes)
    for role in ("ceo", "staff"):
        for name, spec in policy.lookup_fields().items():
            Actor("someone", role).require_lookup(name, spec.purposes)


def test_every_refusal_says_in_words_what_was_refused() -> None:
    # Issue 18: «role 'staff' may not audience read» named the internal action.
    assert set(PHRASES) == set(Permission)
    for permission, phrase in PHRASES.items():
        assert permission.value not in phrase and permission.value.replace(".", " ") not in phrase
    with pytest.raises(Forbidden) as refused:
        Actor("someone", "staff").require(Permission.AUDIENCE_READ)
    assert str(refused.value) == "role 'staff' may not read the marketing audience"
