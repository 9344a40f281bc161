"""The CEO's archive: what an archived record is and how it is minimised (Art. 5(1)(c), 5(1)(e))."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from personvern.policy.schema import Policy


@dataclass(frozen=True)
class ArchiveRecord:
    """A subject moved out of the live register when its reasons ended; the values are kept sealed apart."""

    id: str
    subject_id: str
    kind: str
    received_at: datetime
    archived_at: datetime
    reason: str


def minimise(policy: Policy, values: Mapping[str, str]) -> dict[str, str]:
    """Only the fields the policy's archive keeps, in the policy's order: the rest is surplus once archived."""
    return {name: values[name] for name in policy.archive.fields if name in values}


def may_read(policy: Policy, role: str) -> bool:
    """The policy names who may reach the archive (the seed: only the CEO)."""
    return role in policy.archive.readable_by
