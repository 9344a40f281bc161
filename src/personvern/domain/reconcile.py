"""Reconciling a processor with the register: which contacts it should not hold, and whom it is missing.

A processor may hold only the people it was given, for as long as the purpose it was given them for holds
(Art. 28(3)(a), 5(1)(b), 17(1)): so a contact HubSpot holds is a finding when the register erased or archived
the person, never shared them, or the only purpose they were shared for has gone (consent withdrawn, an
objection). One the register does not know at all is reported, not fixed: nothing here says it is ours. A person
whom marketing by email may reach, and whom HubSpot lacks, is missing there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

MAX_KEPT = 1000  # findings kept with a run (the counts are always whole): a dashboard shows a page, not 100 000


class Finding(StrEnum):
    ERASED = "erased_here"  # erased or archived in the register; the processor still holds the contact
    NEVER_SHARED = "never_shared"  # in the register, but never given to the processor
    BASIS_GONE = "basis_gone"  # shared, but the only purpose it was shared for no longer holds
    UNKNOWN = "not_in_register"  # the register knows nothing of it: reported, left to a person
    MISSING = "missing"  # should be at the processor and is not


# Each finding in words, for the CLI and the dashboard.
WORDS = {
    Finding.ERASED: "erased or archived here, still held there",
    Finding.NEVER_SHARED: "never shared with it",
    Finding.BASIS_GONE: "the purpose it was shared for no longer holds (consent withdrawn or an objection)",
    Finding.UNKNOWN: "not in the register: check it there by hand",
    Finding.MISSING: "consented to marketing by email, but not held there",
}
SHOULD_NOT_BE_THERE = frozenset({Finding.ERASED, Finding.NEVER_SHARED, Finding.BASIS_GONE})


@dataclass(frozen=True)
class Found:
    """One finding: the processor's record id and/or the register's subject id, never a value."""

    finding: Finding
    external_id: str | None  # the processor's id of the contact (None: missing there)
    subject_id: str | None  # the register's id, where the contact is matched to one
    pending: bool = False  # a deletion or share for it is queued already: nothing more to do
    fixed_by: str | None = None  # the outbox row `--fix` queued

    def as_record(self) -> dict[str, Any]:
        return {
            "finding": self.finding.value,
            "external_id": self.external_id,
            "subject_id": self.subject_id,
            "pending": self.pending,
            "fixed_by": self.fixed_by,
        }


@dataclass
class Reconciliation:
    """One run against one processor: how far it got, what it found, what it fixed."""

    id: str
    recipient: str
    started_at: datetime
    actor: str
    fix: bool
    finished_at: datetime | None = None
    complete: bool = False  # every page was read; only then is anything fixed or counted missing
    pages: int = 0
    contacts: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # finding -> how many
    fixed: int = 0
    findings: list[Found] = field(default_factory=list)  # at most MAX_KEPT
    error: str | None = None  # why it stopped early (never a value)

    def add(self, found: Found) -> None:
        self.counts[found.finding.value] = self.counts.get(found.finding.value, 0) + 1
        if len(self.findings) < MAX_KEPT:
            self.findings.append(found)

    @property
    def should_not_be_there(self) -> int:
        return sum(self.counts.get(f.value, 0) for f in SHOULD_NOT_BE_THERE)

    @property
    def missing(self) -> int:
        return self.counts.get(Finding.MISSING.value, 0)
