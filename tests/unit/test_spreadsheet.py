"""CSV cells a spreadsheet would run as a formula are written as text; plain numbers and other text stay as written."""

from __future__ import annotations

import csv
import io

import pytest

from personvern.reports.spreadsheet import cell, writer


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://evil.example","klikk")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=", "-"],
)
def test_a_cell_that_starts_a_formula_is_written_as_text(value: str) -> None:
    assert cell(value) == "'" + value


@pytest.mark.parametrize("value", ["+4791234567", "-12", "+1.5", "Kari Nordmann", "a=b", "", "0047", "kari@example.no"])
def test_numbers_and_plain_text_stay_as_written(value: str) -> None:
    assert cell(value) == value


def test_the_writer_neutralises_every_cell_and_writes_none_as_empty() -> None:
    out = io.StringIO()
    w = writer(out, lineterminator="\n")
    w.writerow(["=1+1", None, 3, "+4791234567"])
    w.writerows([["@x"], ["ok"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["'=1+1", "", "3", "+4791234567"], ["'@x"], ["ok"]]
