"""`personvern export …`: customers' master data for the accounts (SAF-T, CSV), each export a recorded disclosure."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.cli.common import Env, command, err_console, plain_console
from personvern.cli.files import write_private
from personvern.domain.errors import invalid
from personvern.services import exports
from personvern.services.exports import Export

export_app = typer.Typer(
    help="Customers' master data for the accounts (Accountor Finago, the auditor): SAF-T or CSV.",
    no_args_is_help=True,
)

OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write the file here (a new file, readable by you only); else stdout.")
]
RecipientOption = Annotated[
    str | None,
    typer.Option("--recipient", help="finago or auditor (default: finago; the auditor's role: auditor)."),
]


def _summary(done: Export, out: Path | None) -> dict[str, Any]:
    r = done.record
    return {
        "id": r.id,
        "format": r.kind,
        "recipient": r.recipient,
        "customers": r.subjects,
        "fields": list(r.fields),
        "sha256": r.sha256,
        "at": r.at,
        "file": str(out) if out else None,
        "restricted_left_out": done.restricted_left_out,
        "shortened": done.fitted.shortened,
        "emails_left_out": done.fitted.emails_left_out,
    }


def _write(env: Env, done: Export, out: Path | None) -> None:
    data = _summary(done, out)
    if out is not None:
        write_private(out, done.content, "out", replace=True)  # the file `_claim` made for it
    else:
        sys.stdout.buffer.write(done.content)
        sys.stdout.flush()

    def said(c: Console) -> None:
        r = done.record
        where = f"written to {out}" if out else "on stdout"
        c.print(
            f"export {r.id}: {r.subjects} customers for {r.recipient} ({r.kind}, sha256 {r.sha256[:12]}) {where}",
            markup=False,
        )
        c.print(f"fields: {', '.join(r.fields)}; each customer's disclosure is recorded", markup=False)
        if done.restricted_left_out:
            c.print(f"left out: {done.restricted_left_out} restricted (Art. 18(2): stored, nothing more)")
        if done.fitted.shortened or done.fitted.emails_left_out:
            c.print(
                f"to fit SAF-T: {done.fitted.shortened} values shortened, {done.fitted.emails_left_out} email "
                "addresses longer than 70 characters left out",
                markup=False,
            )

    if env.json:
        env.emit(data, lambda c: None)
    else:
        # The file may be on stdout: what was done goes to standard error then.
        said(err_console() if out is None else plain_console())


def _check(env: Env, out: Path | None) -> None:
    if env.json and out is None:
        raise invalid("out", "--json prints what was exported; give --out FILE for the file itself")


def _export(env: Env, fmt: str, out: Path | None, recipient: str | None) -> None:
    """The file is made (empty, 0600) before the export is recorded: a disclosure recorded whose file could
    not be written would be a disclosure that never happened."""
    _check(env, out)
    if out is not None:
        write_private(out, b"", "out")
    try:
        done = exports.export_customers(env.runtime().context(), fmt, recipient)
    except BaseException:
        if out is not None:
            out.unlink(missing_ok=True)
        raise
    _write(env, done, out)


@command(export_app, "saft")
def saft(env: Env, out: OutOption = None, recipient: RecipientOption = None) -> None:
    """The customers as a SAF-T Financial 1.30 file (MasterFiles/Customers), with only the recipient's fields."""
    _export(env, "saft", out, recipient)


@command(export_app, "customers")
def customers(
    env: Env,
    format_: Annotated[str, typer.Option("--format", help="csv (one customer a line).")] = "csv",
    out: OutOption = None,
    recipient: RecipientOption = None,
) -> None:
    """The customers as CSV, with only the recipient's fields; no cell is ever run as a formula."""
    if format_ != "csv":
        raise invalid("format", "must be csv (`personvern export saft` writes SAF-T)")
    _export(env, "csv", out, recipient)
