"""The rest of the console: the overview, retention plan and run, the archive, breaches, notice, record, users."""

from __future__ import annotations

import re

from personvern.services import register, rights
from tests.e2e.support import ONE_TIME, add, count, values


def test_the_overview_shows_requests_overdue_first_the_breach_clock_retention_and_the_review(console):
    ctx = console.runtime.context()
    kari = register.add_subject(ctx, ONE_TIME, values(1), {}).id
    from datetime import datetime, timedelta

    from tests.conftest import NOW

    now = datetime.fromisoformat(NOW)
    late = rights.open_request(ctx, "access", subject_id=kari, received_at=now - timedelta(days=40)).request
    fresh = rights.open_request(ctx, "erasure", subject_id=kari).request
    page = console.signed_in("ceo")
    page.post(
        "/console/breaches/new",
        {"description": "A laptop was stolen", "discovered": "2026-11-25T10:00", "risk": "likely"},
    )
    overview = page.get("/console/").text
    assert overview.index(late.id) < overview.index(fresh.id)  # overdue first
    assert "overdue by" in overview
    assert "h 0 min left of the 72 hours" in overview  # discovered 10:00 Oslo time, now 13:00: 69 h left
    assert "69 h 0 min left" in overview
    assert "Customers due for archiving or erasure" in overview and "The annual review" in overview
    staff = console.signed_in("staff").get("/console/").text
    assert "Open requests" not in staff and "Breach clock" not in staff and "Deliveries given up on" in staff


def test_retention_runs_only_after_its_confirmation(console):
    # No order or contract, and past the prospect rule's 90 days since receipt (issue 16): nothing keeps it.
    add(console.pv, 1, ONE_TIME, "--now", "2026-07-25T12:00:00+00:00")
    page = console.signed_in("ceo")
    plan = page.get("/console/retention")
    assert plan.status_code == 200 and "Subjects due" in plan.text
    confirm = page.get("/console/retention/run")
    assert 'type="checkbox"' in confirm.text and 'for="f-confirm"' in confirm.text
    before = count(console.pv.db_url, "archive_records")
    unconfirmed = page.post("/console/retention/run", {})
    assert unconfirmed.status_code == 422 and 'id="f-confirm-error"' in unconfirmed.text
    assert count(console.pv.db_url, "archive_records") == before and count(console.pv.db_url, "subjects") == 1
    ran = page.post("/console/retention/run", {"confirm": "yes"})
    assert ran.status_code == 200 and "Retention has run" in ran.text
    assert count(console.pv.db_url, "subjects") == 0 and count(console.pv.db_url, "archive_records") == before + 1
    archive = page.get("/console/archive")
    record_id = re.search(r'href="/console/archive/([0-9a-f]{32})"', archive.text).group(1)
    shown = page.get(f"/console/archive/{record_id}")
    assert shown.status_code == 200 and "Person 1 Nordmann" in shown.text
    staff = console.signed_in("staff")
    assert staff.get("/console/retention").status_code == 403
    assert staff.get(f"/console/archive/{record_id}").status_code == 403


def test_breaches_are_recorded_updated_and_notified_through_forms(console):
    page = console.signed_in("ceo")
    before = count(console.pv.db_url, "breaches")
    bad = page.post(
        "/console/breaches/new",
        {"description": "", "discovered": "2026-11-25T10:00", "people": "many", "risk": "unlikely"},
    )
    assert bad.status_code == 422 and 'id="f-people-error"' in bad.text
    missing = page.post("/console/breaches/new", {"description": "", "discovered": "2026-11-25T10:00"})
    assert missing.status_code == 422 and 'id="f-description-error"' in missing.text
    future = page.post("/console/breaches/new", {"description": "x", "discovered": "2030-01-01T10:00"})
    assert future.status_code == 422 and 'id="f-discovered-error"' in future.text
    unlikely = page.post(
        "/console/breaches/new", {"description": "x", "discovered": "2026-11-25T10:00", "risk": "unlikely"}
    )
    assert unlikely.status_code == 422 and 'id="f-risk_reason-error"' in unlikely.text
    assert count(console.pv.db_url, "breaches") == before
    added = page.post(
        "/console/breaches/new",
        {"description": "A laptop was stolen", "discovered": "2026-11-25T10:00", "categories": "contact details"},
    )
    assert added.status_code == 303
    breach_id = added.headers["location"].split("/")[-1].split("?")[0]
    shown = page.follow(added)
    assert "72 hours" in shown.text and "A laptop was stolen" in shown.text
    form = page.get(f"/console/breaches/{breach_id}/edit")
    assert 'value="2026-11-25T10:00"' in form.text
    unchanged = page.post(
        f"/console/breaches/{breach_id}/edit",
        {"description": "A laptop was stolen", "discovered": "2026-11-25T10:00", "categories": "contact details"},
    )
    assert unchanged.status_code == 422 and "Nothing was changed" in unchanged.text
    updated = page.post(
        f"/console/breaches/{breach_id}/edit",
        {"description": "A laptop was stolen", "discovered": "2026-11-25T10:00", "people": "12", "risk": "likely"},
    )
    assert updated.status_code == 303
    no_reference = page.post(f"/console/breaches/{breach_id}/authority", {"reference": ""})
    assert no_reference.status_code == 422 and 'id="f-reference-error"' in no_reference.text
    told = page.post(f"/console/breaches/{breach_id}/authority", {"reference": "ALTINN-123"})
    assert told.status_code == 303
    assert "ALTINN-123" in page.follow(told).text
    assert console.signed_in("staff").get(f"/console/breaches/{breach_id}").status_code == 403


def test_the_notice_and_the_record_are_rendered_in_the_console(console):
    page = console.signed_in("ceo")
    notice = page.get("/console/notice?lang=en")
    assert notice.status_code == 200 and "<style" not in notice.text and "sha256" in notice.text
    assert notice.text.count("<h1") == 1 and notice.text.count("<main") == 1
    norsk = page.get("/console/notice?lang=nb")
    assert 'lang="nb"' in norsk.text
    record = page.get("/console/record")
    assert record.status_code == 200 and record.text.count("<h1") == 1 and "<style" not in record.text
    assert console.signed_in("staff").get("/console/record").status_code == 403


def test_users_are_added_with_their_secrets_shown_once_disabled_and_renewed(console):
    page = console.signed_in("ceo")
    before = count(console.pv.db_url, "users")
    bad = page.post("/console/users", {"name": "Not Valid", "role": "staff", "language": "nb"})
    assert bad.status_code == 422 and 'id="f-name-error"' in bad.text
    assert count(console.pv.db_url, "users") == before
    added = page.post("/console/users", {"name": "ola", "role": "staff", "language": "nb"})
    assert added.status_code == 200 and "shown once" in added.text
    token = re.search(r'<code class="secret">(pv_[^<]+)</code>', added.text).group(1)
    password = re.findall(r'<code class="secret">([^<]+)</code>', added.text)[1]
    assert token not in page.get("/console/users").text  # never shown again
    twice = page.post("/console/users", {"name": "ola", "role": "staff", "language": "nb"})
    assert twice.status_code == 409
    renewed = page.post("/console/users/ola/token")
    assert renewed.status_code == 200 and "The old token stopped working." in renewed.text
    reset = page.post("/console/users/ola/password")
    assert reset.status_code == 200 and "First password" in reset.text
    assert console.sign_in("ola", password).status_code == 401  # the reset replaced it
    disabled = page.post("/console/users/ola/disable")
    assert disabled.status_code == 303 and "disabled" in page.follow(disabled).text
    assert console.signed_in("staff").get("/console/users").status_code == 403


def test_a_change_the_database_gave_up_for_another_is_a_busy_page_not_an_internal_error(console, monkeypatch):
    from sqlalchemy.exc import OperationalError

    class Driver(Exception):
        sqlstate = "40P01"  # PostgreSQL's deadlock_detected: rolled back whole

    def deadlocked(*_args, **_kwargs):
        raise OperationalError("UPDATE subjects …", {}, Driver("deadlock detected"))

    ceo = console.signed_in("ceo")
    monkeypatch.setattr("personvern.services.register.list_subjects", deadlocked)
    page = ceo.get("/console/subjects", params={"q": "Nordmann"})
    assert page.status_code == 503 and page.headers["retry-after"] == "1"
    assert "Send it again" in page.text and "UPDATE" not in page.text
