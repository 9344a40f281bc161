"""The demo sink's use cases: keep what would have been sent (SMS, e-mail) instead of sending it, and list it."""

from __future__ import annotations

from datetime import timedelta

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.services.context import Context, new_id
from personvern.services.ports import DemoMessage

# The messages are personal data (a visitor's address, a code) in a demo database: kept long enough to walk
# through a demo, then dropped (Art. 5(1)(e)), on every write, and never shown once older.
KEEP = timedelta(days=7)
SHOWN = 200


def record(
    ctx: Context, outbox_id: str, kind: str, destination: str, subject_line: str | None, body: str
) -> DemoMessage:
    """Keep one message for the console's Demo messages page, dropping those older than a week first."""
    now = ctx.clock.now()
    message = DemoMessage(new_id(), outbox_id, kind, now, destination, subject_line, body)
    with ctx.uow() as uow:
        uow.demo_messages.delete_before(now - KEEP)
        uow.demo_messages.add(message)
        uow.commit()
    return message


def newest(ctx: Context, limit: int = SHOWN) -> list[DemoMessage]:
    """The messages of the last week, newest first; for those who see the outbox (the CEO and staff)."""
    ctx.actor.require(Permission.OUTBOX_READ)
    with ctx.uow() as uow:
        found = uow.demo_messages.newest(ctx.clock.now() - KEEP, limit)
        # Addresses and codes were read: who saw them, and when, is on record like any read (Art. 5(2)); a count
        # only, never a message.
        ctx.record(uow, AuditEvent("demo_messages.read", None, None, {"shown": len(found)}))
        uow.commit()
    return found
