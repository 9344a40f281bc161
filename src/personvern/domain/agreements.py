"""Processor agreements (Art. 28(3)): which processor has none, and whose review is past or near."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from personvern.policy.schema import Policy, RecipientCategory

AHEAD = timedelta(days=31)  # the dashboard warns a month before a review is due


class AgreementState(StrEnum):
    MISSING = "missing"  # a processor without an agreement on record
    OVERDUE = "overdue"  # its review date has passed
    DUE = "due"  # its review falls within a month
    CURRENT = "current"


@dataclass(frozen=True)
class AgreementStatus:
    recipient: str
    name: str
    state: AgreementState
    next_review: date | None
    days_left: int | None  # until the review; negative once past


def agreements(policy: Policy, today: date, ahead: timedelta = AHEAD) -> list[AgreementStatus]:
    """Every processor of the policy with where its agreement stands on `today`."""
    out = []
    for key, recipient in policy.recipients.items():
        if recipient.category is not RecipientCategory.PROCESSOR:
            continue
        agreement = recipient.agreement
        if agreement is None:
            out.append(AgreementStatus(key, recipient.name, AgreementState.MISSING, None, None))
            continue
        left = (agreement.next_review - today).days
        if left < 0:
            state = AgreementState.OVERDUE
        elif agreement.next_review <= today + ahead:
            state = AgreementState.DUE
        else:
            state = AgreementState.CURRENT
        out.append(AgreementStatus(key, recipient.name, state, agreement.next_review, left))
    return out


def needing_attention(policy: Policy, today: date, ahead: timedelta = AHEAD) -> list[AgreementStatus]:
    """Those missing, past their review or due within `ahead`: what the dashboard warns of, most urgent first."""
    order = {AgreementState.MISSING: 0, AgreementState.OVERDUE: 1, AgreementState.DUE: 2}
    found = [a for a in agreements(policy, today, ahead) if a.state is not AgreementState.CURRENT]
    return sorted(found, key=lambda a: (order[a.state], a.next_review or today, a.recipient))
