"""An import file read as CSV: its header and its rows, each with the line it starts on (the header is line 1)."""

from __future__ import annotations

import csv
from typing import Any, TextIO

from personvern.domain.errors import invalid

SNIFFED = 64 * 1024  # characters read to recognise the delimiter


def read_rows(f: TextIO, name: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows of an open text file; `;`, `,` and tab are recognised as delimiters.

    `name` says which file in an error (a path on the command line, the uploaded file's name in the API).
    Errors in a file name its own line numbers (DESIGN.md §3 'Validation'), so a quoted value that spans
    lines is reported by the line its record starts on.
    """
    sample = f.read(SNIFFED)
    f.seek(0)
    try:
        dialect: Any = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(f, dialect=dialect)
    try:
        header = [h.strip() for h in next(reader, [])]
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice:
            raise invalid(twice[0], "column appears more than once in the header")
        rows = []
        last = reader.line_num
        for record in reader:
            start, last = last + 1, reader.line_num
            if not record:
                continue
            if len(record) > len(header):
                raise invalid("file", f"line {start} has more columns than the header")
            rows.append((start, dict(zip(header, record + [""] * (len(header) - len(record)), strict=True))))
    except csv.Error as exc:
        raise invalid("file", f"{name} is not a readable CSV file ({exc})") from None
    if not header or not any(header):
        raise invalid("file", f"{name} is empty; the first line must name the fields")
    return header, rows
