"""The audit chain: entries that record who did what to whose data and why, each holding its predecessor's hash.

Two forms of entry exist. A *keyed* entry's hash is a MAC under the audit key (derived from the master key)
over the entry's columns, its time in one canonical UTC form: keyed BLAKE2b-256 (RFC 7693), a MAC by design,
as unforgeable without the key as HMAC-SHA256 and no slower than the plain SHA-256 it replaces (HMAC would add
two hash calls an entry, a third of `audit verify`'s time). The first keyed entry of a new register links to
an anchor, an HMAC of the register's random chain id, so neither the database alone nor a constant can start
or rebuild a chain. A *legacy* entry (written before the chain was keyed) is a plain SHA-256 linked from a
constant; a register upgraded from then keeps them as they were (re-hashing them would be forging them) up to
its switch point, the `audit.keyed` entry, which links to the last of them under the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

GENESIS = "0" * 64  # the legacy chain's constant start; keyed chains start at `anchor(key, chain_id)`
SWITCH_ACTION = "audit.keyed"  # the entry that records where a legacy chain became keyed

# How far an entry's time may lie before the latest time already in the chain. A use case takes its time when
# it starts and appends when it holds the head's lock, so concurrent writers commit slightly out of order, and a
# retention run or review stamps each batch with its start. Further back than this is a clock moved back:
# nobody may move the clock of real records (a simulation register may).
CLOCK_SLACK = timedelta(hours=1)

AuditRowT = tuple[int, datetime, str, str, str, str | None, str | None, str, str, str]


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


def canonical_time(at: datetime) -> str:
    """The one form of an instant that is hashed: UTC, as `isoformat` writes it (the stored time is UTC too)."""
    return (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat()


def _material(
    seq: int,
    at: str,
    actor: str,
    role: str,
    action: str,
    subject_id: str | None,
    purpose: str | None,
    details_json: str,
    prev_hash: str,
) -> bytes:
    fields = (str(seq), at, actor, role, action, subject_id or "", purpose or "", details_json, prev_hash)
    return "\x1f".join(fields).encode("utf-8")


def entry_hash(
    key: bytes,
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
    """A MAC under the audit key over every recorded column (the time in UTC) and the previous hash."""
    material = _material(seq, canonical_time(at), actor, role, action, subject_id, purpose, details_json, prev_hash)
    return hashlib.blake2b(material, key=key, digest_size=32).hexdigest()


def legacy_entry_hash(
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
    """The unkeyed SHA-256 of entries written before the chain was keyed (the time as the caller gave it)."""
    material = _material(seq, at.isoformat(), actor, role, action, subject_id, purpose, details_json, prev_hash)
    return hashlib.sha256(material).hexdigest()


def _legacy_matches(row: AuditRowT) -> bool:
    """A legacy entry's hash, recomputed. Its time was hashed with the offset the caller gave (the defect that
    keyed entries fix), while the database keeps UTC: when UTC does not match, every offset in use in the world
    (−12:00 … +14:00, in quarter hours) is tried. The legacy chain has no key, so this gives nothing away."""
    seq, at, actor, role, action, sid, purpose, details, prev, digest = row
    if legacy_entry_hash(seq, at, actor, role, action, sid, purpose, details, prev) == digest:
        return True
    for minutes in range(-12 * 60, 14 * 60 + 1, 15):
        local = at.astimezone(timezone(timedelta(minutes=minutes)))
        if legacy_entry_hash(seq, local, actor, role, action, sid, purpose, details, prev) == digest:
            return True
    return False


def anchor(key: bytes, chain_id: str) -> str:
    """The previous-hash of a keyed chain's first entry: specific to this register, and unforgeable without the key."""
    return hmac.digest(key, f"anchor\x1f{chain_id}".encode(), "sha256").hex()


def head_mac(key: bytes, seq: int, digest: str, keyed_from: int, chain_id: str, simulation: bool) -> str:
    """The seal on the head row: without the key, the head cannot be moved back to hide removed entries, nor a
    real register be turned into a simulation to hide a clock moved back."""
    material = f"head\x1f{seq}\x1f{digest}\x1f{keyed_from}\x1f{chain_id}\x1f{int(simulation)}"
    return hmac.digest(key, material.encode(), "sha256").hex()


def canonical_details(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str | None = None
    head_hash: str | None = None  # the last verified entry's hash (what a checkpoint records)

    @property
    def ok(self) -> bool:
        return self.broken_at is None


@dataclass(frozen=True)
class ChainStart:
    """Where and how a register's chain is keyed: entries from `keyed_from` on are HMACs under `key`."""

    key: bytes
    chain_id: str
    keyed_from: int  # 1 for a register created keyed; N+1 after N legacy entries

    @property
    def first_prev(self) -> str:
        return GENESIS if self.keyed_from > 1 else anchor(self.key, self.chain_id)


def verify_chain(rows: Iterable[AuditRowT], start: ChainStart, simulation: bool = False) -> ChainReport:
    """Walk entries in order; report the first whose link, content or time does not hold.

    Each row is (seq, at, actor, role, action, subject_id, purpose, details_json, prev_hash, hash), `at` aware.
    Unless the register is a simulation, an entry dated more than CLOCK_SLACK before the latest time already
    in the chain breaks it: the clock of real records was moved back.
    """
    keyed_from = start.keyed_from
    # One MAC state keyed once and copied per entry: the same digest as `entry_hash`, without keying it again.
    copy = hashlib.blake2b(key=start.key, digest_size=32).copy
    prev = start.first_prev
    expected_seq = 1
    checked = 0
    # The latest time so far, as its canonical text: UTC `isoformat` texts sort as their instants do (a whole
    # second's "+00:00" before its ".micro"), so one string comparison a row finds the rare entry to look at.
    latest = ""
    for row in rows:
        seq, at, actor, role, action, subject_id, purpose, details_json, prev_hash, digest = row
        if seq != expected_seq:
            return ChainReport(checked, seq, f"entry {expected_seq} is missing (next is {seq})")
        if prev_hash != prev:
            return ChainReport(checked, seq, "its previous-hash does not match the entry before it")
        when = (at if at.tzinfo is UTC else at.astimezone(UTC)).isoformat()
        if seq >= keyed_from:
            mac = copy()
            mac.update(
                "\x1f".join(
                    (str(seq), when, actor, role, action, subject_id or "", purpose or "", details_json, prev)
                ).encode("utf-8")
            )
            if mac.hexdigest() != digest:
                return ChainReport(checked, seq, "its content does not match its hash (altered)")
            if seq == keyed_from and keyed_from > 1 and action != SWITCH_ACTION:
                problem = f"the chain is keyed from here, but this is not the {SWITCH_ACTION} entry"
                return ChainReport(checked, seq, problem)
        elif not _legacy_matches(row):
            return ChainReport(checked, seq, "its content does not match its hash (altered)")
        if when >= latest:
            latest = when
        elif not simulation and at < datetime.fromisoformat(latest) - CLOCK_SLACK:
            return ChainReport(
                checked,
                seq,
                f"its time {when} is before {latest}, already in the chain: "
                "the clock was moved back on a register that is not a simulation",
            )
        prev = digest
        expected_seq += 1
        checked += 1
    return ChainReport(checked, head_hash=None if checked == 0 else prev)


@dataclass(frozen=True)
class Checkpoint:
    """A head of the chain as it stood at a time, signed and kept outside the database.

    A database restored from an older copy, or cut short with its head row rewritten, no longer holds the
    checkpointed entry; the database alone cannot make a checkpoint, as it is signed under a key derived from
    the master key.
    """

    chain_id: str
    seq: int
    hash: str
    at: datetime

    def line(self, key: bytes) -> str:
        body = f"{self.chain_id} {self.seq} {self.hash} {canonical_time(self.at)}"
        return f"{body} {hmac.digest(key, body.encode(), 'sha256').hex()}"

    @classmethod
    def parse(cls, line: str, key: bytes) -> Checkpoint | None:
        """The checkpoint a line holds, or None when its signature does not verify under `key`."""
        parts = line.split()
        if len(parts) != 5:
            return None
        body, mac = " ".join(parts[:4]), parts[4]
        if not hmac.compare_digest(hmac.digest(key, body.encode(), "sha256").hex(), mac):
            return None
        try:
            return cls(parts[0], int(parts[1]), parts[2], datetime.fromisoformat(parts[3]))
        except ValueError:
            return None


def against_checkpoint(report: ChainReport, checkpoint: Checkpoint | None, stored_hash: str | None) -> ChainReport:
    """A verified chain must still hold the last checkpoint's entry, with the same hash; else it was cut short or
    the database rolled back to an older copy. `stored_hash` is the chain's hash at the checkpoint's seq."""
    if not report.ok or checkpoint is None:
        return report
    when = canonical_time(checkpoint.at)
    if report.checked < checkpoint.seq:
        return ChainReport(
            report.checked,
            report.checked + 1,
            f"the chain ends at entry {report.checked}, but the checkpoint of {when} recorded entry {checkpoint.seq}:"
            " entries were removed, or the database was restored from an older copy",
        )
    if stored_hash != checkpoint.hash:
        return ChainReport(
            report.checked,
            checkpoint.seq,
            f"its hash is not the one the checkpoint of {when} recorded: the chain was rebuilt or rolled back",
        )
    return report


@dataclass(frozen=True)
class AuditQuery:
    """Which entries `audit log` shows: all filters must hold; newest first, `limit` at most, before seq `before`."""

    subject_id: str | None = None
    actor: str | None = None
    since: datetime | None = None
    action: str | None = None  # an action (`request.open`) or a family (`request`)
    limit: int = 50
    before: int | None = None
