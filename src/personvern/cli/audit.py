"""`personvern audit …`: verify the hash-chained audit log, and read it (who read or changed what, when, why)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.bootstrap import parse_instant
from personvern.cli.common import Env, command
from personvern.cli.layout import Column, print_rows
from personvern.domain.audit import AuditEntry, AuditQuery
from personvern.domain.errors import IntegrityBroken, invalid
from personvern.services.admin import read_audit_log, verify_audit

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@command(audit_app, "verify")
def audit_verify(env: Env) -> None:
    """Walk the audit chain and name the first broken entry (exit 7 when broken); checkpoint it when intact."""
    runtime = env.runtime()
    report = verify_audit(runtime.uow, runtime.actor, runtime.checkpoints, runtime.clock, runtime.simulation)
    data = {
        "ok": report.ok,
        "entries": report.checked,
        "broken_at": report.broken_at,
        "problem": report.problem,
    }

    if report.ok:
        env.emit(data, lambda c: c.print(f"audit chain intact: {report.checked} entries verified"))
        return
    if env.json:
        env.emit(data, lambda c: None)
    raise IntegrityBroken(f"audit chain broken at entry {report.broken_at}: {report.problem}")


def entry_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "subject_id": e.subject_id,
        "purpose": e.purpose,
        "details": dict(e.details),
    }


@command(audit_app, "log")
def audit_log(
    env: Env,
    subject: Annotated[str | None, typer.Option("--subject", help="Only entries about this subject id.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only entries by this actor (login name).")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries at or after this date or time (ISO-8601).")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only this action (request.open) or family (request).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first (1-10000).")] = 50,
    before: Annotated[
        int | None, typer.Option("--before", help="Only entries before this number: the next page.")
    ] = None,
) -> None:
    """Who read or changed what, when and why: newest first (CEO and auditor; reading it is itself recorded)."""
    if action is not None and not action.strip():
        raise invalid("action", "must not be empty")
    if actor is not None and not actor.strip():
        raise invalid("actor", "must not be empty")
    query = AuditQuery(
        subject_id=subject,
        actor=actor,
        since=parse_instant(since, "since") if since is not None else None,
        action=action,
        limit=limit,
        before=before,
    )
    runtime = env.runtime()
    page = read_audit_log(runtime.uow, runtime.clock, runtime.actor, query)

    def human(c: Console) -> None:
        columns = ("#", "at (UTC)", "actor", "role", "action", "subject", "purpose", Column("details", wrap=True))
        rows = [
            (
                e.seq,
                e.at.isoformat(timespec="seconds"),
                e.actor,
                e.role,
                e.action,
                e.subject_id,
                e.purpose,
                ", ".join(f"{k}={v}" for k, v in sorted(e.details.items())),
            )
            for e in page.entries
        ]
        print_rows(c, columns, rows, title=f"{len(page.entries)} audit entries, newest first")
        if page.next_before is not None:
            c.print(f"more: add --before {page.next_before}", markup=False)

    env.emit({"entries": [entry_json(e) for e in page.entries], "next_before": page.next_before}, human)
