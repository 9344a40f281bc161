"""The notice, the record of processing, the audit log and the policy through the API, on both databases."""

from __future__ import annotations

import csv
import io

from tests.conftest import NOW
from tests.e2e.conftest import error_of
from tests.e2e.support import add, bundled_policy_text, count, replace_in_table


def test_the_notice_in_each_language_and_format_and_its_versions(api):
    nb = api.get("/api/v1/notice").json()
    assert (nb["language"], nb["format"], nb["published"]) == ("nb", "md", True)
    assert "Datatilsynet" in nb["text"]
    en = api.get("/api/v1/notice?lang=en&format=html").json()
    assert (en["language"], en["format"]) == ("en", "html") and "<html" in en["text"].lower()

    versions = api.get("/api/v1/notice/versions?limit=3").json()
    assert len(versions["items"]) == 3 and versions["next_cursor"]
    everything = api.get("/api/v1/notice/versions?limit=500").json()["items"]
    assert len(everything) == 4 and nb["sha256"] in {v["sha256"] for v in everything}  # nb/en × md/html
    rest = api.get(f"/api/v1/notice/versions?limit=3&cursor={versions['next_cursor']}").json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    found = api.get(f"/api/v1/notice/versions/{nb['sha256'][:10]}").json()
    assert found["text"] == nb["text"] and found["sha256"] == nb["sha256"]

    for path, field in (
        ("/api/v1/notice?lang=de", "lang"),
        ("/api/v1/notice?format=pdf", "format"),
        ("/api/v1/notice/versions/abc", "sha256"),
        (f"/api/v1/notice/versions/{nb['sha256'][:10]}?lang=en", "lang"),
        ("/api/v1/notice/versions?cursor=zz", "cursor"),
    ):
        refused = api.get(path)
        assert refused.status_code == 422 and error_of(refused)["field"] == field, (path, refused.text)
    assert api.get("/api/v1/notice/versions/00000000").status_code == 404
    assert api.get("/api/v1/notice", role=None).status_code == 401


def test_the_record_of_processing_in_three_formats(api):
    add(api.pv, 1, "one_time_customer", "--now", NOW)
    data = api.get("/api/v1/record")
    assert data.status_code == 200 and data.headers["content-type"] == "application/json"
    record = data.json()
    assert record["controller"]["name"].startswith("24 Center")
    sheet = api.get("/api/v1/record?format=csv&lang=en")
    assert sheet.headers["content-type"].startswith("text/csv") and list(csv.reader(io.StringIO(sheet.text)))
    page = api.get("/api/v1/record?format=html")
    assert page.headers["content-type"].startswith("text/html") and "<html" in page.text.lower()
    assert api.get("/api/v1/record", role="auditor").status_code == 200
    for role in ("staff", "marketing"):
        refused = api.get("/api/v1/record", role=role)
        assert refused.status_code == 403 and "record of processing" in error_of(refused)["message"]
    for query, field in (("format=pdf", "format"), ("lang=de", "lang")):
        refused = api.get(f"/api/v1/record?{query}")
        assert refused.status_code == 422 and error_of(refused)["field"] == field


def test_the_audit_chain_verified_and_read_by_page(api):
    sid = add(api.pv, 1, "one_time_customer", "--now", NOW)
    verified = api.post("/api/v1/audit/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True and verified.json()["entries"] > 0

    first = api.get("/api/v1/audit/log?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get(f"/api/v1/audit/log?limit=2&cursor={first['next_cursor']}").json()
    assert second["items"][0]["seq"] < first["items"][-1]["seq"]
    about = api.get(f"/api/v1/audit/log?subject_id={sid}").json()["items"]
    assert about and {e["subject_id"] for e in about} == {sid}
    mine = api.get("/api/v1/audit/log?actor=user:ceo-user&action=audit").json()["items"]
    assert mine and {e["action"] for e in mine} <= {"audit.read", "audit.verify"}
    assert api.get("/api/v1/audit/log?since=2026-11-25").status_code == 200

    # The auditor checks the chain's integrity but does not read who did what to whom (issue 15's accounting view).
    assert api.get("/api/v1/audit/log", role="auditor").status_code == 403
    assert api.post("/api/v1/audit/verify", role="auditor").status_code == 200
    for role in ("staff", "marketing"):
        assert api.get("/api/v1/audit/log", role=role).status_code == 403
        assert api.post("/api/v1/audit/verify", role=role).status_code == 403
    for query, field in (
        ("since=yesterday", "since"),
        ("actor=", "actor"),
        ("actor=a%00b", "actor"),
        ("subject_id=a%00b", "subject_id"),
        ("cursor=WyJ4Il0", "cursor"),
        ("limit=0", "limit"),
    ):
        refused = api.get(f"/api/v1/audit/log?{query}")
        assert refused.status_code == 422 and error_of(refused)["field"] == field, (query, refused.text)


def test_the_policy_in_force_and_a_check_of_a_policy_text(api):
    shown = api.get("/api/v1/policy", role="staff").json()
    assert shown["version"] and len(shown["sha256"]) == 64
    assert "marketing" in shown["policy"]["purposes"]

    good = api.post("/api/v1/policy/check", json={"text": bundled_policy_text()})
    assert good.status_code == 200 and good.json()["ok"] is True and good.json()["sha256"]
    broken = bundled_policy_text().replace("[controller]", "[controller", 1)
    syntax = api.post("/api/v1/policy/check", json={"text": broken}).json()
    assert syntax["ok"] is False and syntax["problems"][0]["line"] and syntax["problems"][0]["severity"] == "error"
    unknown = replace_in_table(bundled_policy_text(), "purposes.marketing", 'legal_basis = "6(1)(a)"', "")
    schema = api.post("/api/v1/policy/check", json={"text": unknown}).json()
    assert schema["ok"] is False and any("legal_basis" in p["path"] for p in schema["problems"])
    before = count(api.pv.db_url, "policy_versions")
    for body, field in (({}, "text"), ({"text": ""}, "text"), ({"text": "x", "load": True}, "load")):
        refused = api.post("/api/v1/policy/check", json=body)
        assert refused.status_code == 422 and error_of(refused)["field"] == field, (body, refused.text)
    assert count(api.pv.db_url, "policy_versions") == before
    assert api.post("/api/v1/policy/check", role=None, json={"text": "x"}).status_code == 401
