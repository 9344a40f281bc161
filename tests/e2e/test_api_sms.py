"""/api/v1/sms and /api/v1/outbox: messages checked, queued and listed; dead rows listed and retried."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import error_of
from tests.e2e.support import NOW, ONE_TIME, count, values
from tests.fakes_linkmobility import FakeLink, pointed_at

TEXT = "Nøkkelkortet ditt er klart i resepsjonen."
OPT_OUT = "Svar STOPP for å melde deg av"
UNKNOWN = "0123456789abcdef0123456789abcdef"
QUEUE = ("messages", "outbox")


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLink]:
    fake = FakeLink()
    with pointed_at(fake, monkeypatch):
        yield fake


def stored(api) -> dict[str, int]:
    return {table: count(api.pv.db_url, table) for table in QUEUE}


def customer(api, n: int, relationship: bool = True) -> str:
    sid = api.post("/api/v1/subjects", json={"kind": ONE_TIME, "values": values(n)}).json()["id"]
    if relationship:
        assert api.post("/api/v1/relationships", json={"subject_id": sid}).status_code == 201
    return sid


def sms(sid: str, purpose: str = "service", text: str = TEXT) -> dict:
    return {"subject_id": sid, "purpose": purpose, "text": text}


def test_preview_then_send_a_service_sms(api):
    sid = customer(api, 1)
    before = stored(api)
    preview = api.post("/api/v1/sms/preview", json=sms(sid), role="staff")
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "subject_id": sid,
        "purpose": "service",
        "text": TEXT,
        "encoding": "GSM-7",
        "segments": 1,
        "characters": len(TEXT),
        "opt_out_appended": False,
    }
    assert stored(api) == before  # a preview queues nothing
    sent = api.post("/api/v1/sms", json=sms(sid), role="staff")
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert (body["status"], body["segments"], body["opt_out_appended"]) == ("pending", 1, False)
    listed = api.get("/api/v1/sms", role="staff").json()
    assert listed["total"] == 1 and listed["next_cursor"] is None
    [message] = listed["items"]
    shown = (message["id"], message["outbox_id"], message["status"])
    assert shown == (body["message_id"], body["outbox_id"], "pending")
    assert TEXT not in str(listed) and "+47" not in str(listed)  # never the text or the number


def test_a_marketing_sms_needs_consent_and_gets_the_opt_out_line(api):
    sid = customer(api, 1, relationship=False)
    before = stored(api)
    refused = api.post("/api/v1/sms", json=sms(sid, "marketing", "Tilbud!"))
    assert refused.status_code == 403 and "no consent to marketing by sms" in error_of(refused)["message"]
    assert stored(api) == before
    api.post(f"/api/v1/subjects/{sid}/consents/give", json={"channel": "sms", "method": "web"})
    preview = api.post("/api/v1/sms/preview", json=sms(sid, "marketing", "Tilbud!")).json()
    assert preview["opt_out_appended"] is True and preview["text"].endswith(OPT_OUT)
    assert api.post("/api/v1/sms", json=sms(sid, "marketing", "Tilbud!"), role="marketing").status_code == 201


def test_bad_messages_are_refused_and_nothing_is_queued(api):
    sid = customer(api, 1)
    without = customer(api, 2, relationship=False)
    api.token("auditor")
    before = stored(api)
    cases = [
        (sms(sid, "gossip"), 422, "purpose"),
        (sms(sid, text=""), 422, "text"),
        (sms(sid, text="   "), 422, "text"),
        (sms(sid, text="x" * 2001), 422, "text"),
        (sms(sid, text="Hei 😀"), 422, "text"),
        (sms(sid, text="x" * 1600), 422, "text"),
        (sms(sid) | {"colour": "red"}, 422, "colour"),
        ({"purpose": "service", "text": TEXT}, 422, "subject_id"),
        (sms(UNKNOWN), 404, None),
        (sms(without), 403, None),
    ]
    for path in ("/api/v1/sms", "/api/v1/sms/preview"):
        for body, status, field in cases:
            answer = api.post(path, json=body)
            assert answer.status_code == status, (path, body, answer.text)
            if field is not None:
                assert error_of(answer)["field"] == field, (body, answer.json())
    assert "active order or contract" in error_of(api.post("/api/v1/sms", json=sms(without)))["message"]
    refused = api.post("/api/v1/sms", json=sms(sid), role="auditor")
    assert refused.status_code == 403 and "may not send SMS" in error_of(refused)["message"]
    assert api.post("/api/v1/sms", json=sms(sid), role=None).status_code == 401
    assert stored(api) == before


def test_the_message_log_is_filtered_and_paged(api):
    one, two = customer(api, 1), customer(api, 2)
    for sid in (one, two, one):
        assert api.post("/api/v1/sms", json=sms(sid)).status_code == 201
    first = api.get("/api/v1/sms", params={"limit": 2}).json()
    assert first["total"] == 3 and len(first["items"]) == 2
    rest = api.get("/api/v1/sms", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    every = api.get("/api/v1/sms").json()["items"]
    assert {m["id"] for m in first["items"] + rest["items"]} == {m["id"] for m in every}
    mine = api.get("/api/v1/sms", params={"subject_id": one}).json()
    assert mine["total"] == 2 and {m["subject_id"] for m in mine["items"]} == {one}
    assert api.get("/api/v1/sms", params={"status": "delivered"}).json()["total"] == 0
    assert api.get("/api/v1/sms", params={"since": "2026-11-26"}).json()["total"] == 0
    assert api.get("/api/v1/sms", params={"since": NOW}).json()["total"] == 3
    for params, field in [({"status": "lost"}, "status"), ({"since": "tomorrow"}, "since"), ({"limit": 0}, "limit")]:
        answer = api.get("/api/v1/sms", params=params)
        assert answer.status_code == 422 and error_of(answer)["field"] == field, (params, answer.text)
    assert api.get("/api/v1/sms", params={"subject_id": UNKNOWN}).status_code == 404
    assert api.get("/api/v1/sms", role="marketing").status_code == 403


def test_the_outbox_lists_dead_rows_and_retries_them(api, link, monkeypatch):
    sid = customer(api, 1)
    row_id = api.post("/api/v1/sms", json=sms(sid)).json()["outbox_id"]
    pending = api.get("/api/v1/outbox", role="staff").json()
    assert [(r["id"], r["state"], r["kind"]) for r in pending["items"]] == [(row_id, "pending", "sms")]
    assert pending["items"][0]["payload"]["purpose"] == "service" and "+47" not in str(pending)
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", "wrong")
    worked = api.pv("worker", "--once", "--now", NOW, "--json")
    assert worked.exit_code == 0, worked.stderr
    dead = api.get("/api/v1/outbox", params={"dead": True}).json()
    assert [r["id"] for r in dead["items"]] == [row_id] and dead["total"] == 1
    assert "refused the credentials" in dead["items"][0]["last_error"]
    assert dead["items"][0]["personal_until"] is not None  # kept for a retry until the policy's time
    assert api.post(f"/api/v1/outbox/{row_id}/retry", role="marketing").status_code == 403
    retried = api.post(f"/api/v1/outbox/{row_id}/retry", role="staff")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    again = api.post(f"/api/v1/outbox/{row_id}/retry")
    assert again.status_code == 409 and "only a dead row can be retried" in error_of(again)["message"]
    assert api.post(f"/api/v1/outbox/{UNKNOWN}/retry").status_code == 404
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", "s3cret")
    assert api.pv("worker", "--once", "--now", NOW, "--json").exit_code == 0
    assert api.get("/api/v1/outbox").json()["items"] == []
    everything = api.get("/api/v1/outbox", params={"all": True}).json()
    assert [(r["id"], r["state"]) for r in everything["items"]] == [(row_id, "delivered")]


def test_the_outbox_is_paged_and_guarded(api):
    sid = customer(api, 1)
    rows = [api.post("/api/v1/sms", json=sms(sid)).json()["outbox_id"] for _ in range(3)]
    first = api.get("/api/v1/outbox", params={"limit": 2}).json()
    second = api.get("/api/v1/outbox", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in first["items"] + second["items"]] == rows
    assert first["total"] == 3 and second["next_cursor"] is None
    for params, field in [({"limit": 501}, "limit"), ({"cursor": "###"}, "cursor"), ({"dead": "perhaps"}, "dead")]:
        answer = api.get("/api/v1/outbox", params=params)
        assert answer.status_code == 422 and error_of(answer)["field"] == field, (params, answer.text)
    assert api.get("/api/v1/outbox", role="marketing").status_code == 403
    assert api.get("/api/v1/outbox", role=None).status_code == 401
