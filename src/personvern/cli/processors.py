"""`personvern processors …`: reconcile what HubSpot holds with the register, and the processor agreements."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.bootstrap import http_client, hubspot_contacts
from personvern.cli.common import Env, command
from personvern.cli.layout import Column, print_rows
from personvern.domain.agreements import AgreementStatus
from personvern.domain.reconcile import WORDS, Reconciliation
from personvern.services import agreements, reconcile

processors_app = typer.Typer(help="Processors (Art. 28): reconcile what they hold, and their agreements.")
reconcile_app = typer.Typer(help="Compare what a processor holds with the register.", no_args_is_help=True)
processors_app.add_typer(reconcile_app, name="reconcile")


def reconciliation_json(run: Reconciliation) -> dict[str, Any]:
    return {
        "id": run.id,
        "recipient": run.recipient,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "actor": run.actor,
        "fix": run.fix,
        "complete": run.complete,
        "pages": run.pages,
        "contacts": run.contacts,
        "counts": dict(run.counts),
        "should_not_be_there": run.should_not_be_there,
        "missing": run.missing,
        "fixed": run.fixed,
        "error": run.error,
        "findings": [f.as_record() for f in run.findings],
    }


def print_reconciliation(c: Console, run: Reconciliation) -> None:
    c.print(reconcile.describe(run), markup=False)
    columns = ("finding", "hubspot id", "subject", Column("in words", wrap=True), "remedy")
    rows = []
    for f in run.findings:
        remedy = f"queued: {f.fixed_by}" if f.fixed_by else ("already queued" if f.pending else "")
        rows.append((f.finding.value, f.external_id or "", f.subject_id or "", WORDS[f.finding], remedy))
    if rows:
        print_rows(c, columns, rows, title=f"{len(rows)} findings")
    if run.should_not_be_there + run.missing and not run.fix:
        c.print("`personvern processors reconcile hubspot --fix` queues the deletions and shares", markup=False)


@command(reconcile_app, "hubspot")
def hubspot(
    env: Env,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix", help="Queue a gdpr-delete of each contact that should not be there, a share of each missing."
        ),
    ] = False,
) -> None:
    """Page through HubSpot's contacts: who should not be there (erased, never shared, consent gone), who is missing."""
    runtime = env.runtime()
    with http_client() as client:
        run = reconcile.reconcile_hubspot(runtime.context(), hubspot_contacts(runtime, client), fix)
    env.emit(reconciliation_json(run), lambda c: print_reconciliation(c, run))


def agreement_json(a: AgreementStatus) -> dict[str, Any]:
    return {
        "recipient": a.recipient,
        "name": a.name,
        "state": a.state.value,
        "next_review": a.next_review,
        "days_left": a.days_left,
    }


@command(processors_app, "agreements")
def agreements_(env: Env) -> None:
    """Each processor's agreement (Art. 28(3)): missing, past its review, due within a month, or current."""
    found = agreements.processor_agreements(env.runtime().context())

    def human(c: Console) -> None:
        rows = [
            (a.recipient, a.name, a.state.value, a.next_review.isoformat() if a.next_review else "", a.days_left)
            for a in found
        ]
        print_rows(c, ("recipient", "name", "state", "next review", "days left"), rows)

    env.emit({"agreements": [agreement_json(a) for a in found]}, human)
