"""`personvern statistics`: requests, breaches, consents and cookie choices of a year, for the CEO and the authority."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.cli.common import Env
from personvern.cli.layout import print_rows
from personvern.domain.errors import invalid
from personvern.reports.breach import local_instant
from personvern.reports.statistics import TABLES, as_csv, as_data, columns, days, rows
from personvern.services.statistics import statistics as read_statistics

FORMATS = ("table", "csv", "json")
TITLES = {
    "requests": "Requests per month of receipt and type",
    "answer_times": "Days to answer, per type (from the day of receipt)",
    "breaches": "Breaches per year of discovery",
    "consents": "Consent given and withdrawn per month, purpose, channel and method",
    "cookie_choices": "Cookie choices per month and category",
}


def statistics(
    env: Env,
    year: Annotated[int | None, typer.Option("--year", help="The year (default: this year).")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="table (default), csv or json.")] = None,
) -> None:
    """Privacy statistics of a year: requests per month and type, days to answer, extensions, refusals,
    breaches, consent given and withdrawn, cookie choices per category. Counts only: no one's data."""
    if format_ is not None and format_ not in FORMATS:
        raise invalid("format", f"must be one of: {', '.join(FORMATS)}")
    if env.json and format_ not in (None, "json"):
        raise invalid("format", "--json prints the statistics as JSON; leave out --format or give --format json")
    ctx = env.runtime().context()
    found = read_statistics(ctx, year)
    controller = ctx.policy.controller.name
    if format_ == "csv":
        sys.stdout.write(as_csv(found, controller))
        return
    if format_ == "json":
        env.json = True

    def human(c: Console) -> None:
        c.print(
            f"Privacy statistics {found.period.label} of {controller}, months on the clock of {found.zone}; "
            f"made {local_instant(found.made_at, found.zone)}",
            markup=False,
        )
        for name, attribute, row_type in TABLES:
            c.print()
            shown: list[list[Any]] = [
                [days(v) if isinstance(v, float) else v for v in row] for row in rows(found, attribute)
            ]
            if not shown:
                c.print(f"{TITLES[name]}: none", markup=False)
                continue
            print_rows(c, [col.replace("_", " ") for col in columns(row_type)], shown, title=TITLES[name])

    env.emit(as_data(found, controller), human)
