"""/api/v1/processors: reconcile HubSpot with the register, and the processor agreements (Art. 28)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from personvern.api.security import Ctx, Rt
from personvern.bootstrap import http_client, hubspot_contacts
from personvern.domain.agreements import AgreementStatus
from personvern.domain.errors import NotFound
from personvern.domain.reconcile import Reconciliation
from personvern.services import agreements, reconcile

router = APIRouter(prefix="/processors", tags=["processors"])


class FindingOut(BaseModel):
    finding: str
    external_id: str | None
    subject_id: str | None
    pending: bool
    fixed_by: str | None


class ReconciliationOut(BaseModel):
    id: str
    recipient: str
    started_at: datetime
    finished_at: datetime | None
    actor: str
    fix: bool
    complete: bool
    pages: int
    contacts: int
    counts: dict[str, int]
    should_not_be_there: int
    missing: int
    fixed: int
    error: str | None
    findings: list[FindingOut]

    @classmethod
    def of(cls, run: Reconciliation) -> ReconciliationOut:
        return cls(
            id=run.id,
            recipient=run.recipient,
            started_at=run.started_at,
            finished_at=run.finished_at,
            actor=run.actor,
            fix=run.fix,
            complete=run.complete,
            pages=run.pages,
            contacts=run.contacts,
            counts=dict(run.counts),
            should_not_be_there=run.should_not_be_there,
            missing=run.missing,
            fixed=run.fixed,
            error=run.error,
            findings=[FindingOut(**f.as_record()) for f in run.findings],
        )


class ReconcileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fix: bool = False


class AgreementOut(BaseModel):
    recipient: str
    name: str
    state: str
    next_review: date | None
    days_left: int | None

    @classmethod
    def of(cls, a: AgreementStatus) -> AgreementOut:
        return cls(
            recipient=a.recipient, name=a.name, state=a.state.value, next_review=a.next_review, days_left=a.days_left
        )


class AgreementList(BaseModel):
    items: list[AgreementOut]


@router.post("/hubspot/reconcile", summary="Reconcile HubSpot's contacts with the register now; `fix` queues remedies")
def reconcile_now(ctx: Ctx, rt: Rt, body: ReconcileIn) -> ReconciliationOut:
    with http_client() as client:
        return ReconciliationOut.of(reconcile.reconcile_hubspot(ctx, hubspot_contacts(rt, client), body.fix))


@router.get("/hubspot/reconcile", summary="The latest reconciliation with HubSpot (the worker runs one a day)")
def last_reconciliation(ctx: Ctx) -> ReconciliationOut:
    run = reconcile.last_run(ctx)
    if run is None:
        raise NotFound("HubSpot was never reconciled with the register")
    return ReconciliationOut.of(run)


@router.get("/agreements", summary="Each processor's agreement: missing, overdue, due within a month, or current")
def list_agreements(ctx: Ctx, due: bool = False) -> AgreementList:
    found = agreements.agreements_due(ctx) if due else agreements.processor_agreements(ctx)
    return AgreementList(items=[AgreementOut.of(a) for a in found])
