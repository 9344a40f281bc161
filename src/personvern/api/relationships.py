"""/api/v1/relationships: orders and contracts, started and ended, as `relationship start|end` does."""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.security import Ctx
from personvern.domain.subjects import Relationship
from personvern.services import register

router = APIRouter(prefix="/relationships", tags=["relationships"])


class RelationshipStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
    type: Literal["order", "contract"] = "order"
    on: date | None = Field(None, description="the start date (default: today)")
    ends: date | None = Field(None, description="a contract's stated end date")
    description: str | None = Field(None, min_length=1, max_length=500, description="what was ordered or agreed")


class RelationshipEndIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["order", "contract"] | None = Field(None, description="only orders or only contracts")
    on: date | None = Field(None, description="the end date (default: today)")


class RelationshipOut(BaseModel):
    id: str
    subject_id: str
    type: str
    started_on: date
    ends_on: date | None
    ended_on: date | None
    description: str | None

    @classmethod
    def of(cls, r: Relationship) -> RelationshipOut:
        return cls(
            id=r.id,
            subject_id=r.subject_id,
            type=r.type.value,
            started_on=r.started_on,
            ends_on=r.ends_on,
            ended_on=r.ended_on,
            description=r.description,
        )


class EndedOut(BaseModel):
    ended: list[RelationshipOut]


@router.post(
    "",
    status_code=201,
    summary="Start an order or a contract: the customer relationship that keeps the data (Art. 6(1)(b))",
)
def start(ctx: Ctx, body: RelationshipStartIn) -> RelationshipOut:
    rel = register.start_relationship(ctx, body.subject_id, body.type, body.on, body.ends, body.description)
    return RelationshipOut.of(rel)


@router.post(
    "/{relationship_id}/end",
    summary="End one relationship by its id; given a subject's id instead, end that subject's open ones",
)
def end(ctx: Ctx, relationship_id: str, body: RelationshipEndIn | None = None) -> EndedOut:
    wanted = body or RelationshipEndIn()
    ended = register.end_relationship(ctx, relationship_id, wanted.type, wanted.on)
    return EndedOut(ended=[RelationshipOut.of(r) for r in ended])
