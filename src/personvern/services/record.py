"""The record of processing (Art. 30(1)): the policy, the roles, and live figures from the register and the outbox."""

from __future__ import annotations

from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.errors import invalid
from personvern.reports.record import FORMATS, Delivered, build_record, render_record
from personvern.services.context import Context
from personvern.services.outbox import RECIPIENTS


def record_of_processing(ctx: Context, lang: str | None = None, fmt: str = "json") -> tuple[dict[str, Any], str]:
    """The record as data and rendered in `fmt`; reading it is audited (it describes every processing)."""
    ctx.actor.require(Permission.RECORD_READ)
    language = lang or ctx.policy.languages[0]
    if language not in ctx.policy.languages:
        raise invalid("lang", f"must be one of the policy's languages: {', '.join(ctx.policy.languages)}")
    if fmt not in FORMATS:
        raise invalid("format", f"must be one of: {', '.join(FORMATS)}")
    with ctx.uow() as uow:
        subjects = uow.figures.subjects_per_kind()
        # Processors actually used: outbox rows they received, each kind mapped to the policy's recipient.
        delivered = [
            Delivered(d.kind, RECIPIENTS.get(d.kind, d.kind), d.delivered, d.last_at) for d in uow.figures.deliveries()
        ]
        # Accounting exports: each person in one is a disclosure to its recipient (Finago, the auditor).
        delivered += [Delivered(f"export.{d.kind}", d.recipient, d.people, d.last_at) for d in uow.exports.figures()]
        ctx.record(uow, AuditEvent("record.export", None, None, {"language": language, "format": fmt}))
        uow.commit()
    record = build_record(ctx.policy, ctx.policy_sha256, language, ctx.clock.now(), subjects, delivered)
    return record, render_record(record, fmt)
