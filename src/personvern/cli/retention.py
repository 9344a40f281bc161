"""`personvern retention plan|run`: what is due for archiving or erasure, and carrying it out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from personvern.cli.common import Env, command, err_console
from personvern.cli.files import open_private
from personvern.cli.layout import Column, print_rows
from personvern.domain.errors import invalid
from personvern.reports import spreadsheet
from personvern.services import sealed, sweep
from personvern.services.retention import refresh_stale, today
from personvern.services.sealed import SealedDue
from personvern.services.sweep import Due, RunResult, Unattended

retention_app = typer.Typer(
    help="Retention: what is due for archiving or erasure, and carrying it out.", no_args_is_help=True
)

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


def due_json(d: Due) -> dict[str, Any]:
    return {
        "subject_id": d.subject_id,
        "kind": d.kind,
        "action": d.step.value,
        "rule": d.rule,
        "since": d.since,
        "scope": "outside_hold" if d.partial else "all",
        "fields_due": list(d.fields),
        "fields_held": list(d.held),
        "held_until": d.held_until,
        "then": d.then.value,
    }


def _csv_row(d: Due) -> list[str]:
    return [
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


@contextmanager
def _csv_file(path: Path | None) -> Iterator[Any]:
    """The CSV writer, opened before anything is planned so that a bad path fails first."""
    if path is None:
        yield None
        return
    handle: IO[str] = open_private(path, "csv")
    with handle:
        writer = spreadsheet.writer(handle)
        writer.writerow(CSV_COLUMNS)
        yield writer


@command(retention_app, "plan")
def plan(
    env: Env,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write every due subject to this CSV file.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows shown in the table (JSON and CSV hold all).")] = 50,
) -> None:
    """Dry run: every subject with data due today (all of it, or the fields outside a hold): action, rule, since."""
    if limit < 0:
        raise invalid("limit", "must not be negative")
    runtime = env.runtime()
    if runtime.clock_moved:
        # A preview on a real register may not write: schedules a new policy left stale are computed first
        # for the real today, as a plan without --now would, and the preview then reads them.
        refresh_stale(runtime.present())
    context = runtime.context()
    shown: list[Due] = []
    rows: list[dict[str, Any]] = []
    count = 0
    with _csv_file(csv_file) as writer:
        for d in sweep.plan(context):
            count += 1
            if writer is not None:
                writer.writerow(_csv_row(d))
            if env.json:
                rows.append(due_json(d))
            elif len(shown) < limit:
                shown.append(d)
    day = today(context)
    parts = sealed.plan(context)
    worker = sweep.unattended(context)

    def human(c: Console) -> None:
        _sealed_table(c, day.isoformat(), parts)
        if not count:
            c.print(f"nothing is due on {day.isoformat()}")
            return
        columns = ("subject", "kind", "action", "rule", "since", Column("fields due", wrap=True), "held until", "then")
        rows = [
            (
                d.subject_id,
                d.kind,
                d.step.value,
                d.rule,
                d.since.isoformat(),
                f"only {', '.join(d.fields)}" if d.partial else "all",
                d.held_until.isoformat() if d.held_until else "",
                d.then.value,
            )
            for d in shown
        ]
        print_rows(c, columns, rows, title=f"Due on {day.isoformat()}: {count} subject(s)")
        if count > len(shown):
            c.print(f"… and {count - len(shown)} more (--csv FILE or --json lists them all)", markup=False)
        if csv_file is not None:
            c.print(f"wrote {count} row(s) to {csv_file}", markup=False)
        c.print(_worker_line(worker), markup=False, soft_wrap=True)

    env.emit(
        {
            "day": day,
            "due": count,
            "unattended": worker.as_record(),
            "subjects": rows,
            "outbox": [sealed_json(p) for p in parts if p.what == "outbox"],
            "requests": [sealed_json(p) for p in parts if p.what == "request"],
            "answers": [sealed_json(p) for p in parts if p.what == "answer"],
        },
        human,
    )


def _worker_line(state: Unattended) -> str:
    """What `personvern worker` will do with this plan: carry it out on its own, or wait for the CEO."""
    if state.waiting:
        return f"the worker waits for the CEO: {state.reason}; `personvern retention run` carries this plan out"
    return (
        f"`personvern worker` carries this out in its daily sweep (it may archive or erase up to {state.allowed} "
        "subject(s) a day on its own), or `personvern retention run` now"
    )


def sealed_json(p: SealedDue) -> dict[str, Any]:
    out: dict[str, Any] = {"id": p.id, "kind" if p.what == "outbox" else "type": p.kind, "rule": p.rule}
    out["since"] = p.since
    if p.what == "outbox":
        out["by_hand"] = p.by_hand
    return out


SEALED_WORDS = {
    "outbox": ("dead outbox row", "forget its personal part"),
    "request": ("request that matched nobody", "forget the identity given"),
    "answer": ("answer to a request", "forget its files (their sha256 stay)"),
}


def _sealed_table(c: Console, day: str, parts: list[SealedDue]) -> None:
    """Sealed parts past the policy's time: a dead row's personal part, a stranger's identity, an answer's files;
    never a value."""
    if not parts:
        return
    rows = []
    for p in parts:
        what, then = SEALED_WORDS[p.what]
        if p.by_hand:
            then += f"; to do by hand: {p.by_hand}"
        rows.append((what, p.id, p.kind, p.rule, p.since.isoformat(), then))
    columns = (Column("what", wrap=True), "id", "kind", "rule", "since", Column("then", wrap=True))
    print_rows(c, columns, rows, title=f"Sealed parts due on {day}: {len(parts)}")


@contextmanager
def _bar(show: bool) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
    if not show:
        yield None, None
        return
    columns = (TextColumn("retention"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console(), transient=True) as bar:
        task = bar.add_task("subjects", total=None)
        yield (lambda n: bar.update(task, total=n)), (lambda n: bar.advance(task, n))


def run_json(result: RunResult, waited: Unattended | None = None) -> dict[str, Any]:
    return {
        "confirmed_wait": waited.reason if waited is not None and waited.waiting else None,
        "day": result.day,
        "due": result.due,
        "archived": result.archived,
        "erased": result.erased,
        "erased_except_held": result.held,
        "skipped": result.skipped,
        "failed": [{"subject_id": sid, "error": why} for sid, why in result.failed],
        "outbox_personal_forgotten": result.outbox_forgotten,
        "request_identities_forgotten": result.requests_forgotten,
        "answers_forgotten": result.answers_forgotten,
        "by_hand": result.by_hand,
    }


def run_summary(result: RunResult) -> str:
    line = (
        f"retention on {result.day.isoformat()}: {result.due} due; archived {result.archived}, erased {result.erased}, "
        f"erased except held fields {result.held}"
    )
    if result.skipped:
        line += f", no longer due {result.skipped}"
    if result.failed:
        line += f", failed {len(result.failed)}" + "".join(f"\n  {sid}: {why}" for sid, why in result.failed)
    if result.outbox_forgotten or result.requests_forgotten:
        line += (
            f"\nforgot the personal part of {result.outbox_forgotten} dead outbox row(s) and the identity of "
            f"{result.requests_forgotten} answered request(s) that matched nobody"
        )
    if result.answers_forgotten:
        line += f"\nforgot the files of {result.answers_forgotten} answer(s) past [requests] keep_answer"
    if result.by_hand:
        line += "".join(
            f"\nto do by hand: outbox row {row_id} (a processor deletion never delivered): see `outbox list --dead`"
            for row_id in result.by_hand
        )
    return line


@command(retention_app, "run")
def run(
    env: Env,
    batch: Annotated[int, typer.Option("--batch", help="Subjects per transaction.")] = sweep.BATCH,
) -> None:
    """Archive or erase every subject due today, in batches; a run stopped half-way is finished by the next."""
    if not 1 <= batch <= 10_000:
        raise invalid("batch", "must be between 1 and 10000")
    runtime = env.runtime()
    context = runtime.context()
    # The CEO's run is the confirmation the worker's sweep may be waiting for: say so, with what it waited on.
    waited = sweep.unattended(context)
    with _bar(not env.json) as (start, progress):
        result = sweep.run(context, batch=batch, progress=progress, start=start)

    def human(c: Console) -> None:
        c.print(run_summary(result), markup=False)
        if waited.waiting:
            c.print(
                f"the worker was waiting for this run ({waited.reason}); it now sweeps on its own again while "
                f"no more than the policy's [unattended] limit is due in a day",
                markup=False,
                soft_wrap=True,
            )

    env.emit(run_json(result, waited), human)
