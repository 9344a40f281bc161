"""/api/v1/marketing/audience: who marketing on a channel may reach now (consent, no objection, no restriction)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, offset_of
from personvern.api.security import Ctx
from personvern.services import consent

router = APIRouter(prefix="/marketing", tags=["marketing"])

Channel = Annotated[str, Query(min_length=1, max_length=20, description="sms or email (the purpose's channels)")]


class MemberOut(BaseModel):
    id: str
    address: str | None  # the phone number or email address the channel reaches


class AudienceOut(Page):
    channel: str
    field: str  # which field `address` is (phone, email)
    items: list[MemberOut]


class AudienceCountOut(BaseModel):
    channel: str
    count: int


@router.get("/audience", summary="A page of the people marketing on the channel may reach now, with the address")
def audience(ctx: Ctx, channel: Channel, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT) -> AudienceOut:
    offset = offset_of(cursor)
    page = consent.audience_page(ctx, channel, limit, offset)
    return AudienceOut(
        channel=channel,
        field=page.address_field,
        items=[MemberOut(id=m.subject_id, address=m.address) for m in page.members],
        next_cursor=after(offset, len(page.members), page.more),
    )


@router.get("/audience/count", summary="How many people marketing on the channel may reach now")
def audience_count(ctx: Ctx, channel: Channel) -> AudienceCountOut:
    total = consent.marketing_audience(ctx, channel, count_only=True)
    assert isinstance(total, int)
    return AudienceCountOut(channel=channel, count=total)
