"""/api/v1/breaches: the breach register (GDPR Art. 33-34), the CEO's: record, update, list, notify."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, overload

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from personvern.api.fields import Id, text
from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, offset_of
from personvern.api.security import Ctx
from personvern.domain.breaches import MAX_COUNT, TEXT_LIMITS, Breach, Notification
from personvern.services import breaches
from personvern.services.breaches import BreachInput

router = APIRouter(prefix="/breaches", tags=["breaches"])


@overload
def utc(at: datetime) -> datetime: ...
@overload
def utc(at: None) -> None: ...
def utc(at: datetime | None) -> datetime | None:
    # Every instant in UTC, as the register stores it and the CLI's JSON gives it, whatever offset it was sent with.
    return None if at is None else at.astimezone(UTC)


SubjectId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")]
Category = Annotated[str, Field(max_length=200)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Risk = Literal["unlikely", "likely", "high"]


def _text(name: str, description: str) -> Any:
    # An empty text clears the field on update; the domain trims and checks each (control characters, length).
    return Field(None, max_length=TEXT_LIMITS[name] + 100, description=description)


class BreachFacts(BaseModel):
    """What is known of a breach; on update, a field left out stays as it is and an empty text clears it."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = _text("description", "What happened, and how.")
    discovered_at: AwareDatetime | None = Field(None, description="When the breach was discovered.")
    occurred_at: AwareDatetime | None = Field(None, description="When it began.")
    occurred_until: AwareDatetime | None = Field(None, description="When it ended.")
    cause: str | None = _text("cause", "The main cause.")
    categories: list[Category] | None = Field(None, max_length=50, description="Types of personal data concerned.")
    relation: str | None = _text("relation", "The people's relation to the company.")
    people: Count | None = Field(None, description="About how many people are affected.")
    records: Count | None = Field(None, description="About how many records are affected.")
    consequences: str | None = _text("consequences", "Likely consequences for the people.")
    measures_taken: str | None = _text("measures_taken", "Measures taken.")
    measures_planned: str | None = _text("measures_planned", "Measures planned.")
    data_location: str | None = _text("data_location", "Where the data is now.")
    contact: str | None = _text("contact", "Contact person (default: the privacy contact).")
    risk: Risk | None = Field(None, description="unlikely (documented, not notified), likely, or high (Art. 34).")
    risk_reason: str | None = _text("risk_reason", "Why the risk is judged so.")
    subjects: list[SubjectId] = Field(
        default_factory=list, max_length=10_000, description="Affected subjects' ids to add (never removed)."
    )

    def given(self) -> BreachInput:
        return BreachInput(**{name: getattr(self, name) for name in BreachFacts.model_fields})


class BreachIn(BreachFacts):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "description": "A laptop with a customer list was stolen from a car",
                    "discovered_at": "2026-11-24T08:00:00+01:00",
                    "categories": ["name", "phone"],
                    "people": 40,
                    "risk": "likely",
                }
            ]
        },
    )

    description: str = Field(max_length=TEXT_LIMITS["description"] + 100, description="What happened, and how.")
    discovered_at: AwareDatetime = Field(description="When the breach was discovered: the 72 hours count from it.")


class AuthorityNoticeIn(BreachFacts):
    """The authority was told (in Altinn): when, its reference, the phase; with any facts told with it."""

    reference: str = Field(max_length=TEXT_LIMITS["reference"] + 100, description="The authority's reference.")
    phase: Literal["initial", "follow_up", "final"] | None = Field(None, description="Default: the next one.")
    late_reason: str | None = _text("late_reason", "Why later than 72 hours after discovery (required then).")
    at: AwareDatetime | None = Field(None, description="When the authority was told (default: now).")


class SubjectsNoticeIn(BaseModel):
    """Tell each affected person by SMS, through the outbox (Art. 34)."""

    model_config = ConfigDict(extra="forbid")

    text: str = text(2000, "The message to the people affected.")


class NotificationOut(BaseModel):
    id: str
    recipient: str
    phase: str | None
    at: datetime
    recorded_at: datetime
    recorded_by: str
    reference: str | None
    late_reason: str | None
    content: str | None = Field(description="The report the authority was given, or the message's text.")
    outcome: dict[str, Any]

    @classmethod
    def of(cls, n: Notification) -> NotificationOut:
        return cls(
            id=n.id,
            recipient=n.recipient.value,
            phase=n.phase.value if n.phase else None,
            at=utc(n.at),
            recorded_at=utc(n.recorded_at),
            recorded_by=n.recorded_by,
            reference=n.reference,
            late_reason=n.late_reason,
            content=n.content,
            outcome=dict(n.outcome),
        )


class QueuedOut(BaseModel):
    subject_id: str
    message_id: str
    outbox_id: str


class SubjectsNotifiedOut(NotificationOut):
    queued: list[QueuedOut]
    no_phone: list[str]
    not_in_register: list[str]
    restricted: list[str]


class BreachOut(BaseModel):
    id: str
    status: str = Field(description="due, overdue, notified, closed or not_required")
    overdue: bool
    deadline: datetime = Field(description="72 hours after discovery (Art. 33(1)).")
    discovered_at: datetime
    occurred_at: datetime | None
    occurred_until: datetime | None
    description: str
    cause: str | None
    categories: list[str]
    relation: str | None
    people: int | None
    records: int | None
    consequences: str | None
    measures_taken: str | None
    measures_planned: str | None
    data_location: str | None
    contact: str | None
    risk: str | None
    risk_reason: str | None
    subjects: list[str]
    subjects_must_be_told: bool
    closed: bool
    next_phase: str
    recorded_at: datetime
    recorded_by: str
    updated_at: datetime | None
    notifications: list[NotificationOut]

    @classmethod
    def fields_of(cls, b: Breach, now: datetime) -> dict[str, Any]:
        return {
            "id": b.id,
            "status": b.status(now).value,
            "overdue": b.overdue(now),
            "deadline": utc(b.deadline),
            "discovered_at": utc(b.discovered_at),
            "occurred_at": utc(b.occurred_at),
            "occurred_until": utc(b.occurred_until),
            "description": b.description,
            "cause": b.cause,
            "categories": list(b.categories),
            "relation": b.relation,
            "people": b.people,
            "records": b.records,
            "consequences": b.consequences,
            "measures_taken": b.measures_taken,
            "measures_planned": b.measures_planned,
            "data_location": b.data_location,
            "contact": b.contact,
            "risk": b.risk.value if b.risk else None,
            "risk_reason": b.risk_reason,
            "subjects": list(b.subject_ids),
            "subjects_must_be_told": b.subjects_must_be_told,
            "closed": b.closed,
            "next_phase": b.next_phase().value,
            "recorded_at": utc(b.recorded_at),
            "recorded_by": b.recorded_by,
            "updated_at": utc(b.updated_at),
            "notifications": [NotificationOut.of(n) for n in b.notifications],
        }

    @classmethod
    def of(cls, b: Breach, now: datetime) -> BreachOut:
        return cls(**cls.fields_of(b, now))


class BreachDetailOut(BreachOut):
    report: str = Field(description="The report, ready to paste into Datatilsynet's form.")


class UpdatedOut(BreachOut):
    changed: list[str]


class BreachPage(Page):
    now: datetime
    items: list[BreachOut]


@router.post("", status_code=201, summary="Record a breach; the authority is due 72 hours after its discovery")
def add_breach(ctx: Ctx, body: BreachIn) -> BreachOut:
    breach = breaches.add_breach(ctx, body.given())
    return BreachOut.of(breach, ctx.clock.now())


@router.get("", summary="Every breach, notified or not (Art. 33(5)), with its deadline")
def list_breaches(
    ctx: Ctx,
    overdue: Annotated[bool, Query(description="Only breaches past 72 hours, not notified.")] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> BreachPage:
    offset = offset_of(cursor)
    found = breaches.list_breaches(ctx, overdue)
    now = ctx.clock.now()
    page = found[offset : offset + limit]
    more = offset + limit < len(found)
    return BreachPage(now=now, items=[BreachOut.of(b, now) for b in page], next_cursor=after(offset, len(page), more))


@router.get("/{breach_id}", summary="One breach: where it stands, and the report for Datatilsynet's form")
def show_breach(
    ctx: Ctx,
    breach_id: Id,
    lang: Annotated[str | None, Query(max_length=8, description="The report's language: nb (default) or en.")] = None,
) -> BreachDetailOut:
    breach = breaches.show_breach(ctx, breach_id)
    report = breaches.report(ctx, breach, lang)
    return BreachDetailOut(**BreachOut.fields_of(breach, ctx.clock.now()), report=report)


@router.patch("/{breach_id}", summary="Add what has become known (Art. 33(4)); subjects are added, never removed")
def update_breach(ctx: Ctx, breach_id: Id, body: BreachFacts) -> UpdatedOut:
    breach, changed = breaches.update_breach(ctx, breach_id, body.given())
    return UpdatedOut(**BreachOut.fields_of(breach, ctx.clock.now()), changed=changed)


@router.post(
    "/{breach_id}/notify/authority",
    status_code=201,
    summary="Record a notification to the authority (Art. 33), with any facts told with it",
)
def notify_authority(ctx: Ctx, breach_id: Id, body: AuthorityNoticeIn) -> NotificationOut:
    facts = BreachFacts(**body.model_dump(include=set(BreachFacts.model_fields), exclude_unset=True))
    told = breaches.notify_authority(
        ctx, breach_id, body.reference, body.phase, body.late_reason, body.at, facts.given()
    )
    return NotificationOut.of(told)


@router.post(
    "/{breach_id}/notify/subjects",
    status_code=201,
    summary="Queue an SMS to each person affected (Art. 34), through the outbox",
)
def notify_subjects(ctx: Ctx, breach_id: Id, body: SubjectsNoticeIn) -> SubjectsNotifiedOut:
    done = breaches.notify_subjects(ctx, breach_id, body.text)
    return SubjectsNotifiedOut(
        **NotificationOut.of(done.notification).model_dump(),
        queued=[QueuedOut(subject_id=s, message_id=m, outbox_id=o) for s, m, o in done.queued],
        no_phone=done.no_phone,
        not_in_register=done.not_in_register,
        restricted=done.restricted,
    )
