"""/api/v1/public/requests: requests from the public page, opened by a one-time code, with no sign-in."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.errors import ERRORS
from personvern.api.fields import text
from personvern.api.security import Rt
from personvern.bootstrap import Runtime
from personvern.connectors.wake import wake
from personvern.services import public
from personvern.web.public_pages import client_of, padded

router = APIRouter(
    prefix="/public",
    tags=["public"],
    responses={code: ERRORS[code] for code in (404, 409, 422, 429)},
)


RequestType = Literal["access", "portability", "rectification", "erasure", "restriction", "objection"]
PendingId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
FieldName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class PublicRequestIn(BaseModel):
    """A request as a visitor makes it: what for, and the e-mail address or mobile number to send the code to."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "access", "phone": "+4741234567", "lang": "nb"},
                {"type": "rectification", "email": "kari@example.no", "set": {"full_name": "Kari Nordmann"}},
            ]
        },
    )

    type: RequestType
    email: str | None = Field(None, min_length=1, max_length=254, description="Where to send the code by e-mail.")
    phone: str | None = Field(None, min_length=1, max_length=32, description="Where to send the code by SMS.")
    lang: Literal["nb", "en"] = Field("nb", description="The language of the messages and the answer.")
    purpose: str | None = Field(None, min_length=1, max_length=64, description="An objection's purpose.")
    set: dict[FieldName, Annotated[str, text(1000, "the value as it should be")]] | None = Field(
        None, max_length=20, description="Rectification: each field as it should be."
    )


class PendingOut(BaseModel):
    id: str = Field(description="Confirm the code at /api/v1/public/requests/{id}/confirm.")
    via: Literal["sms", "email"]
    expires_at: datetime
    message: str


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "123456"}]})

    code: str = Field(min_length=1, max_length=20, description="The six digits sent to the visitor.")


class ReceiptOut(BaseModel):
    request: str
    type: str
    received_on: date
    due_on: date = Field(description="The answer is due by this day (GDPR Art. 12(3): one month from receipt).")
    message: str


def woken(rt: Runtime) -> None:
    """The code is queued: the worker sends it now, not at its next poll."""
    wake(rt.settings)


@router.post(
    "/requests",
    status_code=202,
    summary="Make a request; a six-digit code goes to the phone or address given",
    response_model=PendingOut,
)
async def ask(body: PublicRequestIn, request: Request, rt: Rt) -> PendingOut:
    client = client_of(request)

    def work() -> public.Asked:
        return public.ask(
            rt.context(),
            body.type,
            email=body.email,
            phone=body.phone,
            language=body.lang,
            client=client,
            changes=body.set,
            purpose=body.purpose,
        )

    asked = await padded(work)
    woken(rt)
    where = "mobile number" if asked.via.value == "sms" else "e-mail address"
    return PendingOut(
        id=asked.pending_id,
        via=asked.via.value,
        expires_at=asked.expires_at,
        message=f"a code is on its way to the {where} you gave; it is valid for 10 minutes",
    )


@router.post(
    "/requests/{pending_id}/confirm",
    summary="Confirm the code: the request is opened (channel web) and its deadline starts",
    response_model=ReceiptOut,
)
async def confirm(pending_id: PendingId, body: ConfirmIn, request: Request, rt: Rt) -> ReceiptOut:
    client = client_of(request)
    done = await padded(lambda: public.confirm(rt.context(), pending_id, body.code, client))
    woken(rt)
    return ReceiptOut(
        request=done.request_id,
        type=done.type,
        received_on=done.received_on,
        due_on=done.due_on,
        message=f"your request is registered; the answer is due by {done.due_on.isoformat()}",
    )
