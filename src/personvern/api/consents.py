"""/api/v1/subjects/{id}/consents: the consent ledger, consent given and withdrawn, and its Kantara receipts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.security import Ctx
from personvern.domain.consent import Block, ConsentEvent, EffectiveConsent
from personvern.services import consent
from personvern.services.consent import ConsentRecorded

router = APIRouter(prefix="/subjects/{subject_id}/consents", tags=["consents"])

SubjectId = Annotated[str, Path(min_length=1, max_length=64, description="the subject's id")]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(min_length=1, max_length=20, description="sms or email (the purpose's channels)")
    # Required: the ledger is proof (Art. 7(1)), and a default would record a method nobody used.
    method: str = Field(
        min_length=1, max_length=20, description="how the person said it: web, phone, paper, import, sms_reply"
    )
    purpose: str = Field("marketing", min_length=1, max_length=40, description="a purpose based on consent")
    notice: str | None = Field(
        None, min_length=64, max_length=64, description="sha256 of the notice the person saw (default: in force)"
    )


class ConsentStateOut(BaseModel):
    """The state the rules decide per purpose and channel, with why (never just the latest event)."""

    purpose: str
    channel: str
    state: str
    in_force: bool
    reason: str
    since: datetime | None
    event: str | None
    block: str | None

    @classmethod
    def all(cls, states: Iterable[EffectiveConsent]) -> list[ConsentStateOut]:
        return [
            cls(
                purpose=s.purpose,
                channel=s.channel,
                state=s.status.value,
                in_force=s.in_force,
                reason=s.reason,
                since=s.since,
                event=s.event.id if s.event is not None else None,
                block=s.block.id if s.block is not None else None,
            )
            for s in states
        ]


class BlockOut(BaseModel):
    """An objection (Art. 21) or a restriction (Art. 18), in force or lifted."""

    id: str
    subject_id: str
    kind: str
    purpose: str | None
    active: bool
    set_at: datetime
    set_by: str
    reason: str | None
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None

    @classmethod
    def of(cls, b: Block) -> BlockOut:
        return cls(
            id=b.id,
            subject_id=b.subject_id,
            kind=b.kind.value,
            purpose=b.purpose,
            active=b.active,
            set_at=b.set_at,
            set_by=b.set_by,
            reason=b.reason,
            lifted_at=b.lifted_at,
            lifted_by=b.lifted_by,
            lift_reason=b.lift_reason,
        )


class EventOut(BaseModel):
    id: str
    subject_id: str
    purpose: str
    channel: str
    action: str
    at: datetime
    method: str
    recorded_by: str
    role: str
    notice_sha256: str

    @classmethod
    def of(cls, e: ConsentEvent) -> EventOut:
        return cls(
            id=e.id,
            subject_id=e.subject_id,
            purpose=e.purpose,
            channel=e.channel,
            action=e.action.value,
            at=e.at,
            method=e.method.value,
            recorded_by=e.recorded_by,
            role=e.role,
            notice_sha256=e.notice_sha256,
        )


class RecordedOut(EventOut):
    lifted_objections: list[BlockOut]  # a fresh consent lifts an earlier objection to the purpose (Art. 21(3))

    @classmethod
    def of_recorded(cls, done: ConsentRecorded) -> RecordedOut:
        event = EventOut.of(done.event)
        return cls(**event.model_dump(), lifted_objections=[BlockOut.of(b) for b in done.lifted])


class MarketingOut(BaseModel):
    allowed: bool
    reason: str | None


class LedgerOut(BaseModel):
    subject_id: str
    state: list[ConsentStateOut]
    marketing: dict[str, MarketingOut]  # per channel: may marketing reach the person now, and if not why
    blocks: list[BlockOut]
    events: list[EventOut]


@router.get("", summary="The consent ledger: every event, the state it gives, objections and restrictions")
def ledger(ctx: Ctx, subject_id: SubjectId) -> LedgerOut:
    found = consent.consent_ledger(ctx, subject_id)
    return LedgerOut(
        subject_id=found.subject_id,
        state=ConsentStateOut.all(found.effective),
        marketing={ch: MarketingOut(allowed=why is None, reason=why) for ch, why in found.marketing.items()},
        blocks=[BlockOut.of(b) for b in found.blocks],
        events=[EventOut.of(e) for e in found.events],
    )


@router.post(
    "/give",
    status_code=201,
    summary="Record a consent (Art. 7(1)); a fresh consent lifts an earlier objection to the purpose",
)
def give(ctx: Ctx, subject_id: SubjectId, body: ConsentIn) -> RecordedOut:
    done = consent.give_consent(ctx, subject_id, body.purpose, body.channel, body.method, body.notice)
    return RecordedOut.of_recorded(done)


@router.post(
    "/withdraw",
    status_code=201,
    summary="Record that a consent is withdrawn (Art. 7(3)); marketing on that channel stops at once",
)
def withdraw(ctx: Ctx, subject_id: SubjectId, body: ConsentIn) -> RecordedOut:
    done = consent.withdraw_consent(ctx, subject_id, body.purpose, body.channel, body.method, body.notice)
    return RecordedOut.of_recorded(done)


@router.get(
    "/{event_id}/receipt",
    summary="One ledger event's consent receipt, in the Kantara Consent Receipt v1.1 layout",
)
def receipt(
    ctx: Ctx,
    subject_id: SubjectId,
    event_id: Annotated[str, Path(min_length=1, max_length=64)],
    lang: Annotated[str | None, Query(max_length=8, description="the receipt's language (nb, en)")] = None,
) -> dict[str, Any]:
    return consent.receipt(ctx, event_id, lang, subject_id=subject_id)
