"""Letters in one process keep their own language's dates, whichever language was rendered before."""

from __future__ import annotations

from datetime import date

from personvern.reports.package import _environment


def test_each_language_keeps_its_date_filter() -> None:
    nb, en = _environment("nb"), _environment("en")
    assert nb.filters["when"](date(2031, 1, 1)) == "1. januar 2031"
    assert en.filters["when"](date(2031, 1, 1)) == "1 January 2031"
