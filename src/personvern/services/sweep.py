"""The retention sweep: plan what is due from the index, then archive or erase it (Art. 5(1)(e), 17(1)(a))."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.erasure import ErasureCause
from personvern.domain.errors import PersonvernError, invalid
from personvern.domain.retention import Action, Schedule, schedule_for
from personvern.services import sealed
from personvern.services.context import Context, new_id
from personvern.services.erasure import archive_many, erase_many
from personvern.services.ports import Scheduled, UnitOfWork
from personvern.services.retention import refresh_stale, today

PAGE = 10_000  # due subjects read per index range scan
BATCH = 2000  # subjects per transaction: a few dozen statements per 500 of them, and one commit

# ---------------------------------------------------------------- the plan: what is due, from the index


@dataclass(frozen=True)
class Due:
    """A subject with data due on the day planned: all of it, or the fields outside a hold."""

    subject_id: str
    kind: str
    step: Action  # what is done now: the schedule's action, or erasure of the fields outside a hold
    rule: str  # the reason whose end made it due ("none": nothing ever kept it)
    since: date
    fields: tuple[str, ...]  # the fields due (of those the policy declares for the kind)
    held: tuple[str, ...]  # fields kept under a legal obligation (Art. 17(3)(b))
    held_until: date | None
    then: Action  # what happens once nothing holds it any more (archive or erase)

    @property
    def partial(self) -> bool:
        return bool(self.held)


def _due(ctx: Context, item: Scheduled, day: date, stored: set[str] | None = None) -> Due:
    """What is due of one subject; `stored`: the fields it holds (default: every field declared for its kind)."""
    sch = item.schedule
    assert sch is not None and sch.retain_until is not None
    declared = tuple(ctx.policy.fields_for(item.kind)) if item.kind in ctx.policy.kinds else ()
    present = tuple(f for f in declared if stored is None or f in stored)
    held = tuple(f for f in present if sch.held_on(day) and f in (sch.hold_fields or ()))
    if held:
        # Kept for a law, the rest goes: erasing (not archiving) keeps the held fields restricted in place.
        rest = tuple(f for f in present if f not in held)
        return Due(
            item.subject_id, item.kind, Action.ERASE, sch.rule, sch.retain_until, rest, held, sch.hold_until, sch.action
        )
    return Due(item.subject_id, item.kind, sch.action, sch.rule, sch.retain_until, present, (), None, sch.action)


def plan(
    ctx: Context, page: int = PAGE, after: tuple[date, str] | None = None, limit: int | None = None
) -> Iterator[Due]:
    """Every subject with data due today, oldest first: a range scan on the retain_until index, never a walk.

    Schedules never computed (an upgraded register, a new policy version) are computed first. `after` (the
    key of the last one seen: its day and id) and `limit` give one page of it.
    """
    ctx.actor.require(Permission.RETENTION_RUN)
    if limit is not None and limit < 1:
        raise invalid("limit", "must be at least 1")
    refresh_stale(ctx)
    day = today(ctx)
    total = 0
    while limit is None or total < limit:
        size = page if limit is None else min(page, limit - total)
        with ctx.uow() as uow:
            items = uow.retention.due(day, after, size)
            stored = uow.retention.stored_fields([i.subject_id for i in items])
        for item in items:
            yield _due(ctx, item, day, stored.get(item.subject_id, set()))
        total += len(items)
        if len(items) < size:
            break
        last = items[-1]
        assert last.schedule is not None and last.schedule.retain_until is not None
        after = (last.schedule.retain_until, last.subject_id)
    with ctx.uow() as uow:
        ctx.record(uow, AuditEvent("retention.plan", None, None, {"day": day.isoformat(), "due": total}))
        uow.commit()


def count_due(ctx: Context) -> int:
    """How many subjects have data due today (the plan's length, counted on the index)."""
    ctx.actor.require(Permission.RETENTION_RUN)
    refresh_stale(ctx)
    with ctx.uow() as uow:
        return uow.retention.count_due(today(ctx))


# ---------------------------------------------------------------- the run: archive or erase what is due


# ---------------------------------------------------------------- what the worker may do on its own


@dataclass(frozen=True)
class Unattended:
    """Whether the worker's daily sweep may archive or erase today's due subjects on its own, and if not, why.

    The policy's `[unattended]` limit: at most `max_percent` of the register (rounded up) and `max_subjects` a
    day. Above it, or before the CEO has ever run `retention run` on the register, the worker does nothing
    and says so on every pass until the CEO, having looked at the plan, runs it (the run is the confirmation).
    Read by the worker, and by anything that shows the register's state (`unattended`, below).
    """

    day: date
    due: int  # subjects due today
    register: int  # subjects in the register
    allowed: int  # the most the worker may archive or erase on its own today
    confirmed: bool  # the CEO has run `retention run` on this register at least once
    swept: bool  # a sweep finished today already: nothing is left to wait for
    max_percent: float
    max_subjects: int

    @property
    def waiting(self) -> bool:
        return not self.swept and self.due > 0 and (not self.confirmed or self.due > self.allowed)

    @property
    def reason(self) -> str | None:
        """Why the worker waits, in words; None when it does not."""
        if not self.waiting:
            return None
        if self.due > self.allowed:
            return (
                f"{self.due} subject(s) are due on {self.day.isoformat()}, more than the {self.allowed} the worker "
                f"may archive or erase on its own in a day ({self.max_percent:g} % of the {self.register} in the "
                f"register, at most {self.max_subjects}: the policy's [unattended])"
            )
        return (
            f"{self.due} subject(s) are due on {self.day.isoformat()}, and no sweep of this register has been "
            "confirmed yet (the first is always the CEO's)"
        )

    def message(self) -> str:
        """The line the worker prints on every pass while it waits."""
        return (
            f"retention sweep waiting for the CEO: {self.reason}; nothing was archived or erased. Look at "
            "`personvern retention plan`, then run `personvern retention run` to carry it out"
        )

    def as_record(self) -> dict[str, object]:
        return {
            "day": self.day,
            "due": self.due,
            "register": self.register,
            "allowed": self.allowed,
            "max_percent": self.max_percent,
            "max_subjects": self.max_subjects,
            "confirmed": self.confirmed,
            "swept": self.swept,
            "waiting": self.waiting,
            "reason": self.reason,
        }


def _unattended(ctx: Context, day: date) -> Unattended:
    with ctx.uow() as uow:
        due = uow.retention.count_due(day)
        register = uow.subjects.count(None, None)
        confirmed = uow.retention.confirmed()
        last = uow.retention.last_sweep()
    limit = ctx.policy.unattended
    swept = last is not None and last[0] >= day and last[1] is not None
    return Unattended(
        day, due, register, limit.allowed(register), confirmed, swept, limit.max_percent, limit.max_subjects
    )


def unattended(ctx: Context) -> Unattended:
    """Whether the worker's sweep would carry out today's retention on its own, or waits for the CEO, and why.

    For the worker's output and for a dashboard; it changes nothing but schedules never computed (a new
    policy version), which every plan computes first too.
    """
    ctx.actor.require(Permission.RETENTION_RUN)
    refresh_stale(ctx)
    return _unattended(ctx, today(ctx))


@dataclass
class RunResult:
    day: date
    due: int = 0  # due when the run started
    archived: int = 0
    erased: int = 0
    held: int = 0  # erased but for fields a law requires, kept restricted until the hold ends
    skipped: int = 0  # no longer due when its turn came (its facts changed meanwhile)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (subject id, what went wrong)
    # Sealed parts past the policy's time (services/sealed.py): dead outbox rows' personal parts, and the
    # identities of answered requests that matched nobody; deletions the CEO must now do by hand (row ids).
    outbox_forgotten: int = 0
    requests_forgotten: int = 0
    answers_forgotten: int = 0
    by_hand: list[str] = field(default_factory=list)
    waiting: Unattended | None = None  # an unattended sweep that did nothing: it waits for the CEO, and why

    @property
    def done(self) -> int:
        return self.archived + self.erased + self.held


def _act(ctx: Context, uow: UnitOfWork, ids: list[str], day: date, cause: ErasureCause, result: RunResult) -> None:
    """Carry out the due step of these subjects inside the caller's transaction, for those still due.

    The schedule is computed again from the facts first: a change that reached a subject by a path that
    did not refresh it (an open request, say) must never be overtaken by an older schedule. The facts are
    read once for the lot, before any of it leaves the register, and the lot is archived and erased in bulk
    (Art. 5(1)(e), 17(1)(a)): a few dozen statements per 500 subjects, not a score per subject.
    """
    # Locked first: a concurrent change to one of them waits for this batch, and a second sweep that reached
    # the same batch finds them gone when its turn comes, instead of archiving or erasing them again.
    facts = uow.retention.facts(uow.subjects.lock(ids))
    computed_on = today(ctx)
    reasons: dict[str, str] = {}
    erase: list[str] = []
    kept: dict[str, Schedule] = {}
    for sid in ids:
        found = facts.get(sid)
        if found is None:  # gone meanwhile (erased at the person's request, say)
            result.skipped += 1
            continue
        schedule = schedule_for(ctx.policy, found, computed_on)
        if not schedule.due_on(day):
            kept[sid] = schedule
            result.skipped += 1
            continue
        # While a hold keeps some of the fields, the rest is erased now (and the held part archived later).
        held = schedule.held_on(day)
        step = _due(ctx, Scheduled(sid, found.kind, schedule), day).step if held else schedule.action
        if step is Action.ARCHIVE:
            assert schedule.retain_until is not None  # due_on() says so
            reasons[sid] = f"retention rule {schedule.rule} ended on {schedule.retain_until.isoformat()}"
        else:
            erase.append(sid)
    # What is no longer due keeps the schedule its facts give; the rest leaves the register, or is scheduled
    # again by the erasure when a law keeps some of it.
    uow.retention.save(kept, ctx.clock.now())
    archive_many(ctx, uow, reasons)
    result.archived += len(reasons)
    # Erasure decides itself what a law still requires (Art. 17(3)(b)); whatever it kept is then scheduled
    # to go when that hold ends.
    for receipt in erase_many(ctx, uow, erase, cause=cause, facts=facts):
        if receipt.held_until is not None:
            result.held += 1
        else:
            result.erased += 1


def run_batch(ctx: Context, ids: list[str], day: date, cause: ErasureCause, result: RunResult) -> None:
    """One transaction for the batch; if any subject fails, the batch is redone one subject per transaction.

    Either way each subject is done whole or not at all, so a run killed at any point and started again
    ends where one uninterrupted run would: what was committed is no longer due, the rest still is.
    """
    trial = RunResult(day)
    try:
        with ctx.uow() as uow:
            _act(ctx, uow, ids, day, cause, trial)
            uow.commit()
    except PersonvernError:
        for sid in ids:
            single = RunResult(day)
            try:
                with ctx.uow() as uow:
                    _act(ctx, uow, [sid], day, cause, single)
                    uow.commit()
            except PersonvernError as exc:
                result.failed.append((sid, str(exc)))
                continue
            _merge(result, single)
        return
    _merge(result, trial)


def _merge(into: RunResult, part: RunResult) -> None:
    into.archived += part.archived
    into.erased += part.erased
    into.held += part.held
    into.skipped += part.skipped
    into.failed.extend(part.failed)


def run(
    ctx: Context,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
    start: Callable[[int], None] | None = None,
    cause: ErasureCause = ErasureCause.RETENTION,
    unattended: bool = False,
) -> RunResult:
    """Archive or erase every subject due today (Art. 5(1)(e), 17(1)(a)), in batches, resumable after a kill;
    then destroy the sealed parts whose time is over (services/sealed.py).

    `unattended`: the worker's daily sweep, which carries out no more than the policy's `[unattended]` limit
    and nothing before the CEO has confirmed a sweep; otherwise it does nothing to the register and says why
    (`RunResult.waiting`). Any other run is the CEO's, and is that confirmation.
    """
    ctx.actor.require(Permission.RETENTION_RUN)
    if batch < 1:
        raise invalid("batch", "must be at least 1")
    refresh_stale(ctx)
    day = today(ctx)
    if unattended:
        state = _unattended(ctx, day)
        if state.waiting:
            return _hold(ctx, state)
    sweep_id = new_id()
    with ctx.uow() as uow:
        result = RunResult(day, uow.retention.count_due(day))
        uow.retention.sweep_started(sweep_id, day, ctx.clock.now(), confirmed=not unattended, due=result.due)
        uow.commit()
    if start is not None:
        start(result.due)
    after: tuple[date, str] | None = None
    while True:
        with ctx.uow() as uow:
            keys = uow.retention.due_keys(day, after, batch)  # run_batch decides each one again from its facts
        if not keys:
            break
        run_batch(ctx, [sid for _until, sid in keys], day, cause, result)
        if progress is not None:
            progress(len(keys))
        after = keys[-1]
    parts = sealed.forget(ctx)
    result.outbox_forgotten, result.requests_forgotten, result.by_hand = parts.outbox, parts.requests, parts.by_hand
    result.answers_forgotten = parts.answers
    with ctx.uow() as uow:
        uow.retention.sweep_finished(
            sweep_id, ctx.clock.now(), result.archived, result.erased + result.held, len(result.failed)
        )
        ctx.record(
            uow,
            AuditEvent(
                "retention.run",
                None,
                None,
                {
                    "day": day.isoformat(),
                    "archived": result.archived,
                    "erased": result.erased,
                    "held": result.held,
                    "skipped": result.skipped,
                    "failed": [sid for sid, _why in result.failed],
                    "outbox_forgotten": result.outbox_forgotten,
                    "requests_forgotten": result.requests_forgotten,
                    "answers_forgotten": result.answers_forgotten,
                },
            ),
        )
        uow.commit()
    return result


def _hold(ctx: Context, state: Unattended) -> RunResult:
    """The worker waits for the CEO: recorded (and audited) once a day, said on every pass.

    What is not a person in the register still goes on time: the sealed parts past the policy's time (a dead
    row's personal part, a stranger's identity) are forgotten once a day as on any sweep.
    """
    result = RunResult(state.day, state.due, waiting=state)
    with ctx.uow() as uow:
        if uow.retention.held_on(state.day):
            return result
        uow.retention.sweep_held(new_id(), state.day, ctx.clock.now(), state.due, state.allowed)
        details = {"day": state.day.isoformat(), "due": state.due, "allowed": state.allowed}
        ctx.record(uow, AuditEvent("retention.held", None, None, details | {"confirmed": state.confirmed}))
        uow.commit()
    parts = sealed.forget(ctx)
    result.outbox_forgotten, result.requests_forgotten, result.by_hand = parts.outbox, parts.requests, parts.by_hand
    return result


def swept_today(ctx: Context) -> bool:
    """Whether a sweep finished on the controller's day today (the worker sweeps once a day)."""
    with ctx.uow() as uow:
        last = uow.retention.last_sweep()
    return last is not None and last[0] >= today(ctx) and last[1] is not None
