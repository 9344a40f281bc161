"""/api/v1/breaches on both databases: record, list, show, update, notify the authority and the people affected."""

from __future__ import annotations

from tests.conftest import NOW
from tests.e2e.conftest import error_of
from tests.e2e.support import add, count

DISCOVERED = "2026-11-25T09:00:00+01:00"  # 08:00 UTC, four hours before NOW: due 2026-11-28T08:00Z


def record(api, **more) -> dict:
    body = {"description": "A laptop with the customer list was stolen", "discovered_at": DISCOVERED, **more}
    made = api.post("/api/v1/breaches", json=body)
    assert made.status_code == 201, made.text
    return made.json()


def test_a_breach_from_its_record_to_the_people_told(api):
    sid = add(api.pv, 1, "one_time_customer", "--now", NOW)
    b = record(api, categories=["name", "phone"], people=1, risk="high", subjects=[sid])
    assert (b["status"], b["deadline"], b["subjects_must_be_told"]) == ("due", "2026-11-28T08:00:00Z", True)

    listed = api.get("/api/v1/breaches").json()
    assert [i["id"] for i in listed["items"]] == [b["id"]] and listed["next_cursor"] is None
    assert api.get("/api/v1/breaches?overdue=true").json()["items"] == []
    shown = api.get(f"/api/v1/breaches/{b['id']}?lang=en").json()
    assert shown["id"] == b["id"] and shown["report"]

    updated = api.patch(f"/api/v1/breaches/{b['id']}", json={"records": 120, "cause": "theft"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["changed"] == ["cause", "records"] and updated.json()["records"] == 120
    cleared = api.patch(f"/api/v1/breaches/{b['id']}", json={"cause": ""}).json()
    assert cleared["cause"] is None

    told = api.post(f"/api/v1/breaches/{b['id']}/notify/authority", json={"reference": "AR-1"})
    assert told.status_code == 201, told.text
    assert (told.json()["recipient"], told.json()["phase"], told.json()["reference"]) == (
        "authority",
        "initial",
        "AR-1",
    )
    sms = api.post(f"/api/v1/breaches/{b['id']}/notify/subjects", json={"text": "Vi har hatt et brudd."})
    assert sms.status_code == 201, sms.text
    assert [q["subject_id"] for q in sms.json()["queued"]] == [sid] and sms.json()["no_phone"] == []
    after = api.get(f"/api/v1/breaches/{b['id']}").json()
    assert after["status"] == "notified" and after["subjects_must_be_told"] is False
    assert [n["recipient"] for n in after["notifications"]] == ["authority", "subjects"]


def test_facts_told_with_the_final_notification_and_a_closed_breach(api):
    b = record(api)
    final = {"reference": "AR-2", "phase": "final", "records": 10, "people": 3}
    assert api.post(f"/api/v1/breaches/{b['id']}/notify/authority", json=final).status_code == 201
    closed = api.get(f"/api/v1/breaches/{b['id']}").json()
    assert (closed["closed"], closed["records"], closed["people"]) == (True, 10, 3)
    refused = api.patch(f"/api/v1/breaches/{b['id']}", json={"records": 12})
    assert refused.status_code == 409
    message = error_of(refused)["message"]
    assert "is closed" in message and "(phase follow_up)" in message and "--" not in message
    follow = {"reference": "AR-3", "phase": "follow_up", "records": 12}
    assert api.post(f"/api/v1/breaches/{b['id']}/notify/authority", json=follow).status_code == 201
    assert api.get(f"/api/v1/breaches/{b['id']}").json()["records"] == 12


def test_bad_breach_input_names_the_field_and_stores_nothing(api):
    cases = [
        ({"discovered_at": DISCOVERED}, "description", "required"),
        ({"description": "x"}, "discovered_at", "required"),
        ({"description": "x", "discovered_at": "2026-11-25T09:00:00"}, "discovered_at", "timezone"),
        ({"description": "x", "discovered_at": "2026-12-25T09:00:00Z"}, "discovered_at", "future"),
        ({"description": "x", "discovered_at": DISCOVERED, "occurred_until": DISCOVERED}, "occurred_until", ""),
        ({"description": "x", "discovered_at": DISCOVERED, "risk": "unlikely"}, "risk_reason", "why"),
        ({"description": "x", "discovered_at": DISCOVERED, "risk": "low"}, "risk", ""),
        ({"description": "x", "discovered_at": DISCOVERED, "people": -1}, "people", ""),
        ({"description": "a\x00b", "discovered_at": DISCOVERED}, "description", "control"),
        ({"description": "x", "discovered_at": DISCOVERED, "colour": "red"}, "colour", ""),
    ]
    for body, field, needle in cases:
        refused = api.post("/api/v1/breaches", json=body)
        assert refused.status_code == 422, (body, refused.text)
        error = error_of(refused)
        assert error["field"] == field and needle in error["message"], (body, error)
        assert "--" not in error["message"], error
    until = api.post(
        "/api/v1/breaches", json={"description": "x", "discovered_at": DISCOVERED, "occurred_until": DISCOVERED}
    )
    assert "needs the time the breach began" in error_of(until)["message"]
    missing = api.post(
        "/api/v1/breaches",
        json={"description": "x", "discovered_at": DISCOVERED, "subjects": ["0123456789abcdef0123456789abcdef"]},
    )
    assert missing.status_code == 404
    assert count(api.pv.db_url, "breaches") == 0

    b = record(api)
    nothing = api.patch(f"/api/v1/breaches/{b['id']}", json={})
    assert nothing.status_code == 422 and "an affected subject to add" in error_of(nothing)["message"]
    for to, body, field in (
        ("authority", {}, "reference"),
        ("authority", {"reference": "R", "text": "hei"}, "text"),
        ("authority", {"reference": "R", "phase": "later"}, "phase"),
        ("authority", {"reference": "R", "at": "2026-11-26T09:00:00Z"}, "at"),
        ("authority", {"reference": "R", "late_reason": "slow"}, "late_reason"),
        ("subjects", {"text": "hei", "reference": "R"}, "reference"),
        ("subjects", {}, "text"),
        ("subjects", {"text": "a\x00b"}, "text"),
    ):
        refused = api.post(f"/api/v1/breaches/{b['id']}/notify/{to}", json=body)
        assert refused.status_code == 422 and error_of(refused)["field"] == field, (body, refused.text)
        assert "--" not in error_of(refused)["message"]
    assert api.post(f"/api/v1/breaches/{b['id']}/notify/press", json={}).status_code == 404
    nobody = api.post(f"/api/v1/breaches/{b['id']}/notify/subjects", json={"text": "hei"})
    assert nobody.status_code == 422 and "add them to the breach first" in error_of(nobody)["message"]
    assert api.get(f"/api/v1/breaches/{b['id']}").json()["notifications"] == []
    assert api.get(f"/api/v1/breaches/{b['id']}?lang=de").status_code == 422
    assert api.get("/api/v1/breaches/0123456789abcdef0123456789abcdef").status_code == 404


def test_pages_and_roles(api):
    for _ in range(3):
        record(api)
    first = api.get("/api/v1/breaches?limit=2").json()
    second = api.get(f"/api/v1/breaches?limit=2&cursor={first['next_cursor']}").json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
    for role in ("staff", "marketing", "auditor"):
        assert api.get("/api/v1/breaches", role=role).status_code == 403
        refused = api.post("/api/v1/breaches", role=role, json={"description": "x", "discovered_at": DISCOVERED})
        assert refused.status_code == 403 and "handle security breaches" in error_of(refused)["message"]
    assert count(api.pv.db_url, "breaches") == 3
