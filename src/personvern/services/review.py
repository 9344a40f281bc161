"""The annual review: is there a legitimate reason to keep each record? Signed, frozen, and the rest removed.

The seed policy: "each year a review decides whether there is a legitimate reason to process all the
personal data, and other data is removed". The report holds record ids, kinds, rules and dates, never a
personal value, so it can be kept as long as the proof is needed (Art. 5(2)).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.erasure import ErasureCause
from personvern.domain.errors import Conflict, Forbidden, IntegrityBroken, NotFound, PersonvernError, invalid
from personvern.domain.retention import Action, local_day
from personvern.policy.schema import ExpiryAction, Policy
from personvern.services import cookies, public
from personvern.services.context import Context, new_id
from personvern.services.erasure import erase_subject
from personvern.services.ports import ArchivedEntry, ReviewRecord, Scheduled
from personvern.services.retention import refresh_stale, today
from personvern.services.sweep import RunResult, Unattended, run_batch, swept_today
from personvern.services.sweep import run as sweep_run

PAGE = 10_000
NONE = "none"
ARCHIVE_REASON = "archive"  # the policy archives surplus data of this kind for the CEO


@dataclass(frozen=True)
class ReviewRun:
    record: ReviewRecord
    report: dict[str, Any]


@dataclass(frozen=True)
class Signed:
    record: ReviewRecord
    removed: RunResult  # the subjects with no reason, archived or erased
    archive_erased: int  # archived records with no reason, erased
    failed: list[tuple[str, str]]


def canonical(report: dict[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hold_rule(policy: Policy, fields: frozenset[str] | None) -> str:
    """The retention rule that holds these fields (the schedule stores the fields and the end)."""
    for key, rule in policy.retention.items():
        if rule.fields is not None and frozenset(rule.fields) == fields:
            return key
    return "legal_hold"


def subject_entry(policy: Policy, item: Scheduled, day: date) -> dict[str, Any]:
    """Why the subject is kept on `day`: the reason that lasts longest, its end, and what it covers; or none."""
    sch = item.schedule
    assert sch is not None
    entry: dict[str, Any] = {"id": item.subject_id, "kind": item.kind}
    if not sch.due_on(day):
        until = sch.retain_until.isoformat() if sch.retain_until else None
        return entry | {"reason": sch.rule, "until": until, "scope": "all", "action": None}
    if sch.held_on(day):
        until = sch.hold_until.isoformat() if sch.hold_until else None
        fields = sorted(sch.hold_fields or ())
        return entry | {
            "reason": hold_rule(policy, sch.hold_fields),
            "until": until,
            "scope": fields,
            "action": Action.ERASE.value,
            "since": sch.retain_until.isoformat() if sch.retain_until else None,
        }
    return entry | {
        "reason": NONE,
        "until": None,
        "scope": "all",
        "action": sch.action.value,
        "since": sch.retain_until.isoformat() if sch.retain_until else None,
    }


def archived_entry(policy: Policy, record: ArchivedEntry) -> dict[str, Any]:
    kept = policy.archive.on_expiry.get(record.kind) is ExpiryAction.ARCHIVE
    return {
        "id": record.record_id,
        "subject_id": record.subject_id,
        "kind": record.kind,
        "archived_at": record.archived_at.isoformat(),
        "reason": ARCHIVE_REASON if kept else NONE,
        "action": None if kept else Action.ERASE.value,
    }


def _check_year(ctx: Context, year: int) -> date:
    day = today(ctx)
    if not 2000 <= year <= day.year:
        raise invalid("year", f"must be a year from 2000 to this year ({day.year}); a review looks back, not ahead")
    return day


def run_review(ctx: Context, year: int) -> ReviewRun:
    """List every subject and archived record with the reason that keeps it, or "none"; store it unsigned."""
    ctx.actor.require(Permission.REVIEW_SIGN)
    day = _check_year(ctx, year)
    refresh_stale(ctx)
    subjects: list[dict[str, Any]] = []
    archived: list[dict[str, Any]] = []
    with ctx.uow() as uow:
        after: str | None = None
        while page := uow.retention.page(after, PAGE):
            subjects += [subject_entry(ctx.policy, item, day) for item in page if item.schedule is not None]
            after = page[-1].subject_id
        after = None
        while records := uow.retention.archived_page(after, PAGE):
            archived += [archived_entry(ctx.policy, r) for r in records]
            after = records[-1].record_id
    now = ctx.clock.now()
    counts: dict[str, int] = {}
    for entry in subjects + archived:
        counts[entry["reason"]] = counts.get(entry["reason"], 0) + 1
    summary = {
        "subjects": len(subjects),
        "archived": len(archived),
        "without_reason": sum(1 for e in subjects + archived if e["reason"] == NONE),
        "by_reason": dict(sorted(counts.items())),
    }
    report = {
        "year": year,
        "day": day.isoformat(),
        "created_at": now.isoformat(),
        "created_by": ctx.actor.name,
        "policy_version": ctx.policy.version,
        "policy_sha256": ctx.policy_sha256,
        "subjects": subjects,
        "archived": archived,
        "summary": summary,
    }
    text = canonical(report)
    record = ReviewRecord(new_id(), year, now, ctx.actor.name, digest(text), text)
    with ctx.uow() as uow:
        uow.reviews.add(record)
        ctx.record(
            uow,
            AuditEvent(
                "review.run",
                None,
                None,
                {
                    "review": record.id,
                    "year": year,
                    "sha256": record.sha256,
                    **{k: summary[k] for k in ("subjects", "archived", "without_reason")},
                },
            ),
        )
        uow.commit()
    return ReviewRun(record, report)


def language(ctx: Context, lang: str | None) -> str:
    """The language a review's page is rendered in: one of the policy's (default: its first)."""
    chosen = lang or ctx.policy.languages[0]
    if chosen not in ctx.policy.languages:
        raise invalid("lang", f"must be one of the policy's languages: {', '.join(ctx.policy.languages)}")
    return chosen


def load_review(ctx: Context, review_id: str) -> ReviewRun:
    ctx.actor.require(Permission.REVIEW_SIGN)
    with ctx.uow() as uow:
        record = uow.reviews.get(review_id)
    if record is None:
        raise NotFound(f"no review with id {review_id}")
    if digest(record.report) != record.sha256:
        raise IntegrityBroken(f"review {review_id} does not match its sha256: the stored report was changed")
    return ReviewRun(record, json.loads(record.report))


def sign_review(ctx: Context, review_id: str, batch: int = 500) -> Signed:
    """Sign the review (the role the policy names): its hash goes into the audit chain, then what has no reason goes.

    A record listed without a reason that has gained one since (a new order, a fresh consent) is left alone:
    the removal checks each record again in its own transaction.
    """
    ctx.actor.require(Permission.REVIEW_SIGN)
    signer = ctx.policy.review.signed_by
    if ctx.actor.role != signer:
        raise Forbidden(f"the policy has the review signed by the {signer} role, not {ctx.actor.role!r}")
    run = load_review(ctx, review_id)
    if run.record.signed_at is not None:
        raise Conflict(
            f"review {review_id} was signed on {run.record.signed_at.date().isoformat()} by {run.record.signed_by}"
        )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if not uow.reviews.sign(review_id, now, ctx.actor.name):
            raise Conflict(f"review {review_id} was signed meanwhile")
        ctx.record(
            uow,
            AuditEvent(
                "review.sign", None, None, {"review": review_id, "year": run.record.year, "sha256": run.record.sha256}
            ),
        )
        uow.commit()
    day = today(ctx)
    removed = RunResult(day)
    subjects = [e["id"] for e in run.report["subjects"] if e["reason"] == NONE]
    for start in range(0, len(subjects), batch):
        run_batch(ctx, subjects[start : start + batch], day, ErasureCause.REVIEW, removed)
    erased, failed = 0, []
    for entry in run.report["archived"]:
        if entry["reason"] != NONE:
            continue
        try:
            with ctx.uow() as uow:
                if uow.archive.get(entry["id"]) is None:
                    continue  # erased meanwhile (an erasure request reaches the archive too)
                erase_subject(ctx, uow, entry["subject_id"], cause=ErasureCause.REVIEW)
                uow.commit()
            erased += 1
        except PersonvernError as exc:
            failed.append((entry["id"], str(exc)))
    with ctx.uow() as uow:
        record = uow.reviews.get(review_id)
    assert record is not None
    return Signed(record, removed, erased, removed.failed + failed)


def reviews_of(ctx: Context, year: int) -> list[ReviewRecord]:
    """The reviews run for a year, signed or not (a year may be run again before one is signed)."""
    ctx.actor.require(Permission.REVIEW_SIGN)
    with ctx.uow() as uow:
        return list(uow.reviews.for_year(year))


def signed_for(ctx: Context, year: int) -> ReviewRecord | None:
    with ctx.uow() as uow:
        return next((r for r in uow.reviews.for_year(year) if r.signed_at is not None), None)


def unsigned_year(ctx: Context) -> int | None:
    """The latest year whose review month has passed, when it has no signed review; None when it has.

    Only a year in which the register held data owes a review: a register whose first subject came in
    December 2026 owes none for 2025 (issue 16).
    """
    day = today(ctx)
    month = ctx.policy.review.month
    year = day.year if day.month > month else day.year - 1
    with ctx.uow() as uow:
        first = uow.reviews.first_data_at()
    if first is None or local_day(first, ctx.policy).year > year:
        return None
    return None if signed_for(ctx, year) is not None else year


def reminder(ctx: Context) -> str | None:
    """A line for the operator when the latest year whose review month has passed has no signed review."""
    year = unsigned_year(ctx)
    if year is None:
        return None
    month = ctx.policy.review.month
    return (
        f"the annual review of {year} is not signed (due by the end of month {month} of {year}): "
        f"run `personvern review run --year {year}`, then `personvern review sign ID` as {ctx.policy.review.signed_by}"
    )


@dataclass(frozen=True)
class Daily:
    """What the worker's daily retention duty did: the sweep (None if it had run today already), and reminders."""

    swept: RunResult | None
    reminders: list[str]

    @property
    def waiting(self) -> Unattended | None:
        """The sweep did nothing: more was due than the worker may do alone, or no sweep was confirmed yet."""
        return self.swept.waiting if self.swept is not None else None


def daily(ctx: Context) -> Daily:
    """The worker's retention duty: sweep once a day (Art. 5(1)(e)) within the policy's `[unattended]` limit, and
    remind of an unsigned annual review. A sweep over the limit waits for the CEO, and every pass says so."""
    reminders: list[str] = []
    swept: RunResult | None = None
    try:
        if not swept_today(ctx):
            swept = sweep_run(ctx, unattended=True)
        cookies.forget_old_choices(ctx)  # records of website cookie choices past the policy's `[cookies] keep`
        public.upkeep(ctx)  # codes never typed back, answer links past their time (and their answers), old limits
        note = reminder(ctx)
    except Forbidden as exc:
        return Daily(None, [f"retention sweep skipped: {exc}"])
    if note is not None:
        reminders.append(note)
    if swept is not None and swept.by_hand:
        # Art. 17(2): a processor never told of an erasure must be told by hand; the worker no longer can.
        reminders.append(
            f"{len(swept.by_hand)} processor deletion(s) were never delivered and must now be done by hand: "
            "see `personvern outbox list --dead`"
        )
    return Daily(swept, reminders)
