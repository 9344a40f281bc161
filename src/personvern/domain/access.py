"""Who may do what: the roles of DESIGN.md and their permissions, enforced by the services."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from personvern.domain.errors import Forbidden, invalid


class Permission(StrEnum):
    REGISTER_READ = "register.read"
    REGISTER_WRITE = "register.write"
    POLICY_MANAGE = "policy.manage"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_READ = "audit.read"  # the audit log itself: who read or changed what, when and why (Art. 5(2))
    SMS_SEND = "sms.send"  # service messages, to customers with an active relationship
    SMS_MARKETING = "sms.marketing"  # marketing messages, to the consented audience only
    OUTBOX_READ = "outbox.read"
    OUTBOX_MANAGE = "outbox.manage"  # run the worker, retry dead rows, feed delivery reports and replies
    CONSENT_READ = "consent.read"  # the ledger, its receipts, objections and restrictions
    CONSENT_RECORD = "consent.record"  # consent given or withdrawn, objections, restrictions
    AUDIENCE_READ = "audience.read"  # the marketing audience: who may be contacted now, and how
    REQUEST_HANDLE = "request.handle"  # data subject requests: the CEO handles every one (the policy)
    REQUEST_OPEN = "request.open"  # register a request as it arrives (the CEO; the person themself on the web)
    ARCHIVE_READ = "archive.read"  # the archive; also limited to the policy's archive.readable_by roles
    RETENTION_RUN = "retention.run"  # plan and carry out archiving and erasure when reasons end
    REVIEW_SIGN = "review.sign"  # run and sign the annual review
    BREACH_MANAGE = "breach.manage"  # the breach register and notifications (Art. 33-34)
    RECORD_READ = "record.read"  # the record of processing (Art. 30), with live counts
    USERS_MANAGE = "users.manage"  # add and disable staff users, issue their tokens
    ACCOUNTING_EXPORT = "accounting.export"  # customers' master data for the accounts (SAF-T, CSV)
    PROCESSORS_RECONCILE = "processors.reconcile"  # compare what a processor holds with the register, and fix it
    KEYS_MANAGE = "keys.manage"  # back up and restore the register, rotate its master key (Art. 32(1)(b)-(c))

    @property
    def phrase(self) -> str:
        """What the permission lets a role do, in words, for a refusal: «role 'staff' may not …»."""
        return PHRASES[self]


# Every refusal names what was refused in words, never the internal name (issue 18).
PHRASES: dict[Permission, str] = {
    Permission.REGISTER_READ: "read the customer register",
    Permission.REGISTER_WRITE: "add or change customers",
    Permission.POLICY_MANAGE: "load the privacy policy",
    Permission.AUDIT_VERIFY: "verify the audit log",
    Permission.AUDIT_READ: "read the audit log (who read or changed what)",
    Permission.SMS_SEND: "send SMS about a customer's agreement",
    Permission.SMS_MARKETING: "send marketing SMS",
    Permission.OUTBOX_READ: "see the outbox",
    Permission.OUTBOX_MANAGE: "run deliveries from the outbox",
    Permission.CONSENT_READ: "read consents, objections and restrictions",
    Permission.CONSENT_RECORD: "record consents, objections and restrictions",
    Permission.AUDIENCE_READ: "read the marketing audience",
    Permission.REQUEST_OPEN: "open a data subject request",
    Permission.REQUEST_HANDLE: "handle data subject requests",
    Permission.ARCHIVE_READ: "read the archive",
    Permission.RETENTION_RUN: "plan or carry out archiving and erasure when retention ends",
    Permission.REVIEW_SIGN: "run or sign the annual review",
    Permission.BREACH_MANAGE: "handle security breaches",
    Permission.RECORD_READ: "read the record of processing",
    Permission.USERS_MANAGE: "manage staff users and their sign-in",
    Permission.ACCOUNTING_EXPORT: "export customers' master data for the accounts",
    Permission.PROCESSORS_RECONCILE: "reconcile what a processor holds with the register",
    Permission.KEYS_MANAGE: "back up or restore the register, or rotate its master key",
}


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "ceo": frozenset(Permission),
    "staff": frozenset(
        {
            Permission.REGISTER_READ,
            Permission.REGISTER_WRITE,
            Permission.SMS_SEND,
            Permission.SMS_MARKETING,
            Permission.OUTBOX_READ,
            Permission.OUTBOX_MANAGE,
            Permission.CONSENT_READ,
            Permission.CONSENT_RECORD,
        }
    ),
    # Marketing reaches only the consented audience (a later capability), never the register itself.
    "marketing": frozenset({Permission.SMS_MARKETING, Permission.AUDIENCE_READ}),
    # The auditor reads exactly the accounting view (Art. 5(1)(c)): the register limited to bookkeeping fields,
    # the accounting export, the record of processing and whether the audit log is intact. Not the log's
    # entries: they tell who consented to marketing and who was sent which message, which no account needs.
    "auditor": frozenset(
        {Permission.REGISTER_READ, Permission.ACCOUNTING_EXPORT, Permission.AUDIT_VERIFY, Permission.RECORD_READ}
    ),
}

# The person themself on the public page, once a one-time code or a signed link has shown who they are: they
# may open their own requests (Art. 12(2): the controller facilitates the exercise of the rights) and give or
# withdraw their own consent (Art. 7(3): as easy as giving it). Never a staff user's role.
SUBJECT = "subject"
ROLE_PERMISSIONS[SUBJECT] = frozenset({Permission.REQUEST_OPEN, Permission.CONSENT_RECORD})
STAFF_ROLES: tuple[str, ...] = tuple(role for role in ROLE_PERMISSIONS if role != SUBJECT)

# Roles that see only the fields serving these purposes (purpose limitation, Art. 5(1)(b)).
ROLE_PURPOSES: dict[str, frozenset[str]] = {"auditor": frozenset({"bookkeeping"})}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a name for the audit log and the role that decides what they may do."""

    name: str
    role: str

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    def require(self, permission: Permission) -> None:
        if permission not in ROLE_PERMISSIONS.get(self.role, frozenset()):
            raise Forbidden(f"role {self.role!r} may not {permission.phrase}")

    def sees_field(self, field_purposes: list[str]) -> bool:
        limit = ROLE_PURPOSES.get(self.role)
        return limit is None or bool(limit.intersection(field_purposes))

    def require_lookup(self, field: str, field_purposes: list[str]) -> None:
        """Finding people by a field is reading it: a role may search only by fields it may see (Art. 5(1)(b)).

        Checked before the value is even parsed, so the refusal is the same for a value someone holds, one
        nobody holds and one that is malformed: the answer tells nothing about who is in the register.
        """
        if not self.sees_field(field_purposes):
            raise Forbidden(f"role {self.role!r} may not look people up by {field}: it may not read that field")


def check_role(role: str) -> None:
    if role not in STAFF_ROLES:
        raise invalid("role", f"unknown role {role!r}; roles: {', '.join(STAFF_ROLES)}")
