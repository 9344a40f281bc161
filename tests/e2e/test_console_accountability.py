"""The outbox, the annual review and the audit log in the console, and an overview that audits nothing per view."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from personvern.domain.outbox import RetryPolicy
from personvern.services import messaging, outbox, register
from tests.e2e.support import NOW, ONE_TIME, add, count, sql, values

# A prospect is kept 90 days from receipt (issue 16): one added this long before NOW is due by NOW, and the
# register has held data since 2025, so the review of 2025 is owed.
ADDED_2025 = "2025-06-02T12:00:00+00:00"


def _dead_row(console) -> str:
    ctx = console.runtime.context()
    sid = register.add_subject(ctx, ONE_TIME, values(1), {}).id
    register.start_relationship(ctx, sid, "order")
    queued = messaging.send_sms(ctx, sid, "service", "Kortet ditt er klart")
    (row,) = outbox.claim_due(ctx, 10, timedelta(minutes=1))
    outbox.record_failure(ctx, row, "LINK Mobility refused the credentials", RetryPolicy(), lambda: 0.5, permanent=True)
    return queued.outbox_id


def test_a_share_called_off_is_no_delivery_given_up_on(console):
    """A HubSpot share called off because consent went before delivery is dead by design, not a failure: the
    overview does not ask anyone to retry it, the outbox still lists it, and a retry is refused."""
    pv = console.pv
    sid = add(pv, 1, ONE_TIME)
    assert pv("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW).exit_code == 0
    assert pv("consent", "withdraw", "--method", "web", sid, "--channel", "email", "--now", NOW).exit_code == 0
    [(row_id, error)] = sql(pv.db_url, "SELECT id, last_error FROM outbox WHERE state = 'dead'")
    assert error.startswith("called off: ")
    page = console.signed_in("ceo")
    overview = page.get("/console/").text
    assert "Every delivery went through or is still being tried." in overview and row_id not in overview
    assert row_id in page.get("/console/outbox?show=dead").text
    refused = page.post(f"/console/outbox/{row_id}/retry")
    assert refused.status_code == 409 and "queue a new message if it is allowed now" in refused.text


def test_the_outbox_lists_rows_without_personal_data_and_retries_a_dead_one(console):
    row_id = _dead_row(console)
    page = console.signed_in("staff")
    listed = page.get("/console/outbox")
    assert listed.status_code == 200 and row_id in listed.text and "given up on" in listed.text
    assert "refused the credentials" in listed.text and "kept until" in listed.text
    assert "+4741" not in listed.text and "Kortet ditt" not in listed.text and "Person 1" not in listed.text
    assert row_id in page.get("/console/outbox?show=dead").text
    assert f'action="/console/outbox/{row_id}/retry"' in listed.text
    overview = page.get("/console/").text
    assert 'href="/console/outbox?show=dead"' in overview
    retried = page.post(f"/console/outbox/{row_id}/retry")
    assert retried.status_code == 303
    after = page.follow(retried)
    assert "fresh count of attempts" in after.text and f'action="/console/outbox/{row_id}/retry"' not in after.text
    again = page.post(f"/console/outbox/{row_id}/retry")
    assert again.status_code == 409 and "only a dead row can be retried" in again.text
    assert page.post(f"/console/outbox/{'f' * 32}/retry").status_code == 404
    assert sql(console.pv.db_url, "SELECT state FROM outbox WHERE id = :i", i=row_id) == [("pending",)]
    auditor = console.signed_in("auditor")
    assert auditor.get("/console/outbox").status_code == 403
    assert auditor.post(f"/console/outbox/{row_id}/retry").status_code == 403


def test_the_review_is_run_downloaded_and_signed_by_the_ceo(console):
    add(console.pv, 1, ONE_TIME, "--now", ADDED_2025)  # nothing keeps it: listed without a reason
    page = console.signed_in("ceo")
    overview = page.get("/console/").text
    assert 'href="/console/review?year=2025"' in overview
    year = page.get("/console/review?year=2025")
    assert year.status_code == 200 and "None has been run for 2025." in year.text
    before = count(console.pv.db_url, "reviews")
    for bad in ("", "25", "2031"):
        answer = page.post("/console/review", {"year": bad})
        assert answer.status_code == 422 and 'id="f-year-error"' in answer.text, bad
    assert page.get("/console/review?year=twenty").status_code == 422
    assert count(console.pv.db_url, "reviews") == before
    ran = page.post("/console/review", {"year": "2026"})
    assert ran.status_code == 303
    review_id = ran.headers["location"].split("/")[-1].split("?")[0]
    shown = page.follow(ran)
    assert "The review is stored" in shown.text and "Sign the review" in shown.text
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", shown.text))
    assert figures["Without a reason to be kept"] == "1"
    data = page.get(f"/console/review/{review_id}/report.json")
    assert data.headers["content-disposition"] == f'attachment; filename="review-2026-{review_id}.json"'
    assert hashlib.sha256(data.content).hexdigest() in shown.text  # the bytes signed
    html = page.get(f"/console/review/{review_id}/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html") and review_id in html.text
    assert page.get(f"/console/review/{review_id}/report.pdf").status_code == 422
    assert review_id in page.get("/console/review?year=2026").text
    unconfirmed = page.post(f"/console/review/{review_id}/sign", {})
    assert unconfirmed.status_code == 422 and 'id="f-confirm-error"' in unconfirmed.text
    assert count(console.pv.db_url, "subjects") == 1
    signed = page.post(f"/console/review/{review_id}/sign", {"confirm": "yes"})
    assert signed.status_code == 200 and "The review is signed" in signed.text
    assert count(console.pv.db_url, "subjects") == 0
    twice = page.post(f"/console/review/{review_id}/sign", {"confirm": "yes"})
    assert twice.status_code == 409 and "was signed on" in twice.text
    staff = console.signed_in("staff")
    assert staff.get("/console/review").status_code == 403
    assert staff.post("/console/review", {"year": "2026"}).status_code == 403
    assert staff.get(f"/console/review/{review_id}/report.json").status_code == 403


def test_the_audit_chain_is_verified_and_the_log_read_with_filters(console):
    kari = register.add_subject(console.runtime.context(), ONE_TIME, values(1), {}).id
    page = console.signed_in("ceo")
    log = page.get("/console/audit")
    assert log.status_code == 200 and "subject.create" in log.text and "Verify the chain" in log.text
    # The auditor verifies the chain but does not read the entries (issue 15: the accounting view only).
    auditor = console.signed_in("auditor")
    seen = auditor.get("/console/audit")
    assert seen.status_code == 200 and "Verify the chain" in seen.text and "subject.create" not in seen.text
    assert auditor.post("/console/audit/verify").status_code == 200
    mine = page.get("/console/audit", params={"subject": kari})
    assert kari in mine.text and "user.add" not in mine.text
    by_action = page.get("/console/audit", params={"action": "user"})
    assert "user.add" in by_action.text and "subject.create" not in by_action.text
    assert "No entry matches." in page.get("/console/audit", params={"since": "2030-01-01"}).text
    bad = page.get("/console/audit", params={"since": "soon"})
    assert bad.status_code == 422 and 'id="f-since-error"' in bad.text
    worse = page.get("/console/audit", params={"before": "x"})
    assert worse.status_code == 422 and "must be an entry number" in worse.text
    intact = page.post("/console/audit/verify")
    assert intact.status_code == 200 and "The audit chain is intact" in intact.text
    sql(console.pv.db_url, "UPDATE audit_log SET details = '{}' WHERE seq = 2")
    broken = page.post("/console/audit/verify")
    assert broken.status_code == 200 and "The audit chain is broken at entry 2." in broken.text
    staff = console.signed_in("staff")
    assert staff.get("/console/audit").status_code == 403
    assert staff.post("/console/audit/verify").status_code == 403


def test_the_overview_adds_no_audit_entry_per_view(console):
    add(console.pv, 1, ONE_TIME, "--now", ADDED_2025)  # due by now: nothing has kept it since
    page = console.signed_in("ceo")
    page.get("/console/")
    entries = count(console.pv.db_url, "audit_log")
    overview = page.get("/console/")
    page.get("/console/")
    assert count(console.pv.db_url, "audit_log") == entries  # no `retention.plan` entry per view
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)</dd>", overview.text))
    assert figures["Customers due for archiving or erasure"] == "1"
    page.get("/console/retention")  # the plan itself is still a read that is recorded, as `retention plan` is
    assert sql(console.pv.db_url, "SELECT count(*) FROM audit_log WHERE action = 'retention.plan'") == [(1,)]
