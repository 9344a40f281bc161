"""/api/v1/tasks: the CEO's tasks for the recipients of requests (Art. 19), listed and closed with a note."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.pagination import Cursor, Limit, Page, decode, encode
from personvern.api.security import Ctx
from personvern.domain.errors import invalid
from personvern.services import confirmations
from personvern.services.confirmations import RecipientView

router = APIRouter(prefix="/tasks", tags=["tasks"])


class RecipientOut(BaseModel):
    """One recipient's part in a request: what it must do, how it confirms, where that stands."""

    id: str
    request_id: str
    request_type: str | None
    subject_id: str | None
    recipient: str
    name: str
    action: str
    detail: str
    fields: list[str]
    confirm_by: str = Field(description="outbox (a delivery) | task (the CEO, with a note) | nothing (not asked)")
    state: str = Field(description="pending | confirmed | not_needed | dead (its outbox row was given up on)")
    task: bool = Field(description="closed by the CEO with a note (`POST /tasks/{id}/done`)")
    due_on: date | None
    overdue: bool
    created_at: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None
    note: str | None
    outbox_row: str | None
    outbox_state: str | None
    outbox_error: str | None

    @classmethod
    def of(cls, v: RecipientView) -> RecipientOut:
        c = v.confirmation
        return cls(
            id=c.id,
            request_id=c.request_id,
            request_type=v.request_type,
            subject_id=c.subject_id,
            recipient=c.recipient,
            name=v.name,
            action=c.action,
            detail=c.detail,
            fields=list(c.fields),
            confirm_by=c.confirm_by.value,
            state=v.state,
            task=v.is_task,
            due_on=c.due_on,
            overdue=v.overdue,
            created_at=c.created_at,
            confirmed_at=c.confirmed_at,
            confirmed_by=c.confirmed_by,
            note=c.note,
            outbox_row=c.outbox_id,
            outbox_state=v.row.state.value if v.row is not None else None,
            outbox_error=v.row.last_error if v.row is not None else None,
        )


class TaskPage(Page):
    today: date
    items: list[RecipientOut]


class DoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000, description="how it was done: where, by whom, a reference")


@router.get("", summary="The CEO's tasks, open ones by due date (overdue first); `all`: closed ones too")
def list_tasks(
    ctx: Ctx,
    cursor: Cursor = None,
    limit: Limit = 50,
    everything: Annotated[bool, Query(alias="all", description="closed tasks too")] = False,
) -> TaskPage:
    start = decode(cursor) or 0
    if not isinstance(start, int) or start < 0:
        raise invalid("cursor", "is not a cursor this API gave (pass `next_cursor` of the page before)")
    today, found = confirmations.list_tasks(ctx, everything=everything, limit=10_000)
    page = found[start : start + limit]
    more = start + limit < len(found)
    return TaskPage(
        today=today, items=[RecipientOut.of(v) for v in page], next_cursor=encode(start + limit) if more else None
    )


@router.post("/{task_id}/done", summary="Close a task with a note; a request whose last task it was completes")
def close_task(ctx: Ctx, task_id: str, body: DoneIn) -> RecipientOut:
    return RecipientOut.of(confirmations.close_task(ctx, task_id, body.note))
