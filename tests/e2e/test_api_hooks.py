"""/hooks/linkmobility/reports and /inbound: HTTP Basic from the settings, bounded bodies, the `sms` use cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import error_of
from tests.e2e.support import ONE_TIME, count, e164, values

ROOT = Path(__file__).resolve().parents[2]
REPORTS = "/hooks/linkmobility/reports"
INBOUND = "/hooks/linkmobility/inbound"
USER, PASSWORD = "linkmobility", "a-long-hook-password-0123"
AUTH = (USER, PASSWORD)
STORED = ("messages", "consent_events", "outbox")


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_USER", USER)
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_PASSWORD", PASSWORD)


def stored(api) -> dict[str, int]:
    return {table: count(api.pv.db_url, table) for table in STORED}


def post(api, path: str, body: object, auth: object = AUTH, **kw):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    return api.client.post(path, content=content, auth=auth, headers=headers, **kw)


def customer_with_sms(api, n: int = 1) -> tuple[str, str, str]:
    """A customer with a marketing consent and an SMS queued: (subject id, message id, outbox row id)."""
    sid = api.post("/api/v1/subjects", json={"kind": ONE_TIME, "values": values(n)}).json()["id"]
    api.post("/api/v1/relationships", json={"subject_id": sid})
    api.post(f"/api/v1/subjects/{sid}/consents/give", json={"channel": "sms", "method": "web"})
    sent = api.post("/api/v1/sms", json={"subject_id": sid, "purpose": "service", "text": "Hei"}).json()
    return sid, sent["message_id"], sent["outbox_id"]


def test_without_settings_the_hooks_refuse_everyone(api, monkeypatch):
    monkeypatch.delenv("PERSONVERN_LINKMOBILITY_HOOK_USER", raising=False)
    monkeypatch.delenv("PERSONVERN_LINKMOBILITY_HOOK_PASSWORD", raising=False)
    for path in (REPORTS, INBOUND):
        refused = post(api, path, {"source": e164(1), "content": {"userData": "STOPP"}})
        assert refused.status_code == 401, refused.text
        error = error_of(refused)
        assert error["code"] == "unauthenticated"
        assert "PERSONVERN_LINKMOBILITY_HOOK_USER and PERSONVERN_LINKMOBILITY_HOOK_PASSWORD" in error["message"]
        assert refused.headers["www-authenticate"].startswith("Basic ")
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_USER", USER)
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_PASSWORD", "short")
    short = post(api, REPORTS, [], auth=(USER, "short"))
    assert short.status_code == 401 and "shorter than 16 characters" in error_of(short)["message"]


def test_wrong_or_missing_credentials_are_401_and_store_nothing(api, hooks):
    sid, _message, row = customer_with_sms(api)
    before = stored(api)
    report = {"refId": row, "resultCode": 1001}
    for auth in (None, (USER, "wrong-password-but-long"), ("someone", PASSWORD), ("", "")):
        refused = post(api, REPORTS, report, auth=auth)
        assert refused.status_code == 401, (auth, refused.text)
        assert refused.headers["www-authenticate"].startswith("Basic ")
    bearer = api.client.post(REPORTS, json=report, headers={"Authorization": f"Bearer {api.token()}"})
    assert bearer.status_code == 401
    stop = post(api, INBOUND, {"source": e164(1), "content": {"userData": "STOPP"}}, auth=(USER, "nope"))
    assert stop.status_code == 401
    assert stored(api) == before
    assert api.get(f"/api/v1/sms?subject_id={sid}").json()["items"][0]["status"] == "pending"


def test_delivery_reports_move_the_messages_status(api, hooks):
    sid, message, row = customer_with_sms(api)
    answer = post(api, REPORTS, {"refId": row, "id": "D39kDrtq2fzHmEyzrR2Wfg", "resultCode": 1001, "segments": 1})
    assert answer.status_code == 200, answer.text
    [outcome] = answer.json()["recorded"]
    assert (outcome["refId"], outcome["message_id"], outcome["status"], outcome["result"]) == (
        row,
        message,
        "delivered",
        "recorded",
    )
    assert answer.json()["counts"]["recorded"] == 1
    [shown] = api.get("/api/v1/sms", params={"subject_id": sid}).json()["items"]
    assert (shown["status"], shown["result_code"], shown["vendor_message_id"]) == (
        "delivered",
        1001,
        "D39kDrtq2fzHmEyzrR2Wfg",
    )
    example = json.loads((ROOT / "examples" / "linkmobility-reports.json").read_text("utf-8"))
    several = post(api, REPORTS, example)
    assert several.status_code == 200, several.text
    assert [o["result"] for o in several.json()["recorded"]] == ["unknown", "unknown"]


def test_malformed_reports_are_400_and_nothing_is_recorded(api, hooks):
    sid, _message, row = customer_with_sms(api)
    before = stored(api)
    cases = [
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        ([], "reports"),
        ({"refId": row}, "resultCode"),
        ([{"refId": row, "resultCode": 1001}, {"resultCode": "x"}], None),
        ("a string", None),
    ]
    for body, field in cases:
        answer = post(api, REPORTS, body)
        assert answer.status_code == 400, (body, answer.text)
        error = error_of(answer)
        assert error["code"] == "bad_request"
        if field is not None:
            assert field in error["field"], (body, error)
    assert stored(api) == before
    assert api.get("/api/v1/sms", params={"subject_id": sid}).json()["items"][0]["status"] == "pending"


def test_stopp_withdraws_sms_marketing_consent_at_once(api, hooks):
    sid, _message, _row = customer_with_sms(api)
    example = json.loads((ROOT / "examples" / "linkmobility-inbound.json").read_text("utf-8"))
    assert example["source"] == "+4791234567"
    stop = post(api, INBOUND, {"source": e164(1)[1:], "destination": "24Center", "content": {"userData": "Stopp."}})
    assert stop.status_code == 200, stop.text
    assert stop.json() == {"keyword": "STOPP"}
    ledger = api.get(f"/api/v1/subjects/{sid}/consents").json()
    last = ledger["events"][-1]
    assert (last["action"], last["method"], last["recorded_by"]) == ("withdrawn", "sms_reply", "hook:linkmobility")
    assert ledger["marketing"]["sms"]["allowed"] is False
    stranger = post(api, INBOUND, example)
    assert stranger.status_code == 200 and stranger.json() == stop.json()  # tells nothing about who is a customer
    chatter = post(api, INBOUND, {"source": e164(1), "content": {"userData": "Hei"}})
    assert chatter.json() == {"keyword": None}


def test_malformed_replies_are_400(api, hooks):
    before = stored(api)
    for body, field in [({}, "source"), ({"source": e164(1)}, "content.userData"), ([1], "message"), (b"{", "body")]:
        answer = post(api, INBOUND, body)
        assert answer.status_code == 400, (body, answer.text)
        assert error_of(answer)["field"] == field
    assert stored(api) == before


def test_bodies_larger_than_allowed_are_413(api, hooks, monkeypatch):
    from personvern.api import hooks as hooks_module

    monkeypatch.setattr(hooks_module, "MAX_HOOK_BODY", 64)
    big = {"source": e164(1), "content": {"userData": "STOPP" + " " * 100}}
    declared = post(api, INBOUND, big)
    assert declared.status_code == 413 and error_of(declared)["code"] == "too_large"

    def chunks():  # no Content-Length: the bound is kept while reading
        yield json.dumps(big).encode()

    streamed = api.client.post(INBOUND, content=chunks(), auth=AUTH, headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text


def test_the_hooks_are_not_under_the_api_prefix_and_are_documented(api, hooks):
    assert post(api, "/api/v1/hooks/linkmobility/reports", []).status_code == 404
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"/hooks/linkmobility/reports", "/hooks/linkmobility/inbound"} <= set(paths)
    assert "413" in paths[REPORTS]["post"]["responses"] and "401" in paths[REPORTS]["post"]["responses"]
