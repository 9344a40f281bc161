"""`personvern record export`: the record of processing activities (GDPR Art. 30(1)) as JSON, CSV or HTML."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from personvern.cli.common import Env, command
from personvern.domain.errors import invalid
from personvern.services.record import record_of_processing

record_app = typer.Typer(help="The record of processing activities (GDPR Art. 30).", no_args_is_help=True)


@command(record_app, "export")
def export(
    env: Env,
    format_: Annotated[str | None, typer.Option("--format", help="json (default), csv or html.")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="nb or en (default: the policy's first language).")] = None,
) -> None:
    """Print the record of processing: controller, purposes, data, recipients, transfers, retention, roles, risks."""
    if env.json and format_ not in (None, "json"):
        raise invalid("format", "--json prints the record as JSON; leave out --format or give --format json")
    _record, text = record_of_processing(env.runtime().context(), lang, format_ or "json")
    sys.stdout.write(text)
