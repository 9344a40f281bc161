"""`personvern subject …` and `personvern relationship …`: the customer register from the shell."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from personvern.bootstrap import parse_instant
from personvern.cli.common import Env, command, err_console, parse_assignments, parse_day, reading
from personvern.cli.consent import block_json, print_state, state_json
from personvern.cli.files import open_private
from personvern.cli.layout import Column, print_fields, print_rows
from personvern.cli.words import in_shell_words
from personvern.domain.columns import parse_map
from personvern.domain.csvfile import read_rows
from personvern.domain.errors import FieldProblem, InvalidInput, invalid
from personvern.domain.subjects import Relationship
from personvern.reports import spreadsheet
from personvern.services import register
from personvern.services.register import Imported, SubjectView

subject_app = typer.Typer(help="Data subjects in the register.", no_args_is_help=True)
relationship_app = typer.Typer(help="Customer relationships: orders and contracts.", no_args_is_help=True)

SetOption = Annotated[list[str] | None, typer.Option("--set", help="FIELD=VALUE (repeatable).", show_default=False)]
ReasonOption = Annotated[
    list[str] | None,
    typer.Option("--reason", help="FIELD=TEXT: why a 'when needed' field is needed (repeatable).", show_default=False),
]
PROGRESS_FROM = 10_000  # rows; smaller files finish before a bar is worth drawing
PARALLEL_FROM = 20_000  # rows; below this, starting worker processes costs more than it saves
# An import is one transaction over rows held in memory (every row or none): about 700 000 rows of the
# bundled policy's fields, a peak of a few GB. A larger file is refused before it is read; split it.
MAX_IMPORT_FILE = 100 * 1024 * 1024


def relationship_json(r: Relationship) -> dict[str, Any]:
    return r.as_record()


def subject_json(view: SubjectView) -> dict[str, Any]:
    s = view.subject
    out = {
        "id": s.id,
        "kind": s.kind,
        "values": view.values,
        "source": s.source,
        "received_at": s.received_at,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "organisation_id": s.organisation_id,
        "relationships": [relationship_json(r) for r in view.relationships],
    }
    if view.consents is not None:  # only for roles that may read the consent ledger
        out["consent"] = state_json(view.consents)
        out["blocks"] = [block_json(b) for b in view.blocks or []]
    return out


@command(subject_app, "add")
def add(
    env: Env,
    kind: Annotated[str, typer.Option("--kind", help="one_time_customer, contract_customer, business_representative.")],
    set_: SetOption = None,
    reason: ReasonOption = None,
    source: Annotated[str, typer.Option("--source", help="Where the data came from (Art. 14(2)(f)).")] = "data_subject",
    received: Annotated[str | None, typer.Option("--received", help="When the data was received (ISO-8601).")] = None,
) -> None:
    """Add a subject; only fields the policy declares for the kind are accepted."""
    values = parse_assignments(set_, "--set")
    reasons = parse_assignments(reason, "--reason")
    at = parse_instant(received, "received") if received else None
    if len(source) > 100 or not source.strip():
        raise invalid("source", "must be 1 to 100 characters")
    subject = register.add_subject(env.runtime().context(), kind, values, reasons, source, at)
    env.emit({"id": subject.id, "kind": subject.kind}, lambda c: c.print(f"added {subject.kind} {subject.id}"))


@command(subject_app, "show")
def show(
    env: Env,
    subject_id: Annotated[str | None, typer.Argument(help="The subject's id.", show_default=False)] = None,
    email: Annotated[str | None, typer.Option("--email", help="Find by email.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Find by phone number.")] = None,
    purpose: Annotated[str | None, typer.Option("--purpose", help="Why you look (recorded; default service).")] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Find by full name (any case, accents and spacing); namesakes are listed by id."),
    ] = None,
) -> None:
    """Show one subject in the live register, with its relationships."""
    view = register.show_subject(env.runtime().context(), subject_id, email, phone, purpose, name)

    def human(c: Console) -> None:
        s = view.subject
        print_fields(
            c,
            [
                ("id", s.id),
                ("kind", s.kind),
                *view.values.items(),
                ("source", s.source),
                ("received", s.received_at.isoformat()),
            ],
        )
        for r in view.relationships:
            last = r.end_date()
            end = f" until {last.isoformat()}" if last else " (open)"
            what = f": {r.description}" if r.description else ""
            c.print(f"{r.type.value} {r.id} from {r.started_on.isoformat()}{end}{what}", markup=False)
        if view.consents is not None:
            print_state(c, view.consents, view.blocks or [])

    env.emit(subject_json(view), human)


@command(subject_app, "list")
def list_(
    env: Env,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    organisation: Annotated[str | None, typer.Option("--organisation", help="Only this organisation number.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.")] = 0,
    name: Annotated[
        str | None, typer.Option("--name", help="Only people with this full name (any case, accents and spacing).")
    ] = None,
) -> None:
    """List subjects, oldest first."""
    total, views = register.list_subjects(env.runtime().context(), kind, organisation, limit, offset, name=name)

    def human(c: Console) -> None:
        names = ("full_name", "email", "phone", "organisation_name")
        columns = (
            "id",
            "kind",
            Column("full_name", wrap=True),
            "email",
            "phone",
            Column("organisation_name", wrap=True),
        )
        rows = [(v.subject.id, v.subject.kind, *(v.values.get(f, "") for f in names)) for v in views]
        print_rows(c, columns, rows, title=f"{len(views)} of {total} subjects")

    env.emit({"total": total, "subjects": [subject_json(v) for v in views]}, human)


@command(subject_app, "update")
def update(
    env: Env,
    subject_id: Annotated[str, typer.Argument(help="The subject's id.")],
    set_: SetOption = None,
    unset: Annotated[list[str] | None, typer.Option("--unset", help="FIELD to remove (repeatable).")] = None,
    reason: ReasonOption = None,
) -> None:
    """Change or remove values, through the same validation as `add`."""
    changes = parse_assignments(set_, "--set")
    reasons = parse_assignments(reason, "--reason")
    subject = register.update_subject(env.runtime().context(), subject_id, changes, list(unset or []), reasons)
    env.emit({"id": subject.id, "updated_at": subject.updated_at}, lambda c: c.print(f"updated {subject.id}"))


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Rows with the line each record starts on (the header is line 1); `;`, `,` and tab are recognised."""
    with reading(path):
        size = path.stat().st_size
    if size > MAX_IMPORT_FILE:
        mib = MAX_IMPORT_FILE // (1024 * 1024)
        raise invalid("file", f"{path} is larger than {mib} MiB; split it into smaller files")
    with reading(path), path.open(newline="", encoding="utf-8-sig") as f:
        return read_rows(f, str(path), MAX_IMPORT_FILE)


def _write_problems(path: Path, problems: list[FieldProblem]) -> None:
    try:
        with open_private(path, "problems") as f:
            writer = spreadsheet.writer(f)
            writer.writerow(["line", "field", "problem"])
            writer.writerows([p.line or "", p.field, p.message] for p in problems)
    except OSError as exc:
        raise invalid("problems", f"{path} cannot be written ({exc.strerror})") from None


@contextmanager
def _progress(total: int, show: bool) -> Iterator[Callable[[int], None] | None]:
    if not show:
        yield None
        return
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console(), transient=True) as bar:
        task = bar.add_task("rows", total=total)
        yield lambda n: bar.advance(task, n)


def _mapped(
    path: Path, header: list[str], rows: list[tuple[int, dict[str, str]]]
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The file's columns through a column map (`--columns`): the header and rows as the policy names them."""
    with reading(path):
        text = path.read_text("utf-8")
    return parse_map(text, str(path)).apply(header, rows, str(path))


def imported_json(result: Imported) -> dict[str, Any]:
    return {
        "imported": result.subjects if result.stored else 0,
        "would_import": result.subjects,
        "stored": result.stored,
        "kind": result.kind,
        "orders": result.orders,
        "contracts": result.contracts,
        "consents": dict(result.consents),
        "hubspot_shares": result.shared,
        "due_at_once": result.due,
        "register": result.register,
        "register_due": result.register_due,
        "worker_may_do": result.allowed,
        "worker_confirmed": result.confirmed,
        "worker_waits": result.worker_waits,
    }


def _imported_text(c: Console, result: Imported, file: Path) -> None:
    if result.stored:
        c.print(f"imported {result.subjects} {result.kind} subjects from {file}", markup=False)
    else:
        c.print(
            f"checked {file}: {result.subjects} {result.kind} subjects would be imported; nothing was stored",
            markup=False,
        )
    if result.orders or result.contracts or result.consents:
        given = ", ".join(f"{n} by {channel}" for channel, n in sorted(result.consents.items())) or "none"
        c.print(
            f"with {result.orders} order(s), {result.contracts} contract(s) and consents to marketing: {given}",
            markup=False,
        )
    if result.shared:
        verb = "queued" if result.stored else "would be queued"
        c.print(f"{result.shared} HubSpot share(s) {verb} for the consents to marketing by email", markup=False)
    if result.due:
        c.print(
            f"due for archiving or erasure at once: {result.due} of them (no order, contract or consent keeps them, "
            "and the policy's time for prospects is over); `personvern retention plan` lists them",
            markup=False,
            soft_wrap=True,
        )
    if result.worker_waits:
        why = (
            f"more than the {result.allowed} it may archive or erase on its own"
            if result.register_due > result.allowed
            else "and no sweep of this register has been confirmed yet"
        )
        c.print(
            f"the worker's next sweep would find {result.register_due} due in the register, {why}: it waits for "
            "the CEO's `personvern retention run`",
            markup=False,
            soft_wrap=True,
        )


@command(subject_app, "import")
def import_(
    env: Env,
    file: Annotated[Path, typer.Argument(help="CSV file; its header names the fields.")],
    kind: Annotated[str, typer.Option("--kind", help="The kind of every row.")],
    reason: ReasonOption = None,
    source: Annotated[str, typer.Option("--source", help="Where the data came from.")] = "import",
    problems_file: Annotated[
        Path | None,
        typer.Option("--problems", help="On failure, write every problem to this CSV file (line, field, problem)."),
    ] = None,
    columns: Annotated[
        Path | None,
        typer.Option(
            "--columns",
            help="A column map (TOML) from another system's export to the policy's fields, e.g. "
            "examples/hubspot-columns.toml.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Dry run: check every row and report what would be stored and what is due at once."
        ),
    ] = False,
) -> None:
    """Import a CSV file: every row or none; each bad row is reported by line and field.

    Besides the policy's fields, a file may carry each person's history: received_at, order_date,
    contract_start, contract_end, consent_sms_at, consent_email_at, consent_method and consent_proof.
    """
    reasons = parse_assignments(reason, "--reason")
    try:
        header, rows = read_csv(file)
        if columns is not None:
            header, rows = _mapped(columns, header, rows)
        runtime = env.runtime()
        with _progress(len(rows), len(rows) >= PROGRESS_FROM and not env.json) as progress:
            context = runtime.context(parallel=len(rows) >= PARALLEL_FROM)
            result = register.import_rows(context, kind, rows, reasons, source, progress, header, check=check)
    except InvalidInput as exc:
        if problems_file is not None:
            said = in_shell_words(exc)
            _write_problems(problems_file, said.problems if isinstance(said, InvalidInput) else exc.problems)
        raise
    env.emit(imported_json(result), lambda c: _imported_text(c, result, file))


@command(relationship_app, "start")
def start(
    env: Env,
    subject_id: Annotated[str, typer.Argument(help="The subject's id.")],
    type_: Annotated[str, typer.Option("--type", help="order or contract.")] = "order",
    on: Annotated[str | None, typer.Option("--on", help="Start date (default: today).")] = None,
    ends: Annotated[str | None, typer.Option("--ends", help="A contract's stated end date.")] = None,
    description: Annotated[str | None, typer.Option("--description", help="What was ordered or agreed.")] = None,
) -> None:
    """Start an order or a contract: the customer relationship that keeps the data (Art. 6(1)(b))."""
    rel = register.start_relationship(
        env.runtime().context(), subject_id, type_, parse_day(on, "on"), parse_day(ends, "ends"), description
    )
    env.emit(
        relationship_json(rel),
        lambda c: c.print(f"started {rel.type.value} {rel.id} on {rel.started_on.isoformat()}"),
    )


@command(relationship_app, "end")
def end(
    env: Env,
    subject_id: Annotated[
        str,
        typer.Argument(
            help="The subject's id (ends its open relationships), or one relationship's id as `start` printed it."
        ),
    ],
    type_: Annotated[str | None, typer.Option("--type", help="Only orders or only contracts.")] = None,
    on: Annotated[str | None, typer.Option("--on", help="End date (default: today).")] = None,
) -> None:
    """End the subject's open relationships, or the one relationship named: the customer or the company asked."""
    ended = register.end_relationship(env.runtime().context(), subject_id, type_, parse_day(on, "on"))

    def human(c: Console) -> None:
        if [r.id for r in ended] == [subject_id]:
            one = ended[0]
            assert one.ended_on is not None
            c.print(f"ended {one.type.value} {one.id} of {one.subject_id} on {one.ended_on.isoformat()}", markup=False)
        else:
            c.print(f"ended {len(ended)} relationship(s) of {subject_id}", markup=False)

    env.emit({"ended": [relationship_json(r) for r in ended]}, human)
