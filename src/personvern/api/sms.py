"""/api/v1/sms: SMS to subjects through LINK Mobility, checked against the policy, and the message log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, offset_of
from personvern.api.security import Ctx
from personvern.bootstrap import parse_instant
from personvern.domain.sms import Message, result_code
from personvern.services import messaging
from personvern.services.messaging import SmsDraft

router = APIRouter(prefix="/sms", tags=["sms"])


class SmsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
    purpose: Literal["service", "marketing"] = Field(
        description="service (needs an active order or contract) or marketing (needs consent in force)"
    )
    # The precise bound is the segments' (at most 10 SMS); this one only keeps a body from being huge.
    text: str = Field(min_length=1, max_length=2000, description="the message; marketing gets the opt-out line")


class DraftOut(BaseModel):
    """The message as it would go: the opt-out line appended to marketing, its encoding and length."""

    subject_id: str
    purpose: str
    text: str
    encoding: str
    segments: int
    characters: int
    opt_out_appended: bool

    @classmethod
    def of(cls, draft: SmsDraft) -> DraftOut:
        return cls(
            subject_id=draft.subject_id,
            purpose=draft.purpose,
            text=draft.text,
            encoding=draft.length.encoding.value,
            segments=draft.length.segments,
            characters=draft.length.characters,
            opt_out_appended=draft.opt_out,
        )


class QueuedOut(BaseModel):
    message_id: str
    outbox_id: str
    subject_id: str
    purpose: str
    encoding: str
    segments: int
    characters: int
    opt_out_appended: bool
    status: str


class MessageOut(BaseModel):
    """A message as the log shows it: ids, purpose, status and times; never the number or the text."""

    id: str
    subject_id: str | None  # None: the person was erased and the message kept without them
    purpose: str
    channel: str
    status: str
    status_text: str | None
    result_code: int | None
    meaning: str | None
    segments: int
    encoding: str
    created_at: datetime
    updated_at: datetime
    outbox_id: str | None
    vendor_message_id: str | None

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            id=m.id,
            subject_id=m.subject_id,
            purpose=m.purpose,
            channel=m.channel,
            status=m.status.value,
            status_text=m.status_text,
            result_code=m.result_code,
            meaning=None if m.result_code is None else result_code(m.result_code).meaning,
            segments=m.segments,
            encoding=m.encoding.value,
            created_at=m.created_at,
            updated_at=m.updated_at,
            outbox_id=m.outbox_id,
            vendor_message_id=m.vendor_message_id,
        )


class MessagesOut(Page):
    total: int  # every message the filters match
    items: list[MessageOut]


@router.post("/preview", summary="Check a message against the policy's rules, and how it would go; nothing is sent")
def preview(ctx: Ctx, body: SmsIn) -> DraftOut:
    return DraftOut.of(messaging.draft_sms(ctx, body.subject_id, body.purpose, body.text))


@router.post(
    "",
    status_code=201,
    summary="Queue an SMS to a subject after the policy's rules; the outbox worker delivers it",
)
def send(ctx: Ctx, body: SmsIn) -> QueuedOut:
    queued = messaging.send_sms(ctx, body.subject_id, body.purpose, body.text)
    length = queued.draft.length
    return QueuedOut(
        message_id=queued.message_id,
        outbox_id=queued.outbox_id,
        subject_id=body.subject_id,
        purpose=body.purpose,
        encoding=length.encoding.value,
        segments=length.segments,
        characters=length.characters,
        opt_out_appended=queued.draft.opt_out,
        status="pending",
    )


@router.get("", summary="Messages sent, newest first: status, delivery report and times (no number, no text)")
def list_messages(
    ctx: Ctx,
    subject_id: Annotated[str | None, Query(max_length=64, description="only this subject's messages")] = None,
    status: Annotated[
        str | None, Query(max_length=20, description="only this status: pending, queued, sent, delivered, failed, …")
    ] = None,
    since: Annotated[
        str | None, Query(max_length=40, description="only messages queued at or after (ISO-8601)")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> MessagesOut:
    offset = offset_of(cursor)
    after_time = parse_instant(since, "since") if since is not None else None
    listing = messaging.list_messages(ctx, subject_id, status, after_time, limit, offset)
    shown = len(listing.messages)
    return MessagesOut(
        total=listing.total,
        items=[MessageOut.of(m) for m in listing.messages],
        next_cursor=after(offset, shown, offset + shown < listing.total),
    )
