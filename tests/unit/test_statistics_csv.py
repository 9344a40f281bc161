"""The statistics as one CSV file: a section per table under its own header row, no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from personvern.domain.statistics import AnswerTimes, BreachYear, CookieMonth, Period, Statistics
from personvern.reports.statistics import as_csv, as_data


def _stats() -> Statistics:
    return Statistics(
        period=Period(2026, 2026),
        zone="Europe/Oslo",
        made_at=datetime(2026, 11, 25, 12, tzinfo=UTC),
        requests=[],
        answer_times=[AnswerTimes("access", 3, 2, 26.5, 51), AnswerTimes("erasure", 1, 1, 10.0, 10)],
        breaches=[BreachYear(2026, 1, 1, 0, 0, 0, 0)],
        consents=[],
        # A category name comes from whatever the website's banner posted: it may look like a formula.
        cookies=[CookieMonth("2026-01", '=HYPERLINK("https://evil.example")', 1, 0)],
    )


def test_each_table_is_a_section_with_its_header_and_the_table_named_in_the_first_column() -> None:
    lines = list(csv.reader(io.StringIO(as_csv(_stats(), "24 Center AS"))))
    assert lines[:2] == [
        ["table", "controller", "period", "time_zone", "made_at"],
        ["about", "24 Center AS", "2026", "Europe/Oslo", "2026-11-25T12:00:00+00:00"],
    ]
    headers = [line[1] for line in lines if line and line[0] == "table"][1:]
    assert headers == ["month", "type", "year", "month", "month"]  # requests, answer times, breaches, consents, cookies
    assert ["answer_times", "access", "3", "2", "26.5", "51"] in lines
    assert ["answer_times", "erasure", "1", "1", "10", "10"] in lines  # a whole median without ".0"
    empty = lines.index(["table", "month", "type", "received", "completed", "rejected", "extended", "open",
                         "overdue", "answered_late"])  # fmt: skip
    assert lines[empty + 1] == []  # no request: the header, then the next section


def test_a_cell_that_would_start_a_formula_is_written_as_text() -> None:
    text = as_csv(_stats(), "=cmd|' /C calc'!A0")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[1][1] == "'=cmd|' /C calc'!A0"
    assert ["cookie_choices", "2026-01", '\'=HYPERLINK("https://evil.example")', "1", "0"] in lines


def test_the_json_document_names_every_table() -> None:
    data = as_data(_stats(), "24 Center AS")
    assert data["period"] == {"from": 2026, "until": 2026}
    assert set(data) >= {"requests", "answer_times", "breaches", "consents", "cookie_choices"}
    assert data["answer_times"][0] == {
        "type": "access",
        "received": 3,
        "answered": 2,
        "median_days": 26.5,
        "slowest_days": 51,
    }
