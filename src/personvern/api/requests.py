"""/api/v1/requests: data subject requests (GDPR Art. 12-22), from opening to the answer as a zip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from personvern.api.fields import Id, key_of, text
from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, encode
from personvern.api.security import Ctx, Rt
from personvern.api.tasks import RecipientOut
from personvern.connectors.wake import wake
from personvern.domain.erasure import ErasureReceipt
from personvern.domain.requests import Request
from personvern.reports.package import answer_zip
from personvern.services import rights
from personvern.services.context import Context
from personvern.services.retention import today

router = APIRouter(prefix="/requests", tags=["requests"])

RequestType = Literal["access", "portability", "rectification", "erasure", "restriction", "objection"]
Channel = Literal["email", "phone", "letter", "web", "in_person"]
Method = Literal["bankid", "id_document", "known_email", "known_phone", "in_person", "signed_letter"]
FieldName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
FieldValue = Annotated[str, text(1000, "the value as it should be", min_length=0)]


class RequestIn(BaseModel):
    """A request the day it arrives: who asks (exactly one of email, phone, subject_id) and for what."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "access", "email": "kari@example.no", "channel": "email", "lang": "nb"},
                {"type": "rectification", "phone": "41234567", "set": {"full_name": "Kari Nordmann"}},
            ]
        },
    )

    type: RequestType
    email: str | None = Field(None, min_length=1, max_length=254, description="The email address the person gave.")
    phone: str | None = Field(None, min_length=1, max_length=32, description="The phone number the person gave.")
    subject_id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")
    channel: Channel = "email"
    lang: str | None = Field(None, min_length=2, max_length=2, description="The language to answer in (nb, en).")
    received_at: AwareDatetime | None = Field(None, description="When it arrived (default: now).")
    purpose: str | None = Field(None, min_length=1, max_length=64, description="An objection's purpose.")
    set: dict[FieldName, FieldValue] | None = Field(
        None, max_length=50, description="Rectification: each field as it should be."
    )
    unset: list[FieldName] | None = Field(None, max_length=50, description="Rectification: fields to remove.")


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Method = Field(description="How the person's identity was checked (Art. 12(6)).")


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = text(1000, "Why, as the person will be told (Art. 12(3)).")
    months: int = Field(2, ge=1, le=2, description="1 or 2 further months.")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = text(1000, "Why (e.g. manifestly unfounded or excessive, Art. 12(5)); the letter says it.")


class RequestOut(BaseModel):
    id: str
    type: str
    state: str
    subject_id: str | None
    channel: str
    language: str
    purpose: str | None
    received_at: datetime
    received_on: date
    due_on: date
    days_left: int | None = Field(None, description="While open: days to the deadline (negative once past).")
    overdue: bool | None = None
    extended: bool
    extension_reason: str | None
    verified_at: datetime | None
    verified_by: str | None
    verification_method: str | None
    closed_at: datetime | None
    closed_by: str | None
    rejection_reason: str | None
    outcome: dict[str, Any] | None = Field(description="What was done: names, counts and sha256, never a value.")

    @classmethod
    def fields_of(cls, r: Request, today: date | None = None) -> dict[str, Any]:
        return {
            "id": r.id,
            "type": r.type.value,
            "state": r.state.value,
            "subject_id": r.subject_id,
            "channel": r.channel.value,
            "language": r.language,
            "purpose": r.purpose,
            "received_at": r.received_at,
            "received_on": r.received_date,
            "due_on": r.due_on,
            "days_left": r.days_left(today) if today is not None and r.open else None,
            "overdue": r.overdue(today) if today is not None and r.open else None,
            "extended": r.extended_at is not None,
            "extension_reason": r.extension_reason,
            "verified_at": r.verified_at,
            "verified_by": r.verified_by,
            "verification_method": r.verification_method.value if r.verification_method else None,
            "closed_at": r.closed_at,
            "closed_by": r.closed_by,
            "rejection_reason": r.rejection_reason,
            "outcome": r.outcome or None,
        }

    @classmethod
    def of(cls, r: Request, today: date) -> RequestOut:
        return cls(**cls.fields_of(r, today))


class OpenedOut(RequestOut):
    matched: bool = Field(description="The identity matches someone (told to the person only once verified).")
    archived: bool = Field(description="The one it matches is in the archive.")


class ReceiptOut(BaseModel):
    id: str
    erased_at: datetime
    held_until: date | None
    details: dict[str, Any]

    @classmethod
    def of(cls, receipt: ErasureReceipt) -> ReceiptOut:
        return cls(id=receipt.id, erased_at=receipt.erased_at, held_until=receipt.held_until, details=receipt.details)


class AnswerLinkOut(BaseModel):
    """A single-use link to the answer, sent to where a request from the web came from."""

    sent_at: datetime
    expires_at: datetime
    fetched_at: datetime | None = Field(description="When the person downloaded the answer; null until then.")
    closed_at: datetime | None = Field(description="Fetched, or expired: the kept answer was deleted then.")


class RequestDetailOut(RequestOut):
    identity: dict[str, str] | None = Field(description="How the person identified themselves; null once forgotten.")
    details: dict[str, Any] | None = Field(description="A rectification's corrections.")
    erasure_receipt: ReceiptOut | None = None
    recipients: list[RecipientOut] = Field(
        default_factory=list,
        description="Once carried out: each recipient's action and confirmation (Art. 17(2), 19); the request "
        "completes when every one is in.",
    )
    answer_links: list[AnswerLinkOut] = Field(
        default_factory=list, description="A request from the web: the links its answer was sent as, and their fate."
    )


class AnsweredOut(RequestOut):
    files: list[str] = Field(description="The answer's files, in the zip at `package`.")
    package: str = Field(description="Where the answer is fetched while it is kept.")


class RequestPage(Page):
    today: date
    items: list[RequestOut]


def _answered(ctx: Context, done: rights.Fulfilment) -> AnsweredOut:
    r = done.request
    return AnsweredOut(
        **RequestOut.fields_of(r, today(ctx)), files=sorted(done.files), package=f"/api/v1/requests/{r.id}/package"
    )


@router.post("", status_code=201, summary="Open a request the day it arrives; the answer is due in a month")
def open_request(ctx: Ctx, body: RequestIn) -> OpenedOut:
    opened = rights.open_request(
        ctx,
        body.type,
        email=body.email,
        phone=body.phone,
        subject_id=body.subject_id,
        channel=body.channel,
        received_at=body.received_at,
        language=body.lang,
        purpose=body.purpose,
        changes=body.set,
        unset=body.unset,
    )
    fields = RequestOut.fields_of(opened.request, today(ctx))
    return OpenedOut(**fields, matched=opened.matched, archived=opened.archived)


@router.get("", summary="Requests by due date, overdue first (open ones unless `all`)")
def list_requests(
    ctx: Ctx,
    everything: Annotated[bool, Query(alias="all", description="Closed requests too.")] = False,
    due_before: Annotated[date | None, Query(description="Only those due by this day.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> RequestPage:
    after = cast(tuple[date, datetime, str] | None, key_of(cursor, date, datetime, str))
    today, found = rights.list_requests(ctx, everything, due_before, limit + 1, after)
    page = found[:limit]
    last = page[-1] if len(found) > limit else None
    next_cursor = encode([last.due_on.isoformat(), last.received_at.isoformat(), last.id]) if last else None
    return RequestPage(today=today, items=[RequestOut.of(r, today) for r in page], next_cursor=next_cursor)


@router.get("/{request_id}", summary="One request: its state, deadline, identity given and what was done")
def show_request(ctx: Ctx, request_id: Id) -> RequestDetailOut:
    view = rights.show_request(ctx, request_id)
    return RequestDetailOut(
        **RequestOut.fields_of(view.request, view.today),
        identity=view.identity,
        details=view.details,
        erasure_receipt=ReceiptOut.of(view.receipt) if view.receipt else None,
        recipients=[RecipientOut.of(v) for v in view.recipients],
        answer_links=[
            AnswerLinkOut(sent_at=a.created_at, expires_at=a.expires_at, fetched_at=a.fetched_at, closed_at=a.closed_at)
            for a in view.answer_links
        ],
    )


@router.post("/{request_id}/verify", summary="Record how the identity was checked; needed before anything is done")
def verify_request(ctx: Ctx, request_id: Id, body: VerifyIn) -> RequestOut:
    return RequestOut.of(rights.verify_request(ctx, request_id, body.method), today(ctx))


@router.post("/{request_id}/start", summary="Mark a verified request as being worked on")
def start_request(ctx: Ctx, request_id: Id) -> RequestOut:
    return RequestOut.of(rights.start_request(ctx, request_id), today(ctx))


@router.post("/{request_id}/extend", summary="Extend the deadline once, by one or two months, within the first")
def extend_request(ctx: Ctx, request_id: Id, body: ExtendIn) -> RequestOut:
    return RequestOut.of(rights.extend_request(ctx, request_id, body.reason, body.months), today(ctx))


@router.post("/{request_id}/fulfil", summary="Carry out a verified request; the answer is then at `package`")
def fulfil_request(ctx: Ctx, rt: Rt, request_id: Id) -> AnsweredOut:
    answered = _answered(ctx, rights.fulfil_request(ctx, request_id))
    wake(rt.settings)  # a request from the privacy page: its answer's link goes out now, not at the next poll
    return answered


@router.post("/{request_id}/reject", summary="Refuse a request, with a letter giving the reason (Art. 12(4))")
def reject_request(ctx: Ctx, rt: Rt, request_id: Id, body: RejectIn) -> AnsweredOut:
    answered = _answered(ctx, rights.reject_request(ctx, request_id, body.reason))
    wake(rt.settings)
    return answered


ZIP = {
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    "description": "letter.html, and data.json (access, portability) and data.csv (portability)",
}


def _chunks(blob: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(blob), size):
        yield blob[start : start + size]


@router.get(
    "/{request_id}/package",
    summary="The answer as a zip, while it is kept ([requests] keep_answer after the answer)",
    response_class=StreamingResponse,
    responses={200: ZIP},
)
def package(ctx: Ctx, request_id: Id) -> StreamingResponse:
    done = rights.answer(ctx, request_id)
    # The person's data: a download, never kept by a cache on the way (Art. 32).
    headers = {
        "Content-Disposition": f'attachment; filename="request-{done.request.id}.zip"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(_chunks(answer_zip(done.files)), media_type="application/zip", headers=headers)
