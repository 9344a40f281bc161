"""Erasure (Art. 17): what it keeps under a legal obligation, and the receipt that proves it was done."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class ErasureCause(StrEnum):
    REQUEST = "request"  # the person asked (Art. 17(1))
    RETENTION = "retention"  # no reason to keep the data is left (Art. 5(1)(e), 17(1)(a))
    REVIEW = "review"  # the annual review found no reason


@dataclass(frozen=True)
class Hold:
    """Fields kept after an erasure because a law requires them (Art. 17(3)(b)), restricted to that purpose."""

    rule: str
    purpose: str
    fields: frozenset[str]
    until: date


@dataclass(frozen=True)
class ErasureReceipt:
    """Proof of an erasure that holds no personal data: names of fields and processors, dates, the cause."""

    id: str
    subject_id: str
    request_id: str | None
    erased_at: datetime
    cause: ErasureCause
    held_until: date | None
    details: dict[str, Any] = field(default_factory=dict)


def combine(holds: list[Hold], present: set[str]) -> tuple[frozenset[str], date | None]:
    """The fields a set of holds keeps of those the subject has, and the day the last hold ends."""
    kept = frozenset().union(*(h.fields for h in holds)) & present if holds else frozenset()
    if not kept:
        return frozenset(), None
    return kept, max(h.until for h in holds if h.fields & present)
