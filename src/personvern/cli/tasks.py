"""`personvern task …`: the CEO's tasks, what a recipient without a connector must be told of a request (Art. 19)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.cli.common import Env, command
from personvern.cli.layout import Column, print_rows
from personvern.services import confirmations
from personvern.services.confirmations import RecipientView

task_app = typer.Typer(
    help="The CEO's tasks: telling Finago or the auditor of a request carried out, or doing by hand what a "
    "processor's dead delivery did not.",
    no_args_is_help=True,
)


def recipient_json(v: RecipientView) -> dict[str, Any]:
    """One recipient's part in a request (also what `request show --json` lists under "recipients")."""
    c = v.confirmation
    return {
        "id": c.id,
        "request_id": c.request_id,
        "request_type": v.request_type,
        "subject_id": c.subject_id,
        "recipient": c.recipient,
        "name": v.name,
        "action": c.action,
        "detail": c.detail,
        "fields": list(c.fields),
        "confirm_by": c.confirm_by.value,
        "state": v.state,
        "task": v.is_task,
        "due_on": c.due_on,
        "overdue": v.overdue,
        "created_at": c.created_at,
        "confirmed_at": c.confirmed_at,
        "confirmed_by": c.confirmed_by,
        "note": c.note,
        "outbox_row": c.outbox_id,
        "outbox_state": v.row.state.value if v.row is not None else None,
        "outbox_error": v.row.last_error if v.row is not None else None,
    }


def state_words(v: RecipientView, today: date) -> str:
    """Where one recipient's confirmation stands, in words."""
    c = v.confirmation
    if v.state == "not_needed":
        return f"not asked: {c.detail}"
    if v.state == "confirmed":
        how = f": {c.note}" if c.note else " (delivered)"
        return f"confirmed {c.confirmed_at:%Y-%m-%d %H:%M} by {c.confirmed_by}{how}"
    due = ""
    if c.due_on is not None:
        late = (today - c.due_on).days
        due = f", OVERDUE since {c.due_on.isoformat()} ({late} d)" if v.overdue else f", due {c.due_on.isoformat()}"
    if v.state == "dead":
        error = v.row.last_error if v.row is not None else "given up on"
        return (
            f"DEAD: {error}; `personvern outbox retry {c.outbox_id}`, or do it by hand and "
            f"`personvern task done {c.id} --note ...`{due}"
        )
    if v.is_task:
        return f"task {c.id} for the CEO{due}: {c.detail}"
    waiting = f" ({v.row.last_error})" if v.row is not None and v.row.last_error else ""
    return f"waiting for the delivery of outbox row {c.outbox_id}{waiting}{due}"


@command(task_app, "list")
def list_(
    env: Env,
    all_: Annotated[bool, typer.Option("--all", help="Closed tasks too.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 200,
) -> None:
    """Open tasks by due date, overdue first: the recipient, the request, what to do and by when."""
    today, found = confirmations.list_tasks(env.runtime().context(), everything=all_, limit=limit)

    def human(c: Console) -> None:
        columns = ("id", "recipient", "request", "due", "state", Column("to do", wrap=True))
        rows = []
        for v in found:
            t = v.confirmation
            state = "done" if not t.pending else ("OVERDUE" if v.overdue else v.state)
            what = f"{v.name}: {t.action} (customer {t.subject_id})"
            if v.state == "dead" and v.row is not None:
                what += f"; its outbox row {t.outbox_id} died: {v.row.last_error}"
            rows.append((t.id, t.recipient, t.request_id, t.due_on.isoformat() if t.due_on else "", state, what))
        print_rows(c, columns, rows, title=f"{len(found)} tasks (today {today.isoformat()})")

    env.emit({"today": today, "tasks": [recipient_json(v) for v in found]}, human)


@command(task_app, "done")
def done(
    env: Env,
    task_id: Annotated[str, typer.Argument(help="The task's id (`task list`).")],
    note: Annotated[str, typer.Option("--note", help="How it was done: where, by whom, a reference.")],
) -> None:
    """Close a task: the recipient was told and did it; a request whose last task this was completes."""
    view = confirmations.close_task(env.runtime().context(), task_id, note)
    t = view.confirmation

    def human(c: Console) -> None:
        c.print(f"task {t.id} done: {view.name}: {t.action}", markup=False)
        if view.request_type is not None:
            c.print(f"request {t.request_id}: see `personvern request show {t.request_id}`", markup=False)

    env.emit(recipient_json(view), human)
