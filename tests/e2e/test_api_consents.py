"""/api/v1/subjects/{id}/consents, objections, restriction and /api/v1/marketing/audience, on both databases."""

from __future__ import annotations

from tests.e2e.conftest import error_of
from tests.e2e.support import ONE_TIME, count, e164, values

S = "/api/v1/subjects"
AUDIENCE = "/api/v1/marketing/audience"
UNKNOWN = "0123456789abcdef0123456789abcdef"
LEDGER = ("consent_events", "subject_blocks", "outbox")


def at(api, iso: str) -> None:
    """Move the API's clock (a simulation register takes any time)."""
    from personvern.bootstrap import FixedClock, parse_instant

    api.runtime.clock = FixedClock(parse_instant(iso))


def stored(api) -> dict[str, int]:
    return {table: count(api.pv.db_url, table) for table in LEDGER}


def add(api, n: int) -> str:
    answer = api.post(S, json={"kind": ONE_TIME, "values": values(n)})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def give(api, sid: str, channel: str = "sms", role: str = "ceo", **more):
    return api.post(f"{S}/{sid}/consents/give", json={"channel": channel, "method": "web"} | more, role=role)


def test_give_withdraw_and_read_the_ledger(api):
    sid = add(api, 1)
    given = give(api, sid, role="staff")
    assert given.status_code == 201, given.text
    event = given.json()
    shown = (event["purpose"], event["channel"], event["action"], event["method"])
    assert shown == ("marketing", "sms", "given", "web")
    assert event["recorded_by"] == "user:staff-user" and event["role"] == "staff"
    assert event["lifted_objections"] == []
    withdrawn = api.post(f"{S}/{sid}/consents/withdraw", json={"channel": "sms", "method": "phone"})
    assert withdrawn.status_code == 201 and withdrawn.json()["action"] == "withdrawn"
    ledger = api.get(f"{S}/{sid}/consents")
    assert ledger.status_code == 200, ledger.text
    body = ledger.json()
    assert [e["action"] for e in body["events"]] == ["given", "withdrawn"]
    assert body["marketing"]["sms"]["allowed"] is False and "withdrawn" in body["marketing"]["sms"]["reason"]
    states = {(s["purpose"], s["channel"]): s["state"] for s in body["state"]}
    assert states[("marketing", "sms")] == "withdrawn" and states[("marketing", "email")] == "never_given"


def test_a_receipt_in_the_kantara_layout(api):
    sid, other = add(api, 1), add(api, 2)
    event = give(api, sid, "email").json()
    receipt = api.get(f"{S}/{sid}/consents/{event['id']}/receipt")
    assert receipt.status_code == 200, receipt.text
    doc = receipt.json()
    assert doc["version"] == "KI-CR-v1.1.0" and doc["language"] == "nb"
    assert (doc["consentReceiptID"], doc["piiPrincipalId"]) == (event["id"], sid)
    assert "person1@" not in receipt.text
    english = api.get(f"{S}/{sid}/consents/{event['id']}/receipt", params={"lang": "en"}).json()
    assert english["language"] == "en"
    assert api.get(f"{S}/{other}/consents/{event['id']}/receipt").status_code == 404
    assert api.get(f"{S}/{sid}/consents/{UNKNOWN}/receipt").status_code == 404
    wrong_lang = api.get(f"{S}/{sid}/consents/{event['id']}/receipt", params={"lang": "de"})
    assert wrong_lang.status_code == 422 and error_of(wrong_lang)["field"] == "lang"


def test_bad_consents_name_the_field_and_store_nothing(api):
    sid = add(api, 1)
    api.token("marketing")
    before = stored(api)
    cases = [
        ({"channel": "fax", "method": "web"}, 422, None),
        ({"channel": "sms", "method": "telepathy"}, 422, "method"),
        ({"channel": "sms"}, 422, "method"),
        ({"channel": "sms", "method": "web", "purpose": "service"}, 422, None),
        ({"channel": "sms", "method": "web", "notice": "abc"}, 422, "notice"),
        ({"channel": "sms", "method": "web", "colour": "red"}, 422, "colour"),
    ]
    for body, status, field in cases:
        answer = api.post(f"{S}/{sid}/consents/give", json=body)
        assert answer.status_code == status, (body, answer.text)
        if field is not None:
            assert error_of(answer)["field"] == field, (body, answer.json())
    never = api.post(f"{S}/{sid}/consents/withdraw", json={"channel": "sms", "method": "web"})
    assert never.status_code == 409, never.text
    assert give(api, UNKNOWN).status_code == 404
    refused = give(api, sid, role="marketing")
    assert refused.status_code == 403 and "may not record consents" in error_of(refused)["message"]
    assert api.get(f"{S}/{sid}/consents", role="auditor").status_code == 403
    assert api.get(f"{S}/{sid}/consents", role=None).status_code == 401
    assert stored(api) == before


def test_an_objection_holds_until_a_fresh_consent(api):
    sid = add(api, 1)
    give(api, sid)
    objected = api.post(f"{S}/{sid}/objections", json={"purpose": "marketing", "reason": "ringte fra Tromsø"})
    assert objected.status_code == 201, objected.text
    block = objected.json()
    assert (block["kind"], block["purpose"], block["active"], block["reason"]) == (
        "objection",
        "marketing",
        True,
        "ringte fra Tromsø",
    )
    before = stored(api)
    again = api.post(f"{S}/{sid}/objections", json={})
    assert again.status_code == 409 and "already objects" in error_of(again)["message"]
    assert api.post(f"{S}/{sid}/objections", json={"purpose": "gossip"}).status_code == 422
    assert api.post(f"{S}/{sid}/objections", json={"reason": "x" * 2001}).status_code == 422
    assert api.post(f"{S}/{UNKNOWN}/objections").status_code == 404
    assert api.post(f"{S}/{sid}/objections", role="auditor").status_code == 403
    assert stored(api) == before
    at(api, "2026-11-26T09:00:00+00:00")  # a consent after the objection
    fresh = give(api, sid, "email").json()
    assert [b["id"] for b in fresh["lifted_objections"]] == [block["id"]]


def test_restriction_set_and_lifted(api):
    sid = add(api, 1)
    restricted = api.post(f"{S}/{sid}/restriction", json={"reason": "disputes the data"})
    assert restricted.status_code == 201, restricted.text
    assert (restricted.json()["kind"], restricted.json()["active"]) == ("restriction", True)
    before = stored(api)
    twice = api.post(f"{S}/{sid}/restriction")
    assert twice.status_code == 409 and "already restricted" in error_of(twice)["message"]
    assert api.post(f"{S}/{sid}/restriction", json={"reason": "bad\x00"}).status_code == 422
    assert api.post(f"{S}/{sid}/restriction", role="marketing").status_code == 403
    assert stored(api) == before
    lifted = api.post(f"{S}/{sid}/restriction/lift", json={"reason": "corrected"})
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["active"], lifted.json()["lift_reason"]) == (False, "corrected")
    nothing = api.post(f"{S}/{sid}/restriction/lift")
    assert nothing.status_code == 409 and "nothing to lift" in error_of(nothing)["message"]


def test_the_audience_is_paged_with_the_channels_address(api):
    ids = [add(api, n) for n in range(1, 6)]
    for sid in ids:
        give(api, sid)
    api.post(f"{S}/{ids[1]}/objections", json={})
    api.post(f"{S}/{ids[2]}/restriction", json={})
    expected = [ids[0], ids[3], ids[4]]
    count_ = api.get(f"{AUDIENCE}/count", params={"channel": "sms"}, role="marketing")
    assert count_.status_code == 200 and count_.json() == {"channel": "sms", "count": 3}
    first = api.get(AUDIENCE, params={"channel": "sms", "limit": 2}, role="marketing").json()
    assert first["field"] == "phone" and [m["id"] for m in first["items"]] == expected[:2]
    assert first["items"][0]["address"] == e164(1)
    second = api.get(AUDIENCE, params={"channel": "sms", "limit": 2, "cursor": first["next_cursor"]}, role="marketing")
    assert [m["id"] for m in second.json()["items"]] == expected[2:]
    assert second.json()["next_cursor"] is None
    exact = api.get(AUDIENCE, params={"channel": "sms", "limit": 3}).json()
    assert len(exact["items"]) == 3 and exact["next_cursor"] is None
    assert api.get(AUDIENCE, params={"channel": "email"}).json()["items"] == []


def test_bad_audience_questions(api):
    for params, field in [({}, "channel"), ({"channel": "fax"}, None), ({"channel": "sms", "limit": 0}, "limit")]:
        answer = api.get(AUDIENCE, params=params)
        assert answer.status_code == 422, (params, answer.text)
        if field is not None:
            assert error_of(answer)["field"] == field
    assert api.get(AUDIENCE, params={"channel": "sms"}, role="staff").status_code == 403
    assert api.get(f"{AUDIENCE}/count", params={"channel": "sms"}, role="auditor").status_code == 403
