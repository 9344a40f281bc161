"""`personvern outbox …` and `personvern worker`: the queue of side effects, and the process that delivers it."""

from __future__ import annotations

import re
import signal
import sys
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.bootstrap import build_worker, demo_sink_kinds, http_client
from personvern.cli.common import Env, command
from personvern.cli.layout import Column, print_rows
from personvern.connectors.sink import announcement
from personvern.connectors.wake import waiter
from personvern.connectors.worker import Tally
from personvern.domain.errors import invalid
from personvern.domain.outbox import OutboxRow
from personvern.services import outbox

outbox_app = typer.Typer(help="The outbox: SMS and other side effects waiting for delivery.", no_args_is_help=True)


def row_json(row: OutboxRow, listing: outbox.OutboxListing | None = None) -> dict[str, Any]:
    """A row as anyone with outbox access may see it: ids, state and errors, never the personal part.

    A dead row still holding its personal part says until when (the policy's [undelivered] time), and, for a
    processor deletion, what must be done by hand if it is not retried by then.
    """
    extra: dict[str, Any] = {}
    if listing is not None:
        extra = {"personal_until": listing.personal_until.get(row.id), "by_hand": listing.by_hand.get(row.id)}
    return {
        **extra,
        "id": row.id,
        "kind": row.kind,
        "subject_id": row.subject_id,
        "state": row.state.value,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
        "payload": dict(row.public),
        "result": dict(row.result) if row.result else None,
    }


@command(outbox_app, "list")
def list_(
    env: Env,
    dead: Annotated[bool, typer.Option("--dead", help="Only the dead rows (given up on).")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Delivered rows too.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 100,
) -> None:
    """Rows waiting or given up on (pending and dead), oldest first; with the reason each is waiting."""
    if not 1 <= limit <= 10_000:
        raise invalid("limit", "must be between 1 and 10000")
    listing = outbox.list_outbox(env.runtime().context(), dead_only=dead, everything=all_, limit=limit)

    def human(c: Console) -> None:
        columns = ("id", "kind", "state", "attempts", "next attempt", Column("last error", wrap=True))
        rows = [
            (
                r.id,
                r.kind,
                r.state.value,
                r.attempts,
                "" if r.state.value != "pending" else r.next_attempt_at.isoformat(timespec="seconds"),
                r.last_error,
            )
            for r in listing.rows
        ]
        print_rows(c, columns, rows, title=f"{len(listing.rows)} of {listing.total} outbox rows")
        for row_id, until in listing.personal_until.items():
            # The policy's [undelivered] time: until then `outbox retry` can still send it; then it is forgotten.
            then = listing.by_hand.get(row_id, "it can no longer be retried")
            c.print(
                f"{row_id}: personal part kept until {until.isoformat(timespec='minutes')} for a retry; then {then}",
                markup=False,
                soft_wrap=True,
            )

    env.emit({"total": listing.total, "rows": [row_json(r, listing) for r in listing.rows]}, human)


@command(outbox_app, "retry")
def retry(env: Env, row_id: Annotated[str, typer.Argument(help="The dead row's id.")]) -> None:
    """Put a dead row back in the queue, with a fresh count of attempts (once its cause is fixed)."""
    row = outbox.retry_dead(env.runtime().context(), row_id)
    env.emit(row_json(row), lambda c: c.print(f"outbox row {row.id} is pending again; `personvern worker` sends it"))


def _tally_json(tally: Tally) -> dict[str, Any]:
    return {
        "delivered": tally.delivered,
        "retrying": tally.retrying,
        "dead": tally.dead,
        "waiting": tally.waiting,
        "skipped": tally.skipped,
        "cancelled": tally.cancelled,
        "pending": tally.pending,
        "next_attempt_at": tally.next_attempt_at,
        "texts_dropped": tally.texts_dropped,
        "errors": tally.errors,
        "retention_swept": tally.swept,
        "retention_waiting": tally.retention_waiting.as_record() if tally.retention_waiting else None,
        "reminders": tally.reminders,
        "audit_checkpoint": tally.audit_checkpoint,
        "reconciled": tally.reconciled,
    }


def _left(tally: Tally) -> str:
    """What is still pending after the pass, and when the worker will look again."""
    if not tally.pending:
        return "; nothing pending"
    rows = "row" if tally.pending == 1 else "rows"
    line = f"; {tally.pending} {rows} still pending"
    if tally.next_attempt_at is not None:
        line += f", the next due at {tally.next_attempt_at.isoformat()}"
    if tally.waiting:
        line += f"; the {tally.waiting} waiting are tried again on the next pass"
    return line


_NEXT_DUE = re.compile(r", the next due at [^;\n]*")


def _summary(tally: Tally) -> str:
    line = f"delivered {tally.delivered}, retrying {tally.retrying}, dead {tally.dead}, waiting {tally.waiting}"
    if tally.cancelled:
        line += f", cancelled {tally.cancelled} (no longer allowed; see `outbox list --dead`)"
    line += _left(tally)
    if tally.texts_dropped:
        line += f"; forgot the text of {tally.texts_dropped} old messages"
    if tally.swept:
        line += f"; retention sweep archived or erased {tally.swept} subjects"
    if tally.retention_waiting is not None:
        line += f"\n{tally.retention_waiting.message()}"
    if tally.audit_checkpoint:
        line += f"\naudit checkpoint: {tally.audit_checkpoint}"
    if tally.reconciled:
        line += f"\n{tally.reconciled}"
    return line + "".join(f"\n  {e}" for e in tally.errors) + "".join(f"\nreminder: {r}" for r in tally.reminders)


class _Stop:
    """SIGTERM ends the loop between passes (a pass in progress finishes; its rows stay consistent either way)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def worker(
    env: Env,
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds to wait when nothing is due.")] = 5.0,
) -> None:
    """Deliver the outbox (SMS through LINK Mobility, HubSpot shares, updates and deletions) with retries and
    back-off; once a day it also runs the retention sweep, reminds of an unsigned annual review, and checkpoints
    the audit chain's head (signed, beside the master key, and printed)."""
    if not 0.1 <= interval <= 3600:
        raise invalid("interval", "must be between 0.1 and 3600 seconds")
    runtime = env.runtime()
    with http_client() as client:
        stop = _Stop()
        delivery = build_worker(runtime, client, stopping=lambda: stop.requested)
        sunk = demo_sink_kinds()
        if sunk:
            # Never silently: whoever runs it must know that no code reaches a phone or an inbox.
            print(announcement(sunk), file=sys.stderr if env.json else sys.stdout, flush=True)
        if once:
            tally = delivery.run_once()
            env.emit(_tally_json(tally), lambda c: c.print(_summary(tally), markup=False))
            return
        signal.signal(signal.SIGTERM, stop)
        # Woken the moment a row is queued (a one-time code), else it looks again after `interval`.
        alarm = waiter(runtime.settings)
        total = Tally()
        said = ""
        try:
            while not stop.requested:
                tally = delivery.run_once()
                total.add(tally)
                summary = _summary(tally)
                # Rows that only wait (no credentials) are looked at on every pass: said once, not every time. So is
                # a sweep waiting for the CEO: every pass finds it again, the output says it once per change.
                worth = tally.handled or tally.audit_checkpoint or tally.retention_waiting or tally.reconciled
                # The next due time moves on every pass while rows only wait: it does not make a pass worth telling.
                gist = _NEXT_DUE.sub("", summary)
                if worth and gist != said and not env.json:
                    print(summary, flush=True)
                    said = gist
                if not tally.progressed:
                    # The one real sleep: rules never read the wall clock, only this loop waits on it.
                    alarm.wait(interval)
        except KeyboardInterrupt:
            pass
        finally:
            alarm.close()
        if env.json:
            env.emit(_tally_json(total), lambda c: None)
        else:
            print("worker stopped", file=sys.stderr)
