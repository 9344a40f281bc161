"""/api/v1/outbox: the side effects waiting for delivery or given up on, and a dead row put back in the queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, offset_of
from personvern.api.security import Ctx
from personvern.domain.outbox import OutboxRow
from personvern.services import outbox
from personvern.services.outbox import OutboxListing

router = APIRouter(prefix="/outbox", tags=["outbox"])


class OutboxRowOut(BaseModel):
    """A row as anyone with outbox access may see it: ids, state and errors, never the personal part."""

    id: str
    kind: str
    subject_id: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]
    result: dict[str, Any] | None
    # A dead row still holding its personal part: until when `retry` can send it (the policy's [undelivered]
    # time), and what must then be done by hand.
    personal_until: datetime | None = None
    by_hand: str | None = None

    @classmethod
    def of(cls, row: OutboxRow, listing: OutboxListing | None = None) -> OutboxRowOut:
        return cls(
            id=row.id,
            kind=row.kind,
            subject_id=row.subject_id,
            state=row.state.value,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
            payload=dict(row.public),
            result=dict(row.result) if row.result else None,
            personal_until=listing.personal_until.get(row.id) if listing else None,
            by_hand=listing.by_hand.get(row.id) if listing else None,
        )


class OutboxOut(Page):
    total: int
    items: list[OutboxRowOut]


@router.get("", summary="Rows waiting or given up on (pending and dead), oldest first; `dead` or `all` to choose")
def list_rows(
    ctx: Ctx,
    dead: Annotated[bool, Query(description="only the dead rows (given up on)")] = False,
    everything: Annotated[bool, Query(alias="all", description="delivered rows too")] = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> OutboxOut:
    offset = offset_of(cursor)
    listing = outbox.list_outbox(ctx, dead_only=dead, everything=everything, limit=limit, offset=offset)
    shown = len(listing.rows)
    return OutboxOut(
        total=listing.total,
        items=[OutboxRowOut.of(r, listing) for r in listing.rows],
        next_cursor=after(offset, shown, offset + shown < listing.total),
    )


@router.post("/{row_id}/retry", summary="Put a dead row back in the queue, with a fresh count of attempts")
def retry(ctx: Ctx, row_id: Annotated[str, Path(min_length=1, max_length=64)]) -> OutboxRowOut:
    return OutboxRowOut.of(outbox.retry_dead(ctx, row_id))
