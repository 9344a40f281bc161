"""/api/v1/archive: the records whose reasons ended, which only the roles the policy names may read."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from personvern.api.fields import Id
from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, offset_of
from personvern.api.security import Ctx
from personvern.domain.archive import ArchiveRecord
from personvern.services import erasure

router = APIRouter(prefix="/archive", tags=["archive"])


class ArchivedOut(BaseModel):
    id: str
    subject_id: str
    kind: str
    received_at: datetime
    archived_at: datetime
    reason: str

    @classmethod
    def of(cls, r: ArchiveRecord) -> ArchivedOut:
        return cls(
            id=r.id,
            subject_id=r.subject_id,
            kind=r.kind,
            received_at=r.received_at,
            archived_at=r.archived_at,
            reason=r.reason,
        )


class ArchivedDetailOut(ArchivedOut):
    values: dict[str, str]


class ArchivePage(Page):
    total: int
    items: list[ArchivedOut]


@router.get("", summary="Archived records, oldest first: ids, kinds, dates and reasons, no values")
def list_archive(ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> ArchivePage:
    # The archive is read by position (the service's offset); the cursor holds it.
    offset = offset_of(cursor)
    total, records = erasure.list_archive(ctx, limit, offset)
    return ArchivePage(
        total=total,
        items=[ArchivedOut.of(r) for r in records],
        next_cursor=after(offset, len(records), offset + len(records) < total),
    )


@router.get("/{record_id}", summary="One archived record with its values (every read is audited)")
def show_archived(ctx: Ctx, record_id: Id) -> ArchivedDetailOut:
    view = erasure.show_archived(ctx, record_id)
    return ArchivedDetailOut(**ArchivedOut.of(view.record).model_dump(), values=view.values)
