"""The privacy statistics over HTTP, on the command line and in the console, on SQLite and PostgreSQL.

The figures themselves are checked month by month in tests/integration/test_statistics_store.py; here each
adapter shows the same few exact figures, refuses staff, and names the field of a bad year.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from personvern.services import breaches, consent, register, rights
from personvern.services.breaches import BreachInput
from tests.conftest import NOW
from tests.e2e.conftest import error_of
from tests.e2e.support import ONE_TIME, add, values

EMPTY_BREACHES = {
    "year": 2026,
    "breaches": 0,
    "notified_authority": 0,
    "notified_late": 0,
    "notified_subjects": 0,
    "not_required": 0,
    "overdue": 0,
}


def _a_refused_request_and_a_consent(ctx: Any) -> None:
    sid = register.add_subject(ctx, ONE_TIME, values(1), {}).id
    request = rights.open_request(ctx, "access", subject_id=sid).request
    rights.reject_request(ctx, request.id, "manifestly unfounded")
    consent.give_consent(ctx, sid, "marketing", "sms", "web")


def test_the_ceo_reads_a_years_statistics_over_http_and_staff_may_not(api):
    _a_refused_request_and_a_consent(api.runtime.context())
    got = api.get("/api/v1/statistics?year=2026")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["period"] == {"from": 2026, "until": 2026} and body["time_zone"] == "Europe/Oslo"
    assert body["requests"] == [
        {
            "month": "2026-11",
            "type": "access",
            "received": 1,
            "completed": 0,
            "rejected": 1,
            "extended": 0,
            "open": 0,
            "overdue": 0,
            "answered_late": 0,
        }
    ]
    assert body["answer_times"] == [
        {"type": "access", "received": 1, "answered": 1, "median_days": 0.0, "slowest_days": 0}
    ]
    assert body["breaches"] == [EMPTY_BREACHES]
    assert body["consents"] == [
        {"month": "2026-11", "purpose": "marketing", "channel": "sms", "method": "web", "given": 1, "withdrawn": 0}
    ]
    assert body["cookie_choices"] == []
    assert api.get("/api/v1/statistics").json() == body  # this year by default

    for role in ("staff", "auditor"):
        refused = api.get("/api/v1/statistics", role=role)
        assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    assert api.get("/api/v1/statistics", role=None).status_code == 401
    for bad in ("abc", "1999", "2027"):
        answer = api.get(f"/api/v1/statistics?year={bad}")
        assert answer.status_code == 422, (bad, answer.text)
        assert error_of(answer)["field"] == "year"


def test_the_cli_prints_them_as_a_table_csv_and_json(pv_ready):
    pv = pv_ready
    sid = add(pv, 1, ONE_TIME, "--now", NOW)
    assert pv("consent", "give", sid, "--purpose", "marketing", "--channel", "email", "--method", "paper",
              "--now", NOW).exit_code == 0  # fmt: skip
    data = pv.json("statistics", "--year", "2026", "--now", NOW)
    assert data["consents"] == [
        {"month": "2026-11", "purpose": "marketing", "channel": "email", "method": "paper", "given": 1, "withdrawn": 0}
    ]
    assert data["breaches"] == [EMPTY_BREACHES] and data["requests"] == []
    assert pv.json("statistics", "--format", "json", "--now", NOW) == data

    table = pv("statistics", "--now", NOW)
    assert table.exit_code == 0, table.stderr
    assert "Consent given and withdrawn per month" in table.stdout and "2026-11" in table.stdout
    assert "Requests per month of receipt and type: none" in table.stdout

    sheet = pv("statistics", "--format", "csv", "--now", NOW)
    assert sheet.exit_code == 0, sheet.stderr
    lines = list(csv.reader(io.StringIO(sheet.stdout)))
    assert lines[0] == ["table", "controller", "period", "time_zone", "made_at"]
    assert lines[1][:4] == ["about", "24 Center AS", "2026", "Europe/Oslo"]
    assert ["table", "month", "purpose", "channel", "method", "given", "withdrawn"] in lines
    assert ["consents", "2026-11", "marketing", "email", "paper", "1", "0"] in lines
    assert ["breaches", "2026", "0", "0", "0", "0", "0", "0"] in lines


def test_the_cli_refuses_a_bad_year_or_format_and_staff(pv_ready):
    pv = pv_ready
    for args, code, said in (
        (("--year", "1999"), 3, "year: must be a year from 2000 to this year (2026)"),
        (("--year", "2027"), 3, "year: must be a year from 2000"),
        (("--format", "xml"), 3, "format: must be one of: table, csv, json"),
        (("--format", "csv", "--json"), 3, "--json prints the statistics as JSON"),
        (("--role", "staff"), 6, "role 'staff' may not handle data subject requests"),
        (("--year", "twenty"), 2, "--year"),  # not a number: the command line's own usage error
    ):
        result = pv("statistics", *args, "--now", NOW)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""


def test_the_console_shows_them_to_the_ceo_with_a_csv_and_refuses_staff(console):
    ctx = console.runtime.context()
    _a_refused_request_and_a_consent(ctx)
    breaches.add_breach(ctx, BreachInput(description="A laptop was stolen", discovered_at=ctx.clock.now()))
    page = console.signed_in("ceo")
    shown = page.get("/console/statistics")
    assert shown.status_code == 200, shown.text[:500]
    text = shown.text
    assert '<a href="/console/statistics" aria-current="page">Statistics</a>' in text
    assert "<caption>Requests per month of receipt and type</caption>" in text
    assert '<th scope="row">2026-11</th><td>Access (Art. 15)</td>' in text
    assert '<th scope="row">2026</th><td class="n">1</td>' in text  # one breach this year
    assert 'href="/console/statistics.csv?year=2026"' in text and 'for="f-year"' in text

    sheet = page.get("/console/statistics.csv?year=2026")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.headers["content-disposition"] == 'attachment; filename="statistics-2026.csv"'
    lines = list(csv.reader(io.StringIO(sheet.text)))
    assert ["requests", "2026-11", "access", "1", "0", "1", "0", "0", "0", "0"] in lines
    assert ["breaches", "2026", "1", "0", "0", "0", "0", "0"] in lines

    for bad in ("20x6", "2030", "1999"):
        refused = page.get(f"/console/statistics?year={bad}")
        assert refused.status_code == 422 and 'id="f-year-error"' in refused.text, bad
        assert "<caption>Requests per month of receipt and type</caption>" in refused.text  # this year instead
    assert page.get("/console/statistics?year=2025").status_code == 200

    norsk = console.page()
    console.sign_in(console.user("ceo", name="daglig-leder", language="nb"), page=norsk)
    assert "<h1>Personvernstatistikk 2026</h1>" in norsk.get("/console/statistics").text

    staff = console.signed_in("staff")
    assert staff.get("/console/statistics").status_code == 403
    assert staff.get("/console/statistics.csv").status_code == 403
    assert 'href="/console/statistics"' not in staff.get("/console/").text
