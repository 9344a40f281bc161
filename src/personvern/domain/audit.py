"""The audit chain: entries that record who did what to whose data and why, each holding its predecessor's hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    """What a use case records. Never a personal value: ids, field names, purposes and reasons only."""

    action: str
    subject_id: str | None = None
    purpose: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    subject_id: str | None
    purpose: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


def entry_hash(
    seq: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    subject_id: str | None,
    purpose: str | None,
    details_json: str,
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical rendering of every recorded column and the previous hash."""
    material = "\x1f".join(
        (
            str(seq),
            at.isoformat(),
            actor,
            role,
            action,
            subject_id or "",
            purpose or "",
            details_json,
            prev_hash,
        )
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def canonical_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(
    rows: Iterable[tuple[int, datetime, str, str, str, str | None, str | None, str, str, str]],
) -> ChainReport:
    """Walk entries in order; report the first whose link or content does not match.

    Each row is (seq, at, actor, role, action, subject_id, purpose, details_json, prev_hash, hash).
    """
    prev = GENESIS
    expected_seq = 1
    checked = 0
    for seq, at, actor, role, action, subject_id, purpose, details_json, prev_hash, digest in rows:
        if seq != expected_seq:
            return ChainReport(checked, seq, f"entry {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return ChainReport(checked, seq, "its previous-hash does not match the entry before it")
        if entry_hash(seq, at, actor, role, action, subject_id, purpose, details_json, prev_hash) != digest:
            return ChainReport(checked, seq, "its content does not match its hash (altered)")
        prev = digest
        expected_seq += 1
        checked += 1
    return ChainReport(checked)
