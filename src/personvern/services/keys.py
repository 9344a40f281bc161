"""The key store's upkeep as use cases: the orphan-key sweep (`personvern keys sweep`, and the worker's day) and the
audit of a master-key rotation (`personvern keys rotate`; the re-wrapping itself is the store's, store/rotation.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.services.context import Context

# Rotating the master key is keeping the keys safe (Art. 32(1)): the CEO's, as backups are.
ROTATE = Permission.KEYS_MANAGE

# Deleting keys whose data is gone is storage limitation's upkeep (Art. 5(1)(e)), as the retention sweep is.
PERMISSION = Permission.RETENTION_RUN


@dataclass(frozen=True)
class KeySweep:
    orphans: int  # keys deleted: their owner (subject, outbox row, request, web request, archive record) was gone
    keyless: int  # subjects without a key: unreadable, erased in effect (a crash between the two stores' commits)


def sweep(ctx: Context) -> KeySweep:
    """Delete every key no owner holds any more, count the subjects left without one; audited (`keys.sweep`,
    counts only), in one transaction."""
    ctx.actor.require(PERMISSION)
    with ctx.uow() as uow:
        result = KeySweep(uow.keys.sweep_orphans(), uow.keys.keyless_subjects())
        details = {"orphans_deleted": result.orphans, "subjects_without_key": result.keyless}
        ctx.record(uow, AuditEvent("keys.sweep", None, None, details))
        uow.commit()
    return result


def record_rotation(ctx: Context, details: Mapping[str, Any]) -> None:
    """The rotation in the audit chain (`keys.rotated`): key ids, counts and times only."""
    ctx.actor.require(ROTATE)
    with ctx.uow() as uow:
        ctx.record(uow, AuditEvent("keys.rotated", None, None, dict(details)))
        uow.commit()
