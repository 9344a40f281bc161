"""/api/v1/subjects/{id}/objections and …/restriction: objections (Art. 21) and restriction (Art. 18)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.consents import BlockOut, SubjectId
from personvern.api.security import Ctx
from personvern.services import consent

router = APIRouter(prefix="/subjects/{subject_id}", tags=["objections and restriction"])


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field("marketing", min_length=1, max_length=40, description="the purpose objected to")
    reason: str | None = Field(None, max_length=2000, description="why (stored encrypted; never audited)")


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000, description="why (stored encrypted; never audited)")


@router.post(
    "/objections",
    status_code=201,
    summary="Record an objection (Art. 21): marketing stops whatever the consent says, until a fresh consent",
)
def object_to(ctx: Ctx, subject_id: SubjectId, body: ObjectionIn | None = None) -> BlockOut:
    given = body or ObjectionIn()
    return BlockOut.of(consent.object_to(ctx, subject_id, given.purpose, given.reason))


@router.post(
    "/restriction",
    status_code=201,
    summary="Restrict processing (Art. 18): the data is kept, nothing else; no message reaches the person",
)
def restrict(ctx: Ctx, subject_id: SubjectId, body: RestrictionIn | None = None) -> BlockOut:
    return BlockOut.of(consent.restrict(ctx, subject_id, False, (body or RestrictionIn()).reason))


@router.post("/restriction/lift", summary="Lift the restriction (Art. 18(3))")
def lift(ctx: Ctx, subject_id: SubjectId, body: RestrictionIn | None = None) -> BlockOut:
    return BlockOut.of(consent.restrict(ctx, subject_id, True, (body or RestrictionIn()).reason))
