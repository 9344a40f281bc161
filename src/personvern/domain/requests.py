"""Data subject requests: their kinds, their life cycle and their legal deadlines (GDPR Art. 12-22)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from personvern.domain.errors import Conflict, invalid

# Art. 12(3): one month from receipt; "extended by two further months where necessary".
ANSWER_MONTHS = 1
MAX_EXTENSION_MONTHS = 2


class RequestType(StrEnum):
    ACCESS = "access"  # Art. 15
    PORTABILITY = "portability"  # Art. 20
    RECTIFICATION = "rectification"  # Art. 16
    ERASURE = "erasure"  # Art. 17
    RESTRICTION = "restriction"  # Art. 18
    OBJECTION = "objection"  # Art. 21


class RequestState(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"


OPEN_STATES = frozenset({RequestState.RECEIVED, RequestState.VERIFIED, RequestState.IN_PROGRESS})


class Channel(StrEnum):
    """How the request reached the company; any channel is valid (Art. 12(2): facilitate the exercise)."""

    EMAIL = "email"
    PHONE = "phone"
    LETTER = "letter"
    WEB = "web"
    IN_PERSON = "in_person"


class Verification(StrEnum):
    """How the person's identity was checked (Art. 12(6): reasonable doubts may be resolved by asking more)."""

    BANKID = "bankid"
    ID_DOCUMENT = "id_document"
    KNOWN_EMAIL = "known_email"  # replied from the address the register holds
    KNOWN_PHONE = "known_phone"  # confirmed a code sent to the number the register holds
    IN_PERSON = "in_person"
    SIGNED_LETTER = "signed_letter"
    # On the public page: the visitor typed back a one-time code sent to the number or address they gave.
    # It proves they hold that number or address, which is what the register knows them by.
    OTP_SMS = "otp_sms"
    OTP_EMAIL = "otp_email"


# Recorded by the privacy page itself when the code is typed back; staff cannot claim them for a request.
ONLY_ON_THE_PAGE = frozenset({Verification.OTP_SMS, Verification.OTP_EMAIL})


def add_months(day: date, months: int) -> date:
    """The same date `months` later, or that month's last day when it has no such date.

    Regulation (EEC, Euratom) No 1182/71 Art. 3(2)(c): 31 January + 1 month is 28 (or 29) February.
    """
    result: date = day + relativedelta(months=months)
    return result


def received_on(received_at: datetime, timezone: str) -> date:
    """The calendar day of receipt where the controller is: a deadline counts from that day."""
    return received_at.astimezone(ZoneInfo(timezone)).date()


def answer_due(received: date, extension_months: int = 0) -> date:
    """The last day to answer: one month from receipt, plus an extension of at most two months."""
    return add_months(received, ANSWER_MONTHS + extension_months)


@dataclass(frozen=True)
class Request:
    id: str
    type: RequestType
    state: RequestState
    subject_id: str | None  # None: the identity given matches nobody in the register or archive
    channel: Channel
    language: str
    received_at: datetime
    received_date: date  # the day of receipt in the controller's time zone
    due_on: date
    opened_by: str
    purpose: str | None = None  # an objection's purpose
    extended_at: datetime | None = None
    extension_reason: str | None = None
    verified_at: datetime | None = None
    verified_by: str | None = None
    verification_method: Verification | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    rejection_reason: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)  # what was done; names and counts, never values

    @property
    def open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    @property
    def first_due(self) -> date:
        """The deadline before any extension: also the last day an extension may be asked for."""
        return answer_due(self.received_date)

    def days_left(self, today: date) -> int:
        """Days until the deadline, negative once it has passed."""
        return (self.due_on - today).days

    def overdue(self, today: date) -> bool:
        return self.open and today > self.due_on

    @property
    def carried_out(self) -> bool:
        """Carried out here and waiting for its recipients to confirm (Art. 17(2), 19): not to be done again."""
        return self.open and bool(self.outcome.get("carried_out_at"))


def _require_open(request: Request, doing: str) -> None:
    if not request.open:
        raise Conflict(f"request {request.id} is {request.state.value}; it cannot be {doing}")


def require_not_carried_out(request: Request, doing: str) -> None:
    if request.carried_out:
        raise Conflict(
            f"request {request.id} was carried out on {str(request.outcome['carried_out_at'])[:10]} and waits for "
            f"its recipients to confirm; it cannot be {doing}"
        )


def verify(request: Request, at: datetime, by: str, method: Verification) -> Request:
    """Record how the person's identity was checked; nothing is disclosed or changed before this."""
    _require_open(request, "verified")
    if request.verified:
        raise Conflict(f"request {request.id} was already verified on {request.verified_at:%Y-%m-%d}")
    return replace(request, state=RequestState.VERIFIED, verified_at=at, verified_by=by, verification_method=method)


def extend(request: Request, at: datetime, today: date, reason: str, months: int = MAX_EXTENSION_MONTHS) -> Request:
    """Extend the deadline once, by at most two months, telling the person why within the first month.

    Art. 12(3): the extension is possible "taking into account the complexity and number of the requests",
    and the person must be informed of it, with the reasons, within one month of receipt.
    """
    _require_open(request, "extended")
    if not reason.strip():
        raise invalid("reason", "an extension needs the reason the person will be told (Art. 12(3))")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise invalid("months", f"an extension is 1 or {MAX_EXTENSION_MONTHS} months (Art. 12(3))")
    if request.extended_at is not None:
        raise Conflict(f"request {request.id} was already extended; the GDPR allows one extension of two months")
    if today > request.first_due:
        raise Conflict(
            f"request {request.id} can no longer be extended: the person must be told within the first month "
            f"of receipt, which ended on {request.first_due.isoformat()} (Art. 12(3))"
        )
    return replace(
        request,
        extended_at=at,
        extension_reason=reason.strip(),
        due_on=answer_due(request.received_date, months),
    )


def start(request: Request) -> Request:
    _require_open(request, "started")
    require_verified(request, "worked on")
    return replace(request, state=RequestState.IN_PROGRESS)


class NotVerified(Conflict):
    """A step that needs the person's identity checked first; adapters add how to record the check."""

    def __init__(self, request_id: str, doing: str) -> None:
        super().__init__(
            f"request {request_id} cannot be {doing} before the person's identity is verified (Art. 12(6))"
        )
        self.request_id = request_id


def require_verified(request: Request, doing: str) -> None:
    if not request.verified:
        raise NotVerified(request.id, doing)


def carry_out(request: Request, at: datetime, by: str, outcome: dict[str, Any]) -> Request:
    """Done here, but not yet answered: the recipients the person's data went to must confirm first (Art. 19).

    The request stays in progress, with what was done, until the last confirmation completes it.
    """
    _require_open(request, "fulfilled")
    require_not_carried_out(request, "fulfilled again")
    require_verified(request, "fulfilled")
    done = {**outcome, "carried_out_at": at.isoformat(), "carried_out_by": by}
    return replace(request, state=RequestState.IN_PROGRESS, outcome=done)


def complete(request: Request, at: datetime, by: str, outcome: dict[str, Any]) -> Request:
    _require_open(request, "fulfilled")
    # Also when the identity matched nobody: "we hold nothing about you" told to an unverified asker would
    # reveal who is not a customer, just as an answer would reveal who is.
    require_verified(request, "fulfilled")
    return replace(request, state=RequestState.COMPLETED, closed_at=at, closed_by=by, outcome=outcome)


def settled_by_journal(request: Request, at: datetime, by: str, receipt_id: str) -> Request:
    """A restored backup holds an erasure request that was fulfilled after the backup was made: the erasure journal
    proves it (the receipt, the time), and the restore has erased the person again. Closed as completed at the
    time it was, so it is neither answered twice nor shown overdue; the verification the backup lost is not
    asked again (it was done, and the person is gone)."""
    if not request.open:
        return request
    outcome = {**request.outcome, "receipt": receipt_id, "settled_by_restore": True}
    return replace(request, state=RequestState.COMPLETED, closed_at=at, closed_by=by, outcome=outcome)


def reject(request: Request, at: datetime, by: str, reason: str) -> Request:
    """Refuse a request; the controller must be able to show why (Art. 12(5)) and tell the person (Art. 12(4))."""
    _require_open(request, "rejected")
    require_not_carried_out(request, "rejected")
    if not reason.strip():
        raise invalid("reason", "a rejection needs its reason, e.g. manifestly unfounded or excessive (Art. 12(5))")
    return replace(request, state=RequestState.REJECTED, closed_at=at, closed_by=by, rejection_reason=reason.strip())
