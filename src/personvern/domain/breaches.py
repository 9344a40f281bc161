"""Personal data breaches (GDPR Art. 33-34): what a record holds, the 72-hour deadline, phases and late reasons."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from personvern.domain.errors import Conflict, FieldProblem, InvalidInput, invalid

# Art. 33(1): "without undue delay and, where feasible, not later than 72 hours after having become aware of it".
NOTIFY_WITHIN = timedelta(hours=72)

# The longest text each free-text field takes; Datatilsynet's form is filled from them.
TEXT_LIMITS = {
    "description": 5000,
    "cause": 2000,
    "relation": 500,
    "consequences": 5000,
    "measures_taken": 5000,
    "measures_planned": 5000,
    "data_location": 1000,
    "contact": 500,
    "risk_reason": 2000,
    "late_reason": 2000,
    "reference": 100,
}
MAX_CATEGORY = 200
# The domain speaks of fields; each adapter says these with its own words (cli/words.py: the options).
BEFORE_IT_BEGAN = "is before the breach began"
NEEDS_BEGINNING = "needs the time the breach began"
A_FOLLOW_UP = "a follow-up notification (phase follow_up)"
MAX_COUNT = 1_000_000_000


class Risk(StrEnum):
    """The assessment Art. 33(1) and 34(1) turn on."""

    UNLIKELY = "unlikely"  # unlikely to result in a risk: the authority need not be told; documented (33(5))
    LIKELY = "likely"  # a risk: the authority within 72 hours (33(1))
    HIGH = "high"  # a high risk: the authority, and the people affected without undue delay (34(1))


class Phase(StrEnum):
    """Art. 33(4): what cannot be told at once may be told in phases."""

    INITIAL = "initial"
    FOLLOW_UP = "follow_up"
    FINAL = "final"


class Recipient(StrEnum):
    AUTHORITY = "authority"
    SUBJECTS = "subjects"


class Status(StrEnum):
    """Where a breach stands with the authority, at a given instant."""

    DUE = "due"  # the authority must be told by the deadline
    OVERDUE = "overdue"  # past the deadline and not told
    NOTIFIED = "notified"
    CLOSED = "closed"  # the final notification was given (Art. 33(4)); later facts go as follow-ups
    NOT_REQUIRED = "not_required"  # assessed as unlikely to result in a risk, and documented


@dataclass(frozen=True)
class Notification:
    """One notification made: to the authority (with its phase and reference) or to the people affected."""

    id: str
    breach_id: str
    recipient: Recipient
    at: datetime  # when it was made
    recorded_at: datetime
    recorded_by: str
    phase: Phase | None = None
    reference: str | None = None
    late_reason: str | None = None
    content: str | None = None  # the report given, or the message's text
    outcome: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Breach:
    """One entry of the breach register: the facts Datatilsynet's form asks for, and what was done about it."""

    id: str
    description: str
    discovered_at: datetime
    recorded_at: datetime
    recorded_by: str
    updated_at: datetime
    occurred_at: datetime | None = None
    occurred_until: datetime | None = None
    cause: str | None = None
    categories: tuple[str, ...] = ()
    relation: str | None = None
    people: int | None = None
    records: int | None = None
    consequences: str | None = None
    measures_taken: str | None = None
    measures_planned: str | None = None
    data_location: str | None = None
    contact: str | None = None
    risk: Risk | None = None
    risk_reason: str | None = None
    subject_ids: tuple[str, ...] = ()
    notifications: tuple[Notification, ...] = ()

    @property
    def deadline(self) -> datetime:
        return self.discovered_at + NOTIFY_WITHIN

    @property
    def to_authority(self) -> list[Notification]:
        return sorted((n for n in self.notifications if n.recipient is Recipient.AUTHORITY), key=lambda n: n.at)

    @property
    def to_subjects(self) -> list[Notification]:
        return sorted((n for n in self.notifications if n.recipient is Recipient.SUBJECTS), key=lambda n: n.at)

    @property
    def final_notification(self) -> Notification | None:
        """The notification that closed the breach with the authority, if one did."""
        return next((n for n in self.to_authority if n.phase is Phase.FINAL), None)

    @property
    def closed(self) -> bool:
        return self.final_notification is not None

    def status(self, now: datetime) -> Status:
        if self.closed:
            return Status.CLOSED
        if self.to_authority:
            return Status.NOTIFIED
        if self.risk is Risk.UNLIKELY:
            return Status.NOT_REQUIRED
        return Status.OVERDUE if now > self.deadline else Status.DUE

    def overdue(self, now: datetime) -> bool:
        return self.status(now) is Status.OVERDUE

    @property
    def subjects_must_be_told(self) -> bool:
        """Art. 34(1): a high risk, and nobody told yet."""
        return self.risk is Risk.HIGH and not self.to_subjects

    def next_phase(self) -> Phase:
        """The phase of the next notification to the authority: after the first, and after the final, a follow-up."""
        return Phase.FOLLOW_UP if self.to_authority else Phase.INITIAL


# Fields `breach update` may change; the rest (id, when recorded, by whom) are fixed.
EDITABLE = (
    "description",
    "discovered_at",
    "occurred_at",
    "occurred_until",
    "cause",
    "categories",
    "relation",
    "people",
    "records",
    "consequences",
    "measures_taken",
    "measures_planned",
    "data_location",
    "contact",
    "risk",
    "risk_reason",
)


def hours(delta: timedelta) -> str:
    """A duration in whole hours and minutes, as a person reads it: «84 h», «72 h 30 min»."""
    minutes = int(delta.total_seconds() // 60)
    h, m = divmod(minutes, 60)
    return f"{h} h {m} min" if m else f"{h} h"


def clean_text(name: str, value: str | None) -> str | None:
    """Trimmed, NFC text without control characters (line breaks and tabs allowed); empty is None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise invalid(name, "must not contain control characters")
    limit = TEXT_LIMITS.get(name, 5000)
    if len(text) > limit:
        raise invalid(name, f"must be at most {limit} characters (got {len(text)})")
    return text


def clean_categories(values: Iterable[str]) -> tuple[str, ...]:
    """The types of personal data concerned: each non-empty, once, in the order given."""
    out: list[str] = []
    for value in values:
        text = unicodedata.normalize("NFC", value).strip()
        if not text:
            raise invalid("categories", "a category must not be empty")
        if len(text) > MAX_CATEGORY or any(unicodedata.category(ch) == "Cc" for ch in text):
            raise invalid("categories", f"each category is one line of at most {MAX_CATEGORY} characters")
        if text.casefold() not in {o.casefold() for o in out}:
            out.append(text)
    return tuple(out)


def check_count(name: str, value: int | None) -> int | None:
    if value is not None and not 0 <= value <= MAX_COUNT:
        raise invalid(name, f"must be a whole number from 0 to {MAX_COUNT}")
    return value


def parse_risk(value: str | None) -> Risk | None:
    if value is None:
        return None
    try:
        return Risk(value)
    except ValueError:
        raise invalid(
            "risk", "must be unlikely (no risk to the people), likely (a risk) or high (a high risk; Art. 34)"
        ) from None


def parse_phase(value: str | None) -> Phase | None:
    if value is None:
        return None
    try:
        return Phase(value)
    except ValueError:
        raise invalid("phase", "must be initial, follow_up or final (Art. 33(4))") from None


def check_breach(breach: Breach, now: datetime) -> None:
    """Every rule a breach record must satisfy as a whole; each problem names its field."""
    problems: list[FieldProblem] = []
    if not breach.description:
        problems.append(FieldProblem("description", "say what happened and how"))
    if breach.discovered_at > now:
        problems.append(FieldProblem("discovered_at", f"is in the future (now is {now.isoformat()})"))
    if breach.occurred_at is not None:
        if breach.occurred_at > breach.discovered_at:
            problems.append(FieldProblem("occurred_at", "is after the breach was discovered"))
        if breach.occurred_until is not None and breach.occurred_until < breach.occurred_at:
            problems.append(FieldProblem("occurred_until", BEFORE_IT_BEGAN))
    elif breach.occurred_until is not None:
        problems.append(FieldProblem("occurred_until", NEEDS_BEGINNING))
    if breach.occurred_until is not None and breach.occurred_until > now:
        problems.append(FieldProblem("occurred_until", f"is in the future (now is {now.isoformat()})"))
    if breach.people is not None and breach.people < len(breach.subject_ids):
        problems.append(
            FieldProblem("people", f"is {breach.people}, but {len(breach.subject_ids)} affected subjects are listed")
        )
    if breach.risk is Risk.UNLIKELY and not breach.risk_reason:
        # Art. 33(5): a breach not notified is documented with why it is unlikely to result in a risk.
        problems.append(FieldProblem("risk_reason", "say why the breach is unlikely to result in a risk"))
    if breach.to_authority and breach.discovered_at > breach.to_authority[0].at:
        problems.append(FieldProblem("discovered_at", "is after the authority was notified"))
    if problems:
        raise InvalidInput(problems)


def check_authority_notice(
    breach: Breach, at: datetime, now: datetime, phase: Phase | None, late_reason: str | None
) -> Phase:
    """The phase of a notification to the authority at `at`, after every rule of Art. 33(1) and 33(4)."""
    if at > now:
        raise invalid("at", f"is in the future (now is {now.isoformat()})")
    if at < breach.discovered_at:
        raise invalid("at", f"is before the breach was discovered ({breach.discovered_at.isoformat()})")
    told = breach.to_authority
    if told and at < told[-1].at:
        raise invalid("at", f"is before the last notification to the authority ({told[-1].at.isoformat()})")
    chosen = phase or breach.next_phase()
    final = breach.final_notification
    if final is not None and chosen is not Phase.FOLLOW_UP:
        # Art. 33(4): the case was closed by the final notification; what becomes known later is added to it.
        raise Conflict(
            f"breach {breach.id} is closed: the final notification was given {final.at.isoformat()}; "
            f"what became known later goes as {A_FOLLOW_UP}"
        )
    if told and chosen is Phase.INITIAL:
        raise invalid("phase", "the authority was told already: this one is follow_up or final")
    if not told and chosen is Phase.FOLLOW_UP:
        raise invalid("phase", "the first notification is initial, or final when everything is known")
    late = not told and at > breach.deadline
    if late and not late_reason:
        raise invalid(
            "late_reason",
            f"the authority is told {hours(at - breach.discovered_at)} after the breach was discovered, later than "
            "the 72 hours of Art. 33(1): give the reason for the delay",
        )
    if late_reason and not late:
        when = "a follow-up notification" if told else "the notification is within 72 hours of discovery"
        raise invalid("late_reason", f"is only for a first notification after 72 hours; {when}")
    return chosen


class BreachClosed(Conflict):
    """A change to a breach after its final notification; adapters add how to send a follow-up instead."""

    def __init__(self, breach_id: str, message: str) -> None:
        super().__init__(message)
        self.breach_id = breach_id


def check_open(breach: Breach) -> None:
    """A closed breach's record stays as the authority was last told it; later facts come with a follow-up."""
    final = breach.final_notification
    if final is not None:
        raise BreachClosed(
            breach.id,
            f"breach {breach.id} is closed: the final notification was given to the authority "
            f"{final.at.isoformat()}, and the record stays as it was told. Later facts go to the authority as "
            f"{A_FOLLOW_UP}, recorded with it",
        )
