"""Retention: keep each subject's schedule current, plan what is due, and archive or erase it (Art. 5(1)(e))."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime

from personvern.domain.consent import ConsentEvent
from personvern.domain.retention import Facts, Schedule, local_day, schedule_for
from personvern.domain.subjects import Subject
from personvern.services.context import Context
from personvern.services.ports import UnitOfWork

STALE_BATCH = 2000


def today(ctx: Context) -> date:
    """The controller's calendar day now: retention periods end on the controller's dates."""
    return local_day(ctx.clock.now(), ctx.policy)


def refresh(ctx: Context, uow: UnitOfWork, subject_ids: Collection[str], *, organisation: bool = False) -> None:
    """Recompute the retention schedule of these subjects inside the caller's transaction.

    Called by every use case that changes what a schedule depends on (relationships, consent, objections,
    restrictions, requests, erasure), so the stored `retain_until` is never older than the facts. Subjects of
    a business kind in the same organisation share its orders and contracts: `organisation=True` (a changed
    relationship or organisation) recomputes them too.
    """
    ids = set(subject_ids)
    if not ids:
        return
    if organisation:
        ids |= uow.retention.peers(ids)
    day = today(ctx)
    facts = uow.retention.facts(ids)
    uow.retention.save({sid: schedule_for(ctx.policy, f, day) for sid, f in facts.items()}, ctx.clock.now())


def new_schedules(ctx: Context, subjects: Sequence[Subject]) -> dict[str, Schedule]:
    """The schedules of subjects about to be added, stored with their rows (an import adds 5 000 at a time).

    A new subject has no relationship, consent, block or request of its own yet, so nothing is read:
    subjects of one kind received at one instant share one decision. A business subject whose organisation
    already has orders or contracts is corrected after the insert by `refresh_organisations`.
    """
    day = today(ctx)
    alike: dict[tuple[str, datetime], Schedule] = {}
    out: dict[str, Schedule] = {}
    for s in subjects:
        key = (s.kind, s.received_at)
        found = alike.get(key)
        if found is None:
            found = alike[key] = schedule_for(ctx.policy, Facts(s.kind, s.received_at, (), (), ()), day)
        out[s.id] = found
    return out


def refresh_organisations(
    ctx: Context,
    uow: UnitOfWork,
    subjects: Sequence[Subject],
    consents: Mapping[str, Sequence[ConsentEvent]] | None = None,
) -> None:
    """Business subjects just added to an organisation with orders or contracts: those count for them too.

    One query per few hundred business subjects; the others keep the schedule `new_schedules` gave them.
    `consents`: the ledger events just stored with them (an import's), which count as well.
    """
    business = [s for s in subjects if s.kind in ctx.policy.kinds and ctx.policy.kinds[s.kind].business]
    if not business:
        return
    organisation = uow.retention.organisation_relationships([s.id for s in business])
    day = today(ctx)
    given = consents or {}
    out = {
        s.id: schedule_for(ctx.policy, Facts(s.kind, s.received_at, rels, given.get(s.id, ()), ()), day)
        for s in business
        if (rels := organisation.get(s.id))
    }
    if out:
        uow.retention.save(out, ctx.clock.now())


def refresh_stale(ctx: Context, limit: int | None = None) -> int:
    """Compute the schedules never computed (an upgraded register, a new policy version), in batches."""
    done = 0
    while limit is None or done < limit:
        with ctx.uow() as uow:
            ids = uow.retention.stale(STALE_BATCH)
            if not ids:
                return done
            refresh(ctx, uow, ids)
            uow.commit()
        done += len(ids)
    return done
