"""Processor agreements (Art. 28(3)) as the dashboard and the API show them: which is missing, past or near review."""

from __future__ import annotations

from personvern.domain.access import Permission
from personvern.domain.agreements import AgreementState, AgreementStatus, agreements, needing_attention
from personvern.domain.errors import Forbidden
from personvern.domain.retention import local_day
from personvern.services.context import Context


def processor_agreements(ctx: Context) -> list[AgreementStatus]:
    """Every processor in the policy with where its agreement stands today (readers of the record of processing)."""
    ctx.actor.require(Permission.RECORD_READ)
    return agreements(ctx.policy, local_day(ctx.clock.now(), ctx.policy))


def agreements_due(ctx: Context) -> list[AgreementStatus]:
    """What the dashboard warns of: a processor without an agreement, one past its review, one due within a month."""
    ctx.actor.require(Permission.RECORD_READ)
    return needing_attention(ctx.policy, local_day(ctx.clock.now(), ctx.policy))


def reminders(ctx: Context) -> list[str]:
    """The worker's reminder of processor agreements missing or past their review (Art. 28(3))."""
    try:
        due = agreements_due(ctx)
    except Forbidden:
        return []
    out = []
    for a in due:
        if a.state is AgreementState.MISSING:
            out.append(f"processor {a.name} has no processor agreement on record (Art. 28(3))")
        elif a.state is AgreementState.OVERDUE and a.next_review is not None:
            out.append(f"the processor agreement with {a.name} was due for review on {a.next_review.isoformat()}")
        elif a.next_review is not None:
            out.append(f"the processor agreement with {a.name} is due for review on {a.next_review.isoformat()}")
    return out
