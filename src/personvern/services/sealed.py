"""Sealed parts that outlive their use end on the policy's day: dead outbox rows' personal parts, strangers'
identities, answers' files.

Every personal value has an end (Art. 5(1)(e)). A row the worker gave up on keeps what it was to send only so
that `outbox retry` can still send it; a request from someone we hold nothing about keeps how they identified
themselves only while they may complain of the answer; an answer's files are kept only while they may be
fetched. The retention run (and so the worker's daily sweep) destroys each once the policy's time is over;
`retention plan` lists them first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.outbox import OutboxRow
from personvern.domain.retention import local_day
from personvern.domain.sealed import (
    ANSWER_KEPT,
    ANSWERED,
    DELETIONS,
    FORGOTTEN,
    End,
    answer_end,
    describe_rule,
    undelivered_end,
    unmatched_end,
)
from personvern.services.context import Context
from personvern.services.ports import UnitOfWork


@dataclass(frozen=True)
class SealedDue:
    """A sealed part whose time is over: `what` is "outbox" (a dead row), "request" (a stranger's identity) or
    "answer" (an answer's files)."""

    what: str
    id: str
    kind: str  # the row's kind, or the request's type
    rule: str  # the policy rule that ended it, e.g. "undelivered.keep_deletion"
    since: date  # the controller's day it became due
    by_hand: str | None = None  # what is left for the CEO to do once it is gone (a deletion never delivered)


def _recipient(ctx: Context, row: OutboxRow) -> str:
    key = DELETIONS.get(row.kind, row.kind)
    found = ctx.policy.recipients.get(key)
    return found.name if found is not None else key


def by_hand(ctx: Context, row: OutboxRow) -> str | None:
    """For a processor deletion that was never delivered: what the CEO must do in the processor's own tool.

    Art. 17(2), 19: the processor must still be told; without the address the worker can no longer do it.
    """
    if row.kind not in DELETIONS:
        return None
    ids = [str(i) for i in row.public.get("hubspot_ids") or []]
    who = _recipient(ctx, row)
    if ids:
        return f"{who} was never told to delete this contact: delete it there by hand (its ids there: {', '.join(ids)})"
    return (
        f"{who} was never told to delete this contact: delete it there by hand before the address is forgotten "
        "(no id there is known to find it by afterwards)"
    )


def _subject(row: OutboxRow) -> str | None:
    linked = row.subject_id or row.public.get("subject")
    return linked if isinstance(linked, str) else None


def _due(ctx: Context, uow: UnitOfWork, now: datetime) -> tuple[list[SealedDue], dict[str, OutboxRow]]:
    items: list[SealedDue] = []
    rows: dict[str, OutboxRow] = {}
    for row in uow.outbox.dead_with_personal():
        end = undelivered_end(ctx.policy, row)
        if end is not None and end.at <= now:
            items.append(
                SealedDue("outbox", row.id, row.kind, end.rule, local_day(end.at, ctx.policy), by_hand(ctx, row))
            )
            rows[row.id] = row
    for request in uow.requests.unmatched_with_identity(ANSWERED):
        ended = unmatched_end(ctx.policy, request)
        if ended is not None and ended.at <= now:
            items.append(
                SealedDue("request", request.id, request.type.value, ended.rule, local_day(ended.at, ctx.policy))
            )
    for request in uow.requests.answers_kept(ctx.policy.requests.keep_answer.before(now)):
        kept = answer_end(ctx.policy, request)
        if kept is not None and kept.at <= now:
            items.append(SealedDue("answer", request.id, request.type.value, kept.rule, local_day(kept.at, ctx.policy)))
    return items, rows


def plan(ctx: Context) -> list[SealedDue]:
    """The sealed parts whose time is over now (a dry run of `forget`): dead rows, requests' identities, answers."""
    ctx.actor.require(Permission.RETENTION_RUN)
    with ctx.uow() as uow:
        items, _rows = _due(ctx, uow, ctx.clock.now())
    return items


def ends_of_dead(ctx: Context, uow: UnitOfWork) -> dict[str, End]:
    """When each dead row still holding its personal part loses it (for `outbox list`)."""
    out: dict[str, End] = {}
    for row in uow.outbox.dead_with_personal():
        end = undelivered_end(ctx.policy, row)
        if end is not None:
            out[row.id] = end
    return out


@dataclass
class Forgotten:
    outbox: int = 0  # dead rows whose personal part was destroyed
    requests: int = 0  # answered requests that matched nobody, whose identity was destroyed
    answers: int = 0  # answers whose files were destroyed
    by_hand: list[str] = field(default_factory=list)  # ids of deletion rows left for the CEO to do by hand


def forget(ctx: Context) -> Forgotten:
    """Destroy every sealed part whose time is over, with its key, in one transaction; each in the audit log."""
    ctx.actor.require(Permission.RETENTION_RUN)
    now = ctx.clock.now()
    day = local_day(now, ctx.policy).isoformat()
    result = Forgotten()
    with ctx.uow() as uow:
        items, rows = _due(ctx, uow, now)
        notes: dict[str, str] = {}
        for item in items:
            if item.what != "outbox":
                continue
            why = f"personal part forgotten on {day} (policy {describe_rule(ctx.policy, item.rule)})"
            before = rows[item.id].last_error
            note = why if item.by_hand is None else f"to do by hand: {item.by_hand}; {why}"
            notes[item.id] = note + (f"; it had failed: {before}" if before else "")
        done = set(uow.outbox.forget_dead(notes, {FORGOTTEN: day}))
        events: list[AuditEvent] = []
        for item in items:
            if item.what == "outbox" and item.id in done:
                row = rows[item.id]
                details = {"row": item.id, "kind": item.kind, "rule": item.rule}
                events.append(AuditEvent("outbox.forget", _subject(row), None, details))
                result.outbox += 1
                if item.by_hand is not None:
                    result.by_hand.append(item.id)
            elif item.what == "request":
                uow.requests.forget_personal(item.id)
                events.append(AuditEvent("request.forget", None, None, {"request": item.id, "rule": item.rule}))
                result.requests += 1
            elif item.what == "answer":
                events.append(_forget_answer(uow, item, day))
                result.answers += 1
        if events:
            ctx.record(uow, *events)
        uow.commit()
    return result


def _forget_answer(uow: UnitOfWork, item: SealedDue, day: str) -> AuditEvent:
    """The answer's files go; the outcome keeps their sha256, and says from when they can no longer be fetched."""
    uow.requests.forget_answer(item.id)
    request = uow.requests.get(item.id, lock=True)
    assert request is not None
    outcome = {k: v for k, v in request.outcome.items() if k != ANSWER_KEPT} | {"answer_forgotten_on": day}
    uow.requests.save(replace(request, outcome=outcome))
    return AuditEvent("request.forget_answer", request.subject_id, None, {"request": item.id, "rule": item.rule})
