"""An import file read as CSV: its header and its rows, each with the line it starts on (the header is line 1)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, TextIO

from personvern.domain.errors import FieldProblem, InvalidInput, invalid

SNIFFED = 64 * 1024  # characters read to recognise the delimiter
# Characters in one line of a file. No value of ours is near it (the longest, a note, is a few thousand);
# a longer line is refused naming it, read no further than this bound, so a line of a million characters
# (a binary file, a broken export) never lands in memory whole.
MAX_LINE = 100_000


def _lines(f: TextIO, name: str, limit: int | None) -> Iterator[str]:
    """The file's lines, each read with a bound; past `limit` characters in all the file is refused."""
    number = total = 0
    while line := f.readline(MAX_LINE + 1):
        number += 1
        total += len(line)
        if len(line) > MAX_LINE and line[-1] not in "\r\n":
            raise InvalidInput(
                [FieldProblem("file", f"the line is longer than {MAX_LINE:,} characters", number)],
                f"{name} cannot be imported: nothing was stored",
            )
        if limit is not None and total > limit:
            raise invalid("file", f"{name} is larger than {limit:,} characters; split it into smaller files")
        yield line


def read_rows(f: TextIO, name: str, limit: int | None = None) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows of an open text file; `;`, `,` and tab are recognised as delimiters.

    A line longer than MAX_LINE characters, or a file longer than `limit`, is refused before it is read whole.

    `name` says which file in an error (a path on the command line, the uploaded file's name in the API).
    Errors in a file name its own line numbers (DESIGN.md §3 'Validation'), so a quoted value that spans
    lines is reported by the line its record starts on.
    """
    sample = f.readline(SNIFFED)
    f.seek(0)
    try:
        dialect: Any = csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(_lines(f, name, limit), dialect=dialect)
    try:
        header = [h.strip() for h in next(reader, [])]
        twice = sorted({h for h in header if header.count(h) > 1})
        if twice and twice[-1]:
            raise invalid(twice[-1], "column appears more than once in the header")
        if twice and any(header):
            raise invalid("file", f"{name}: the header has more than one column without a name")
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
