"""One person's file beside their values: their requests, what each processor received, and why they are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from personvern.domain.access import Permission
from personvern.domain.requests import Request
from personvern.domain.retention import Decision, decide
from personvern.services import processors
from personvern.services.context import Context
from personvern.services.register import require_subject
from personvern.services.retention import today


@dataclass(frozen=True)
class Dossier:
    """What the subject page shows besides the values `register.show_subject` gives (which records the read)."""

    subject_id: str
    today: date
    transfers: list[processors.Transfer]  # per recipient, the field names it received (Art. 15(1)(c))
    decision: Decision  # kept until when, and why (Art. 5(1)(e), 13(2)(a)): the retention engine's own answer
    requests: list[Request] | None  # the person's requests, for the roles that handle them; None for the others


def dossier(ctx: Context, subject_id: str) -> Dossier:
    """Read by the subject's id, without a personal value: field names, dates, rules and request states."""
    ctx.actor.require(Permission.REGISTER_READ)
    day = today(ctx)
    with ctx.uow() as uow:
        require_subject(uow, subject_id)
        facts = uow.retention.facts([subject_id])[subject_id]
        transfers = processors.transfers(uow, subject_id)
        held = uow.requests.for_subject(subject_id) if ctx.actor.may(Permission.REQUEST_HANDLE) else None
    return Dossier(subject_id, day, transfers, decide(ctx.policy, facts, day), held)
