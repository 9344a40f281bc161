"""Backups as use cases: who may make and restore one, their audit entries, and erasing again after a restore.

A restored backup holds everyone erased since it was made. Art. 17 does not end at a restore, so every erasure
the erasure journal names whose receipt the restored database does not hold is carried out again, through the
same erasure service (its holds, processors and receipts), before the register is used (the journal's rules
of confirmation: store/erasure_journal.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from personvern.domain import requests as rq
from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.erasure import ErasureCause
from personvern.services.context import Context
from personvern.services.erasure import erase_many
from personvern.services.ports import JournaledErasure

# Backups hold the whole register and a restore replaces it: the CEO's alone, as rotating the master key is.
PERMISSION = Permission.KEYS_MANAGE


def may_back_up(ctx: Context) -> None:
    ctx.actor.require(PERMISSION)


def record_backup(ctx: Context, details: Mapping[str, Any]) -> None:
    """`backup.create` in the audit chain: when, which revision and audit head, how large; never a value."""
    ctx.actor.require(PERMISSION)
    with ctx.uow() as uow:
        ctx.record(uow, AuditEvent("backup.create", None, None, dict(details)))
        uow.commit()


@dataclass(frozen=True)
class Replay:
    """What erasing again after a restore did, in counts and subject ids (never a value)."""

    erased: list[str] = field(default_factory=list)  # subjects erased again
    in_backup: int = 0  # journal entries whose erasure the backup already holds (its receipt is there)
    not_in_backup: int = 0  # erased people the backup never held (added after it was made)
    rolled_back: int = 0  # entries never marked committed whose receipt the replaced database did not hold
    unconfirmed: int = 0  # entries never marked committed, replayed as the replaced database could not be read
    requests_settled: list[str] = field(default_factory=list)  # erasure requests open in the backup, fulfilled since


def replay_erasures(
    ctx: Context,
    entries: Sequence[JournaledErasure],
    restored_receipts: set[str],
    live_receipts: set[str] | None,
    details: Mapping[str, Any],
) -> Replay:
    """Erase again everyone the journal names whose erasure the restored database lacks; one transaction.

    `restored_receipts`: the receipts in the restored database; `live_receipts`: those of the database it
    replaced, None when that could not be read. `details`: the backup's manifest facts, for the audit entry.
    """
    ctx.actor.require(PERMISSION)
    in_backup = rolled_back = unconfirmed = 0
    wanted: dict[str, str] = {}  # subject id -> cause of their first erasure not in the backup
    answered: list[JournaledErasure] = []  # erasures by request not in the backup: their requests are settled
    for entry in entries:
        if entry.receipt_id in restored_receipts:
            in_backup += 1
            continue
        if not entry.confirmed:
            if live_receipts is not None and entry.receipt_id not in live_receipts:
                rolled_back += 1  # its transaction rolled back: nobody was erased
                continue
            if live_receipts is None:
                unconfirmed += 1
        wanted.setdefault(entry.subject_id, entry.cause)
        if entry.request_id is not None:
            answered.append(entry)
    with ctx.uow() as uow:
        ids = list(wanted)
        present = set(uow.retention.facts(ids)) | set(uow.archive.for_subjects(ids)) if ids else set()
        by_cause: dict[ErasureCause, list[str]] = {}
        for sid in ids:
            if sid in present:
                by_cause.setdefault(_cause(wanted[sid]), []).append(sid)
        erased: list[str] = []
        for cause, group in by_cause.items():
            erase_many(ctx, uow, group, cause=cause)
            erased.extend(group)
        settled: list[str] = []
        for entry in answered:
            # Open in the backup, fulfilled after it: the letter went out then; closed now as it was, not again.
            request = uow.requests.get(entry.request_id or "", lock=True)
            if request is not None and request.open:
                uow.requests.save(rq.settled_by_journal(request, entry.erased_at, ctx.actor.name, entry.receipt_id))
                settled.append(request.id)
        replay = Replay(erased, in_backup, len(ids) - len(erased), rolled_back, unconfirmed, settled)
        event = {
            **details,
            "erased_again": len(replay.erased),
            "journal_in_backup": replay.in_backup,
            "journal_not_in_backup": replay.not_in_backup,
            "journal_rolled_back": replay.rolled_back,
            "journal_unconfirmed_replayed": replay.unconfirmed,
            "requests_settled": replay.requests_settled,
        }
        ctx.record(uow, AuditEvent("backup.restore", None, None, event))
        uow.commit()
    return replay


def _cause(text: str) -> ErasureCause:
    try:
        return ErasureCause(text)
    except ValueError:
        return ErasureCause.REQUEST  # a cause a newer version wrote: erased all the same
