"""Customers' master data for the accounts (Accountor Finago, the auditor): SAF-T or CSV, each a recorded disclosure.

A customer is someone with an order or contract of their own (bookkeeping, Art. 6(1)(c)): people the register
holds for marketing alone are not in the accounts. Only the fields the policy gives the recipient are read and
written (Art. 5(1)(c), 28(3)(a)); someone whose processing is restricted is left out (Art. 18(2): stored,
nothing more). Each export is recorded with the people in it, so an access answer names the recipient and the
fields (Art. 15(1)(c)), the record of processing counts it (Art. 30(1)(d)), and an erasure or a correction
later reaches that recipient (Art. 19). The file itself is not kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import BlockKind
from personvern.domain.errors import Forbidden, invalid
from personvern.domain.retention import local_day
from personvern.reports.accounting import Company, Customer, Fitted, customers_csv, saft_customers
from personvern.services.context import Context, new_id
from personvern.services.ports import ExportRecord, UnitOfWork

FORMATS = ("saft", "csv")
PAGE = 500


@dataclass(frozen=True)
class Export:
    record: ExportRecord
    content: bytes
    restricted_left_out: int
    fitted: Fitted


def _bookkeeping(ctx: Context) -> list[str]:
    return [k for k, r in ctx.policy.recipients.items() if "bookkeeping" in r.purposes]


def recipients_offered(ctx: Context) -> list[str]:
    """Whom the acting role may export for: the policy's bookkeeping recipients; the auditor their own copy only."""
    names = _bookkeeping(ctx)
    return [k for k in names if k == "auditor"] if ctx.actor.role == "auditor" else names


def default_recipient(ctx: Context) -> str:
    """Who an export is for unless told otherwise: the auditor exports for themselves; the CEO for Finago."""
    return "auditor" if ctx.actor.role == "auditor" else "finago"


def _recipient(ctx: Context, recipient: str | None) -> str:
    chosen = recipient or default_recipient(ctx)
    spec = ctx.policy.recipients.get(chosen)
    if spec is None or "bookkeeping" not in spec.purposes:
        names = ", ".join(_bookkeeping(ctx))
        raise invalid("recipient", f"must be a recipient the policy gives data for bookkeeping: {names}")
    if ctx.actor.role == "auditor" and chosen != "auditor":
        raise Forbidden("role 'auditor' may export only the auditor's own copy of the accounting data")
    return chosen


def _fields(ctx: Context, recipient: str) -> list[str]:
    """The recipient's fields in the policy's order, and only those the acting role may read."""
    given = set(ctx.policy.recipients[recipient].fields)
    return [name for name, spec in ctx.policy.fields.items() if name in given and ctx.actor.sees_field(spec.purposes)]


def _customers(ctx: Context, uow: UnitOfWork, fields: list[str], today: date) -> tuple[list[Customer], int]:
    """Every live customer with their fields, page by page; and how many restricted ones were left out."""
    out: list[Customer] = []
    restricted = 0
    after: str | None = None
    while True:
        page = uow.retention.page(after, PAGE)
        if not page:
            return out, restricted
        after = page[-1].subject_id
        facts = uow.retention.facts([s.subject_id for s in page])
        wanted: dict[str, bool] = {}
        for sid, f in facts.items():
            own = [r for r in f.relationships if r.subject_id == sid]
            if not own:
                continue
            if any(b.active and b.kind is BlockKind.RESTRICTION for b in f.blocks):
                restricted += 1
                continue
            wanted[sid] = any(r.active_on(today) for r in own)
        for subject in uow.subjects.get_many(sorted(wanted), fields):
            out.append(Customer(subject.id, dict(subject.values), wanted[subject.id]))


def export_customers(ctx: Context, fmt: str, recipient: str | None = None) -> Export:
    """The customers as a SAF-T file (`saft`) or CSV (`csv`) for a bookkeeping recipient; recorded per person."""
    ctx.actor.require(Permission.ACCOUNTING_EXPORT)
    if fmt not in FORMATS:
        raise invalid("format", f"must be one of: {', '.join(FORMATS)}")
    to = _recipient(ctx, recipient)
    if fmt == "saft" and ctx.policy.accounting is None:
        raise invalid(
            "accounting",
            "the SAF-T header needs the company's organisation number and a contact person with a telephone: add "
            "[accounting] organisation_number, contact_name and phone to the policy",
        )
    fields = _fields(ctx, to)
    now = ctx.clock.now()
    today = local_day(now, ctx.policy)
    labels = {name: spec.label.get(ctx.policy.languages[0]) for name, spec in ctx.policy.fields.items()}
    with ctx.uow() as uow:
        customers, restricted = _customers(ctx, uow, fields, today)
        if fmt == "saft":
            content, fitted = saft_customers(customers, Company.of(ctx.policy), today, labels)
        else:
            content, fitted = customers_csv(customers, fields), Fitted()
        digest = hashlib.sha256(content).hexdigest()
        record = ExportRecord(
            new_id(), fmt, to, now, ctx.actor.name, ctx.actor.role, len(customers), tuple(fields), digest
        )
        ids = [c.id for c in customers]
        uow.exports.add(record, {c.id: [f for f in fields if f in c.values] for c in customers})
        # Each person's trail shows the disclosure (Art. 5(2)); one details object shared by every entry.
        details = {"export": record.id, "recipient": to, "format": fmt, "fields": fields}
        ctx.record(uow, *(AuditEvent("subject.disclose", sid, "bookkeeping", details) for sid in ids))
        summary = {**details, "customers": len(ids), "restricted_left_out": restricted, "sha256": digest}
        ctx.record(uow, AuditEvent("export.customers", None, "bookkeeping", summary))
        uow.commit()
    return Export(record, content, restricted, fitted)
