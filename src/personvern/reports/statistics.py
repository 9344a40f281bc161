"""The privacy statistics as data and as one CSV file: each table a section under its own header row.

One file rather than a zip: it opens in a spreadsheet with a double click, every section visible, and the first
column names the table each row belongs to, so a filter on it gives one table back.
"""

from __future__ import annotations

import io
from dataclasses import asdict, astuple, fields
from typing import Any

from personvern.domain.statistics import (
    AnswerTimes,
    BreachYear,
    ConsentMonth,
    CookieMonth,
    RequestMonth,
    Statistics,
)
from personvern.reports.spreadsheet import writer

# Each table: its name (in the CSV's first column and the JSON's keys), the attribute holding it, its row type.
TABLES: tuple[tuple[str, str, type[Any]], ...] = (
    ("requests", "requests", RequestMonth),
    ("answer_times", "answer_times", AnswerTimes),
    ("breaches", "breaches", BreachYear),
    ("consents", "consents", ConsentMonth),
    ("cookie_choices", "cookies", CookieMonth),
)


def columns(row_type: type[Any]) -> list[str]:
    return [f.name for f in fields(row_type)]


def rows(stats: Statistics, attribute: str) -> list[tuple[Any, ...]]:
    return [astuple(row) for row in getattr(stats, attribute)]


def days(value: float | None) -> str:
    """A number of days as a person writes it: 10, or 26.5 when a median falls between two."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def as_data(stats: Statistics, controller: str) -> dict[str, Any]:
    """The statistics as one JSON document (dates ISO-8601), the tables under their names."""
    out: dict[str, Any] = {
        "controller": controller,
        "period": {"from": stats.period.first, "until": stats.period.last},
        "time_zone": stats.zone,
        "made_at": stats.made_at.isoformat(),
    }
    for name, attribute, _type in TABLES:
        out[name] = [asdict(row) for row in getattr(stats, attribute)]
    return out


def as_csv(stats: Statistics, controller: str) -> str:
    handle = io.StringIO()
    out = writer(handle, lineterminator="\r\n")  # RFC 4180, as spreadsheets write it
    out.writerow(["table", "controller", "period", "time_zone", "made_at"])
    out.writerow(["about", controller, stats.period.label, stats.zone, stats.made_at.isoformat()])
    for name, attribute, row_type in TABLES:
        out.writerow([])
        out.writerow(["table", *columns(row_type)])
        for row in rows(stats, attribute):
            out.writerow([name, *(days(v) if isinstance(v, float) else v for v in row)])
    return handle.getvalue()
