"""/api/v1/retention, /archive and /reviews on both databases: plan (JSON pages and CSV), run, the archive, reviews."""

from __future__ import annotations

import csv
import hashlib
import io

from tests.e2e.conftest import error_of
from tests.e2e.support import add, count, values

# Added four months before NOW: a prospect is kept 90 days from receipt (issue 16), so they are due by NOW.
ADDED = "2026-07-25T12:00:00+00:00"


def people(api, *numbers: int) -> list[str]:
    # Nobody with an order, a contract or consent: past the prospect rule's 90 days, each is due for the archive.
    return [add(api.pv, n, "one_time_customer", "--now", ADDED) for n in numbers]


def test_the_plan_in_pages_and_as_csv_then_the_run_archives(api):
    ids = people(api, 1, 2, 3)
    first = api.get("/api/v1/retention/plan?limit=2")
    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["day"], page["due"], len(page["items"])) == ("2026-11-25", 3, 2)
    assert page["items"][0]["action"] == "archive" and page["items"][0]["rule"] == "prospect"
    assert page["outbox"] == page["requests"] == page["answers"] == []
    # All three of the register due at once, more than 2 % of it, and no run of it confirmed yet: the worker's
    # nightly sweep waits for the CEO (issue 16).
    waits = page["unattended"]
    assert (waits["waiting"], waits["confirmed"], waits["due"], waits["in_register"], waits["allowed"]) == (
        True,
        False,
        3,
        3,
        1,
    )
    assert "more than the 1 the worker may archive or erase on its own" in waits["reason"]
    rest = api.get(f"/api/v1/retention/plan?limit=2&cursor={page['next_cursor']}").json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert sorted(i["subject_id"] for i in page["items"] + rest["items"]) == sorted(ids)

    sheet = api.get("/api/v1/retention/plan.csv")
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert sheet.headers["content-disposition"] == 'attachment; filename="retention-plan-2026-11-25.csv"'
    rows = list(csv.reader(io.StringIO(sheet.text)))
    assert rows[0][:3] == ["subject_id", "kind", "action"] and sorted(r[0] for r in rows[1:]) == sorted(ids)

    run = api.post("/api/v1/retention/run", json={"batch": 2})
    assert run.status_code == 200, run.text
    assert (run.json()["due"], run.json()["archived"], run.json()["failed"]) == (3, 3, [])
    assert api.get("/api/v1/retention/plan").json()["due"] == 0
    assert count(api.pv.db_url, "subjects") == 0

    archive = api.get("/api/v1/archive?limit=2").json()
    assert archive["total"] == 3 and len(archive["items"]) == 2 and archive["next_cursor"]
    more = api.get(f"/api/v1/archive?limit=2&cursor={archive['next_cursor']}").json()
    assert len(more["items"]) == 1 and more["next_cursor"] is None
    record = archive["items"][0]
    assert "values" not in record
    shown = api.get(f"/api/v1/archive/{record['id']}").json()
    by_subject = api.get(f"/api/v1/archive/{record['subject_id']}").json()
    assert shown == by_subject and shown["values"]["email"] in {values(n)["email"] for n in (1, 2, 3)}


def test_retention_and_the_archive_are_the_ceo_s(api):
    people(api, 1)
    api.post("/api/v1/retention/run")
    for role in ("staff", "marketing", "auditor"):
        for path in ("/api/v1/retention/plan", "/api/v1/retention/plan.csv", "/api/v1/archive"):
            refused = api.get(path, role=role)
            assert refused.status_code == 403, (role, path, refused.text)
        assert api.post("/api/v1/retention/run", role=role).status_code == 403
    refused = api.get("/api/v1/archive", role="staff")
    assert "may not read the archive" in error_of(refused)["message"]
    assert count(api.pv.db_url, "archive_records") == 1


def test_bad_retention_input_is_refused_and_nothing_runs(api):
    people(api, 1)
    for query, field in (("cursor=%%%", "cursor"), ("limit=501", "limit"), ("cursor=WzFd", "cursor")):
        bad = api.get(f"/api/v1/retention/plan?{query}")
        assert bad.status_code == 422 and error_of(bad)["field"] == field, (query, bad.text)
    for body, field in (({"batch": 0}, "batch"), ({"batch": "many"}, "batch"), ({"size": 1}, "size")):
        bad = api.post("/api/v1/retention/run", json=body)
        assert bad.status_code == 422 and error_of(bad)["field"] == field, (body, bad.text)
    assert count(api.pv.db_url, "archive_records") == 0 and count(api.pv.db_url, "subjects") == 1
    assert api.get("/api/v1/archive/0123456789abcdef0123456789abcdef").status_code == 404
    assert api.get("/api/v1/archive?cursor=WyJ4Il0").status_code == 422  # a cursor of another list


def test_a_review_is_run_read_and_signed(api):
    people(api, 1)
    made = api.post("/api/v1/reviews", json={"year": 2026})
    assert made.status_code == 201, made.text
    review = made.json()
    assert review["summary"]["subjects"] == 1 and review["signed_at"] is None
    assert api.get(f"/api/v1/reviews/{review['id']}").json() == review

    signed_text = api.get(f"/api/v1/reviews/{review['id']}/report")
    assert signed_text.headers["content-type"] == "application/json"
    assert hashlib.sha256(signed_text.content).hexdigest() == review["sha256"]
    page = api.get(f"/api/v1/reviews/{review['id']}/report?format=html&lang=en")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert review["sha256"] in page.text

    signed = api.post(f"/api/v1/reviews/{review['id']}/sign")
    assert signed.status_code == 200, signed.text
    assert signed.json()["signed_by"] == "user:ceo-user" and signed.json()["archived"] == 1
    again = api.post(f"/api/v1/reviews/{review['id']}/sign")
    assert again.status_code == 409 and "was signed" in error_of(again)["message"]


def test_bad_review_input_and_other_roles(api):
    for body, field in (({"year": 1999}, "year"), ({"year": 2027}, "year"), ({}, "year"), ({"year": "x"}, "year")):
        bad = api.post("/api/v1/reviews", json=body)
        assert bad.status_code == 422 and error_of(bad)["field"] == field, (body, bad.text)
    assert count(api.pv.db_url, "reviews") == 0
    review = api.post("/api/v1/reviews", json={"year": 2026}).json()
    for query, field in (("format=pdf", "format"), ("format=html&lang=de", "lang")):
        bad = api.get(f"/api/v1/reviews/{review['id']}/report?{query}")
        assert bad.status_code == 422 and error_of(bad)["field"] == field, (query, bad.text)
    assert api.get("/api/v1/reviews/0123456789abcdef0123456789abcdef").status_code == 404
    for role in ("staff", "marketing", "auditor"):
        assert api.post("/api/v1/reviews", role=role, json={"year": 2026}).status_code == 403
        assert api.post(f"/api/v1/reviews/{review['id']}/sign", role=role).status_code == 403
    assert api.get(f"/api/v1/reviews/{review['id']}").json()["signed_at"] is None
