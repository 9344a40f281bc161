"""What each recipient must do when a request is carried out, how it is confirmed, and when the request is done.

A rectification, erasure, restriction or objection is passed on to every recipient that holds the person
(Art. 17(2), 19). The request is answered only once each of them has confirmed: a processor with a connector by
the delivery of the outbox row that told it, one without by a manual task the CEO closes with a note, due
inside the request's deadline (Art. 12(3)). A recipient that holds nothing (a relay such as LINK Mobility,
or one the person's data never reached) is recorded as such, and not asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from personvern.domain.errors import Conflict, invalid

MAX_NOTE = 1000
# A manual task is due this many days before the request's own deadline, so the answer can still go in time;
# never before the day it is made.
TASK_LEAD = timedelta(days=3)


class ConfirmBy(StrEnum):
    OUTBOX = "outbox"  # the delivery of an outbox row (HubSpot's deletion, update or unsubscribe)
    TASK = "task"  # a manual task for the CEO, closed with a note (no connector: Finago, the auditor)
    NOTHING = "nothing"  # not asked: the recipient holds nothing, or nothing it holds is concerned


class ConfirmationState(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    NOT_NEEDED = "not_needed"


@dataclass(frozen=True)
class Confirmation:
    """One recipient's part in one request: what it must do (field names, never values) and whether it is done."""

    id: str
    request_id: str
    subject_id: str | None
    recipient: str  # the policy's recipient key
    action: str  # in words: "erase", "update full_name, email", "stop email", ...
    confirm_by: ConfirmBy
    state: ConfirmationState
    created_at: datetime
    detail: str = ""  # why, in words: "holds nothing after delivery", "deletion queued", ...
    fields: tuple[str, ...] = ()
    outbox_id: str | None = None
    due_on: date | None = None  # a task's, or an outbox row's once it died and became a task
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    note: str | None = None  # the CEO's note on a task done (how it was done, a reference)

    @property
    def pending(self) -> bool:
        return self.state is ConfirmationState.PENDING

    def overdue(self, today: date) -> bool:
        return self.pending and self.due_on is not None and today > self.due_on


def task_due(request_due: date, today: date) -> date:
    """A manual task's due date: inside the request's deadline, a few days before it, never in the past."""
    return min(request_due, max(today, request_due - TASK_LEAD))


def confirm(confirmation: Confirmation, at: datetime, by: str, note: str | None = None) -> Confirmation:
    if not confirmation.pending:
        raise Conflict(f"task {confirmation.id} is {confirmation.state.value.replace('_', ' ')} already")
    return replace(confirmation, state=ConfirmationState.CONFIRMED, confirmed_at=at, confirmed_by=by, note=note or None)


def clean_note(note: str | None) -> str:
    """A task is closed with a note saying how it was done: required, bounded."""
    text = (note or "").strip()
    if not text:
        raise invalid("note", "say how it was done (e.g. where, by whom, a reference): a task is closed with a note")
    if len(text) > MAX_NOTE:
        raise invalid("note", f"must be at most {MAX_NOTE} characters (got {len(text)})")
    return text


def all_in(confirmations: Iterable[Confirmation]) -> bool:
    """Whether every recipient has confirmed (or was not asked): the request may be answered as done."""
    return not any(c.pending for c in confirmations)
