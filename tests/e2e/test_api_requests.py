"""/api/v1/requests on both databases: open, list, show, verify, extend, fulfil, reject, and the answer as a zip."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta

from personvern.bootstrap import FixedClock
from tests.conftest import NOW
from tests.e2e.conftest import error_of
from tests.e2e.support import add, count, e164, sql, values


def person(api, n: int) -> str:
    return add(api.pv, n, "one_time_customer", "--now", NOW)


def opened(api, kind: str = "access", **body) -> dict:
    answer = api.post("/api/v1/requests", json={"type": kind, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def verified(api, kind: str = "access", **body) -> dict:
    r = opened(api, kind, **body)
    assert api.post(f"/api/v1/requests/{r['id']}/verify", json={"method": "known_email"}).status_code == 200
    return r


def unzipped(answer) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def move_clock(api, **delta: float) -> None:
    api.runtime.clock = FixedClock(datetime.fromisoformat(NOW) + timedelta(**delta))


def test_an_access_request_from_opening_to_the_zip(api):
    sid = person(api, 1)
    r = opened(api, "access", email=values(1)["email"].upper(), channel="letter")
    assert (r["subject_id"], r["matched"], r["archived"], r["state"]) == (sid, True, False, "received")
    assert (r["received_on"], r["due_on"], r["days_left"]) == ("2026-11-25", "2026-12-25", 30)

    listed = api.get("/api/v1/requests").json()
    assert [i["id"] for i in listed["items"]] == [r["id"]] and listed["next_cursor"] is None
    assert listed["today"] == "2026-11-25" and listed["items"][0]["overdue"] is False

    shown = api.get(f"/api/v1/requests/{r['id']}").json()
    assert shown["identity"] == {"email": "PERSON1@example.no"} and shown["erasure_receipt"] is None

    assert api.post(f"/api/v1/requests/{r['id']}/verify", json={"method": "bankid"}).json()["state"] == "verified"
    assert api.post(f"/api/v1/requests/{r['id']}/start").json()["state"] == "in_progress"
    done = api.post(f"/api/v1/requests/{r['id']}/fulfil", json={})
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["state"], body["files"]) == ("completed", ["data.json", "letter.html"])
    assert body["package"] == f"/api/v1/requests/{r['id']}/package"

    package = api.get(body["package"])
    assert package.status_code == 200, package.text
    assert package.headers["content-type"] == "application/zip"
    assert package.headers["content-disposition"] == f'attachment; filename="request-{r["id"]}.zip"'
    assert package.headers["cache-control"] == "no-store"
    files = unzipped(package)
    assert sorted(files) == ["data.json", "letter.html"]
    assert json.loads(files["data.json"])["values"] == values(1) | {"phone": e164(1)}
    assert values(1)["full_name"] in files["letter.html"].decode()
    # The files fetched are the ones answered: their sha256 are in the outcome.
    import hashlib

    assert {n: hashlib.sha256(b).hexdigest() for n, b in files.items()} == body["outcome"]["files"]
    actions = [a for (a,) in sql(api.pv.db_url, "SELECT action FROM audit_log ORDER BY seq") if a.startswith("request")]
    assert actions == [
        "request.open",
        "request.read",
        "request.verify",
        "request.start",
        "request.fulfil",
        "request.answer",
    ]
    assert api.get("/api/v1/requests").json()["items"] == []
    assert [i["state"] for i in api.get("/api/v1/requests?all=true").json()["items"]] == ["completed"]


def test_portability_gives_a_csv_and_the_answer_ends_after_keep_answer(api):
    person(api, 1)
    r = verified(api, "portability", phone=values(1)["phone"], lang="en")
    api.post(f"/api/v1/requests/{r['id']}/fulfil")
    files = unzipped(api.get(f"/api/v1/requests/{r['id']}/package"))
    assert sorted(files) == ["data.csv", "data.json", "letter.html"]
    assert 'lang="en"' in files["letter.html"].decode()

    move_clock(api, days=31)  # [requests] keep_answer is 30 days after the answer
    plan = api.get("/api/v1/retention/plan").json()
    assert [(a["id"], a["rule"]) for a in plan["answers"]] == [(r["id"], "requests.keep_answer")]
    run = api.post("/api/v1/retention/run").json()
    assert run["answers_forgotten"] == 1
    gone = api.get(f"/api/v1/requests/{r['id']}/package")
    assert gone.status_code == 404 and "no longer kept" in error_of(gone)["message"]
    shown = api.get(f"/api/v1/requests/{r['id']}").json()
    assert set(shown["outcome"]["files"]) == {"data.csv", "data.json", "letter.html"}


def test_a_rectification_names_its_corrections_and_an_erasure_its_receipt(api):
    sid = person(api, 1)
    fix = verified(api, "rectification", subject_id=sid, set={"full_name": "Kari Nordmann"}, unset=[])
    assert api.get(f"/api/v1/requests/{fix['id']}").json()["details"] == {
        "set": {"full_name": "Kari Nordmann"},
        "unset": [],
    }
    done = api.post(f"/api/v1/requests/{fix['id']}/fulfil").json()
    assert done["outcome"]["fields"] == ["full_name"] and done["files"] == ["letter.html"]

    erase = verified(api, "erasure", subject_id=sid)
    assert api.post(f"/api/v1/requests/{erase['id']}/fulfil").status_code == 200
    shown = api.get(f"/api/v1/requests/{erase['id']}").json()
    assert shown["identity"] is None and shown["erasure_receipt"]["details"]["fields_erased"]
    # The erasure letter names fields, never values: it is kept to be fetched like any other answer.
    letter = unzipped(api.get(f"/api/v1/requests/{erase['id']}/package"))["letter.html"].decode()
    assert "Kari Nordmann" not in letter
    assert count(api.pv.db_url, "subjects") == 0


def test_reject_and_extend(api):
    person(api, 1)
    r = opened(api, "access", email=values(1)["email"])
    extended = api.post(f"/api/v1/requests/{r['id']}/extend", json={"reason": "many requests at once", "months": 1})
    assert (extended.status_code, extended.json()["due_on"], extended.json()["extended"]) == (200, "2027-01-25", True)
    again = api.post(f"/api/v1/requests/{r['id']}/extend", json={"reason": "again"})
    assert again.status_code == 409 and "already extended" in error_of(again)["message"]
    rejected = api.post(f"/api/v1/requests/{r['id']}/reject", json={"reason": "manifestly unfounded"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert rejected.json()["files"] == ["letter.html"]
    letter = unzipped(api.get(f"/api/v1/requests/{r['id']}/package"))["letter.html"].decode()
    assert "manifestly unfounded" in letter
    closed = api.post(f"/api/v1/requests/{r['id']}/reject", json={"reason": "twice"})
    assert closed.status_code == 409


def test_bad_input_names_the_field_in_the_api_s_words_and_stores_nothing(api):
    sid = person(api, 1)
    before = count(api.pv.db_url, "requests")
    cases = [
        (
            {"type": "access", "email": values(1)["email"], "subject_id": sid},
            "identity",
            "an email, a phone number or a subject id",
        ),
        ({"type": "access"}, "identity", "exactly one of"),
        ({"type": "complaint", "subject_id": sid}, "type", "access"),
        ({"type": "access", "subject_id": sid, "channel": "fax"}, "channel", "email"),
        ({"type": "access", "subject_id": sid, "lang": "de"}, "language", "nb"),
        ({"type": "access", "email": "not-an-address"}, "email", ""),
        ({"type": "access", "subject_id": sid, "received_at": "2026-11-25T10:00:00"}, "received_at", "timezone"),
        ({"type": "access", "subject_id": sid, "received_at": "2027-01-01T10:00:00Z"}, "received", "future"),
        ({"type": "access", "subject_id": sid, "colour": "red"}, "colour", "Extra"),
        ({"type": "rectification", "subject_id": sid}, "set", "values to set or fields to remove"),
        ({"type": "rectification", "subject_id": sid, "set": {"shoe_size": "42"}}, "shoe_size", "declares"),
        ({"type": "access", "subject_id": sid, "set": {"full_name": "X"}}, "set", "only a rectification"),
        ({"type": "access", "subject_id": sid, "purpose": "marketing"}, "purpose", "only an objection"),
    ]
    for body, field, needle in cases:
        refused = api.post("/api/v1/requests", json=body)
        assert refused.status_code == 422, (body, refused.text)
        error = error_of(refused)
        assert error["field"] == field and needle in error["message"], (body, error)
        assert "--" not in error["message"], error
    assert count(api.pv.db_url, "requests") == before

    r = opened(api, "access", subject_id=sid)
    for path, body, field in (
        ("verify", {"method": "asked nicely"}, "method"),
        ("verify", {}, "method"),
        ("extend", {"reason": ""}, "reason"),
        ("extend", {"reason": "x", "months": 3}, "months"),
        ("extend", {"reason": "a\x00b"}, "reason"),
        ("reject", {"reason": "x" * 1001}, "reason"),
    ):
        refused = api.post(f"/api/v1/requests/{r['id']}/{path}", json=body)
        assert refused.status_code == 422 and error_of(refused)["field"] == field, (path, body, refused.text)
    early = api.post(f"/api/v1/requests/{r['id']}/fulfil")
    assert early.status_code == 409 and "verified" in error_of(early)["message"]
    assert "--" not in error_of(early)["message"]
    unanswered = api.get(f"/api/v1/requests/{r['id']}/package")
    assert unanswered.status_code == 409
    shown = api.get(f"/api/v1/requests/{r['id']}").json()
    assert (shown["state"], shown["extended"], shown["verified_at"]) == ("received", False, None)
    missing = api.get("/api/v1/requests/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert api.get("/api/v1/requests/not%20an%20id").status_code == 422


def test_pages_follow_the_cursor(api):
    for n in (1, 2, 3):
        person(api, n)
        opened(api, "access", email=values(n)["email"])
    first = api.get("/api/v1/requests?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get(f"/api/v1/requests?limit=2&cursor={first['next_cursor']}").json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 3
    assert api.get("/api/v1/requests?due_before=2026-12-01").json()["items"] == []
    for query, field in (("cursor=nonsense", "cursor"), ("limit=0", "limit"), ("due_before=soon", "due_before")):
        bad = api.get(f"/api/v1/requests?{query}")
        assert bad.status_code == 422 and error_of(bad)["field"] == field, (query, bad.text)


def test_only_the_ceo_handles_requests(api):
    sid = person(api, 1)
    r = opened(api, "access", subject_id=sid)
    for role in ("staff", "marketing", "auditor"):
        assert api.get("/api/v1/requests", role=role).status_code == 403
        refused = api.post("/api/v1/requests", role=role, json={"type": "access", "subject_id": sid})
        assert refused.status_code == 403 and "open a data subject request" in error_of(refused)["message"]
        assert api.get(f"/api/v1/requests/{r['id']}/package", role=role).status_code == 403
    assert api.get("/api/v1/requests", role=None).status_code == 401
    assert count(api.pv.db_url, "requests") == 1
