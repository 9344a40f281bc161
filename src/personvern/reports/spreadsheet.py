"""CSV that a spreadsheet opens as data: a cell that would start a formula is written as text (CWE-1236).

Every CSV file personvern writes (an answer's data.csv, `retention plan --csv`, `record export --format csv`,
`subject import --problems`) goes through `writer`. A value a person gave, such as `=HYPERLINK(…)` as a name,
would otherwise run as a formula in whoever opens the file. Such a cell gets a leading apostrophe, which
spreadsheets read as "text follows". A plain number with a sign (`+4791234567`, `-12`) is left as written: it
calls nothing, and a phone number in E.164 must stay machine-readable (Art. 20(1)).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

# What a spreadsheet takes as the start of a formula (or DDE call), after OWASP's "CSV injection".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def cell(value: Any) -> str:
    """The value as the text of one cell, neutralised when a spreadsheet would run it."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and _NUMBER.fullmatch(text) is None:
        return "'" + text
    return text


class SafeWriter:
    """`csv.writer`, with every cell through `cell`."""

    def __init__(self, handle: IO[str], **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: IO[str], **options: Any) -> SafeWriter:
    return SafeWriter(handle, **options)
