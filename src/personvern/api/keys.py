"""/api/v1/keys: the key store's upkeep over HTTP (the orphan-key sweep; rotation and backups stay offline, CLI)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from personvern.api.security import Ctx
from personvern.services import keys

router = APIRouter(prefix="/keys", tags=["keys"])


class SweepOut(BaseModel):
    orphans: int = Field(
        description="Data keys deleted: their owner (subject, outbox row, request, archive record) was gone"
    )
    keyless: int = Field(description="Subjects left without a key: their values no longer open (erased in effect)")


@router.post("/sweep", summary="Delete every data key whose owner is gone; count subjects left without a key")
def sweep(ctx: Ctx) -> SweepOut:
    # Not the master key's rotation: a server holds the key it started with, and a rotation is refused while the
    # register is served (README, "Rotating the master key").
    result = keys.sweep(ctx)
    return SweepOut(orphans=result.orphans, keyless=result.keyless)
