"""/api/v1/audit: verify the hash-chained audit log, and read it (who read or changed what, when, why)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from personvern.api.fields import NO_CONTROLS, key_of
from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, encode
from personvern.api.security import Ctx, Rt
from personvern.bootstrap import parse_instant
from personvern.domain.audit import AuditEntry, AuditQuery
from personvern.services.admin import read_audit_log, verify_audit

router = APIRouter(prefix="/audit", tags=["audit"])


class VerifyOut(BaseModel):
    ok: bool
    entries: int = Field(description="Entries verified.")
    broken_at: int | None = Field(description="The first broken entry, when the chain does not verify.")
    problem: str | None


class EntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    subject_id: str | None
    purpose: str | None
    details: dict[str, Any] = Field(description="Ids, field names, counts and reasons; never a personal value.")

    @classmethod
    def of(cls, e: AuditEntry) -> EntryOut:
        return cls(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            role=e.role,
            action=e.action,
            subject_id=e.subject_id,
            purpose=e.purpose,
            details=dict(e.details),
        )


class EntryPage(Page):
    items: list[EntryOut]


@router.post(
    "/verify",
    summary="Walk the audit chain and name the first broken entry; checkpoint its head when intact",
)
def verify(ctx: Ctx, rt: Rt) -> VerifyOut:
    # A broken chain is the answer asked for (ok false), not an error of the request.
    report = verify_audit(ctx.uow, ctx.actor, rt.checkpoints, ctx.clock, rt.simulation)
    return VerifyOut(ok=report.ok, entries=report.checked, broken_at=report.broken_at, problem=report.problem)


@router.get("/log", summary="Who read or changed what, when and why: newest first (reading it is itself recorded)")
def log(
    ctx: Ctx,
    subject_id: Annotated[
        str | None, Query(max_length=64, pattern=r"^[0-9A-Za-z]+$", description="Only entries about this subject.")
    ] = None,
    actor: Annotated[
        str | None, Query(min_length=1, max_length=100, pattern=NO_CONTROLS, description="Only this actor's.")
    ] = None,
    since: Annotated[str | None, Query(max_length=40, description="At or after this ISO-8601 date or time.")] = None,
    action: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=NO_CONTROLS,
            description="An action (request.open) or family (request).",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> EntryPage:
    before = key_of(cursor, int)
    query = AuditQuery(
        subject_id=subject_id,
        actor=actor,
        since=parse_instant(since, "since") if since is not None else None,
        action=action,
        limit=limit,
        before=before[0] if before else None,
    )
    page = read_audit_log(ctx.uow, ctx.clock, ctx.actor, query)
    nxt = page.next_before
    return EntryPage(items=[EntryOut.of(e) for e in page.entries], next_cursor=encode([nxt]) if nxt else None)
