"""/api/v1/retention: what is due for archiving or erasure today, and carrying it out (Art. 5(1)(e), 17)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from itertools import chain
from typing import cast

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.fields import key_of
from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, encode
from personvern.api.security import Ctx, Rt
from personvern.bootstrap import Runtime
from personvern.reports import spreadsheet
from personvern.services import sealed, sweep
from personvern.services.context import Context
from personvern.services.retention import refresh_stale, today
from personvern.services.sealed import SealedDue
from personvern.services.sweep import Due, RunResult

router = APIRouter(prefix="/retention", tags=["retention"])

CSV_COLUMNS = (
    "subject_id",
    "kind",
    "action",
    "rule",
    "since",
    "scope",
    "fields_due",
    "fields_held",
    "held_until",
    "then",
)


class DueOut(BaseModel):
    subject_id: str
    kind: str
    action: str = Field(description="archive or erase, now")
    rule: str = Field(description='The reason whose end made it due ("none": nothing ever kept it).')
    since: date
    scope: str = Field(description="all, or outside_hold: the fields a law keeps stay, restricted")
    fields_due: list[str]
    fields_held: list[str]
    held_until: date | None
    then: str

    @classmethod
    def of(cls, d: Due) -> DueOut:
        return cls(
            subject_id=d.subject_id,
            kind=d.kind,
            action=d.step.value,
            rule=d.rule,
            since=d.since,
            scope="outside_hold" if d.partial else "all",
            fields_due=list(d.fields),
            fields_held=list(d.held),
            held_until=d.held_until,
            then=d.then.value,
        )


class SealedOut(BaseModel):
    """A sealed part past the policy's time: a dead outbox row's personal part, a stranger's identity, an answer."""

    id: str
    kind: str = Field(description="The outbox row's kind, or the request's type.")
    rule: str
    since: date
    by_hand: str | None = None

    @classmethod
    def of(cls, p: SealedDue) -> SealedOut:
        return cls(id=p.id, kind=p.kind, rule=p.rule, since=p.since, by_hand=p.by_hand)


class UnattendedOut(BaseModel):
    """Whether the worker's nightly sweep carries today's plan out on its own, or waits for the CEO (issue 16)."""

    waiting: bool = Field(description="True: the worker does nothing until the CEO runs the plan (POST /run).")
    reason: str | None = Field(description="Why it waits, in words; null when it does not.")
    due: int
    in_register: int = Field(description="Subjects in the register.")
    allowed: int = Field(description="The most the worker may archive or erase on its own today.")
    confirmed: bool = Field(description="The CEO has run retention on this register at least once.")
    max_percent: float
    max_subjects: int

    @classmethod
    def of(cls, u: sweep.Unattended) -> UnattendedOut:
        return cls(
            waiting=u.waiting,
            reason=u.reason,
            due=u.due,
            in_register=u.register,
            allowed=u.allowed,
            confirmed=u.confirmed,
            max_percent=u.max_percent,
            max_subjects=u.max_subjects,
        )


class PlanPage(Page):
    day: date
    due: int = Field(description="Subjects with data due today, in all (this page holds `items` of them).")
    items: list[DueOut]
    outbox: list[SealedOut]
    requests: list[SealedOut]
    answers: list[SealedOut]
    unattended: UnattendedOut


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch: int = Field(sweep.BATCH, ge=1, le=10_000, description="Subjects per transaction.")


class FailedOut(BaseModel):
    subject_id: str
    error: str


class RunOut(BaseModel):
    day: date
    due: int
    archived: int
    erased: int
    erased_except_held: int
    skipped: int
    failed: list[FailedOut]
    outbox_personal_forgotten: int
    request_identities_forgotten: int
    answers_forgotten: int
    by_hand: list[str] = Field(description="Outbox rows (processor deletions never delivered) to do by hand.")

    @classmethod
    def of(cls, r: RunResult) -> RunOut:
        return cls(
            day=r.day,
            due=r.due,
            archived=r.archived,
            erased=r.erased,
            erased_except_held=r.held,
            skipped=r.skipped,
            failed=[FailedOut(subject_id=sid, error=why) for sid, why in r.failed],
            outbox_personal_forgotten=r.outbox_forgotten,
            request_identities_forgotten=r.requests_forgotten,
            answers_forgotten=r.answers_forgotten,
            by_hand=r.by_hand,
        )


def _preview(rt: Runtime, ctx: Context) -> None:
    """On a real register under a moved clock a plan may not write: stale schedules are computed first, now."""
    if rt.clock_moved:
        refresh_stale(replace(rt.present(), actor=ctx.actor))


@router.get("/plan", summary="Dry run: every subject with data due today, and the sealed parts past their time")
def plan(ctx: Ctx, rt: Rt, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> PlanPage:
    _preview(rt, ctx)
    after = cast(tuple[date, str] | None, key_of(cursor, date, str))
    found = list(sweep.plan(ctx, after=after, limit=limit + 1))
    page = found[:limit]
    last = page[-1] if len(found) > limit else None
    parts = sealed.plan(ctx)
    waits = sweep.unattended(ctx)  # it counts today's due subjects itself: its count is the page's `due`
    return PlanPage(
        day=waits.day,
        due=waits.due,
        items=[DueOut.of(d) for d in page],
        outbox=[SealedOut.of(p) for p in parts if p.what == "outbox"],
        requests=[SealedOut.of(p) for p in parts if p.what == "request"],
        answers=[SealedOut.of(p) for p in parts if p.what == "answer"],
        unattended=UnattendedOut.of(waits),
        next_cursor=encode([last.since.isoformat(), last.subject_id]) if last else None,
    )


def _csv_line(row: list[str] | tuple[str, ...]) -> str:
    out = io.StringIO()
    # The plan names people's ids and rules only, but every CSV personvern writes neutralises formulas (issue 16).
    spreadsheet.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


def _csv_rows(due: Iterator[Due]) -> Iterator[str]:
    yield _csv_line(CSV_COLUMNS)
    for d in due:
        yield _csv_line(
            [
                d.subject_id,
                d.kind,
                d.step.value,
                d.rule,
                d.since.isoformat(),
                "outside_hold" if d.partial else "all",
                " ".join(d.fields),
                " ".join(d.held),
                d.held_until.isoformat() if d.held_until else "",
                d.then.value,
            ]
        )


CSV = {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": f"One row per due subject; columns: {', '.join(CSV_COLUMNS)}",
}


@router.get(
    "/plan.csv",
    summary="The whole plan as CSV, one row per due subject",
    response_class=StreamingResponse,
    responses={200: CSV},
)
def plan_csv(ctx: Ctx, rt: Rt) -> StreamingResponse:
    _preview(rt, ctx)
    due = sweep.plan(ctx)
    # The first row is read here, so a refusal (the role) is an error answer, not a broken download.
    first = next(due, None)
    rows = chain([first] if first is not None else [], due)
    day = today(ctx).isoformat()
    headers = {"Content-Disposition": f'attachment; filename="retention-plan-{day}.csv"'}
    return StreamingResponse(_csv_rows(rows), media_type="text/csv; charset=utf-8", headers=headers)


@router.post("/run", summary="Archive or erase every subject due today, then forget the sealed parts past their time")
def run(ctx: Ctx, body: RunIn | None = None) -> RunOut:
    return RunOut.of(sweep.run(ctx, batch=(body or RunIn()).batch))
