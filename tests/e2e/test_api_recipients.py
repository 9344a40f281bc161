"""The API of issue 15 on both databases: tasks, a request's recipients, the accounting exports, processors."""

from __future__ import annotations

from typing import Any

import pytest

from personvern.services import consent, exports, register, rights
from tests.e2e.conftest import error_of
from tests.e2e.support import count, sql
from tests.fakes_hubspot import FakeHubSpot, pointed_at
from tests.saft_schema import errors


def customer(api: Any, n: int) -> str:
    ctx = api.runtime.context()
    values = {"full_name": f"Person {n} Ødegård", "phone": f"4{1_000_000 + n:07d}", "email": f"p{n}@example.no"}
    sid = register.add_subject(ctx, "one_time_customer", values, {}).id
    register.start_relationship(ctx, sid, "order")
    consent.give_consent(ctx, sid, "marketing", "email", "web")
    return sid


def erased(api: Any, sid: str) -> str:
    ctx = api.runtime.context()
    opened = rights.open_request(ctx, "erasure", subject_id=sid)
    rights.verify_request(ctx, opened.request.id, "bankid")
    rights.fulfil_request(ctx, opened.request.id)
    return opened.request.id


@pytest.fixture
def two_tasks(api: Any) -> list[str]:
    people = [customer(api, 1), customer(api, 2)]
    exports.export_customers(api.runtime.context(), "saft")  # Finago holds them since
    return [erased(api, sid) for sid in people]


def test_tasks_are_listed_by_pages_and_closed_with_a_note(api: Any, two_tasks: list[str]) -> None:
    first = api.get("/api/v1/tasks?limit=1")
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = api.get(f"/api/v1/tasks?limit=1&cursor={page['next_cursor']}").json()
    assert second["next_cursor"] is None
    tasks = [*page["items"], *second["items"]]
    assert {t["recipient"] for t in tasks} == {"finago"} and {t["request_id"] for t in tasks} == set(two_tasks)
    task = tasks[0]
    done = api.post(f"/api/v1/tasks/{task['id']}/done", json={"note": "slettet i Finago"})
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["note"]) == ("confirmed", "slettet i Finago")
    shown = api.get(f"/api/v1/requests/{task['request_id']}/recipients")
    assert shown.status_code == 200
    body = shown.json()
    assert body["state"] == "in_progress" and body["waiting_for"] == ["hubspot"]  # its deletion not yet delivered
    states = {r["recipient"]: (r["confirm_by"], r["state"]) for r in body["items"]}
    assert states == {
        "auditor": ("nothing", "not_needed"),
        "finago": ("task", "confirmed"),
        "hubspot": ("outbox", "pending"),
        "linkmobility": ("nothing", "not_needed"),
    }
    assert [t["id"] for t in api.get("/api/v1/tasks?all=true").json()["items"]].count(task["id"]) == 1


def test_task_bad_input_and_roles(api: Any, two_tasks: list[str]) -> None:
    task = api.get("/api/v1/tasks").json()["items"][0]["id"]
    before = count(api.pv.db_url, "audit_log")
    for body, field in (
        ({}, "note"),
        ({"note": ""}, "note"),
        ({"note": "x" * 1001}, "note"),
        ({"note": "x", "y": 1}, "y"),
    ):
        bad = api.post(f"/api/v1/tasks/{task}/done", json=body)
        assert bad.status_code == 422 and error_of(bad)["field"] == field, bad.text
    assert api.post(f"/api/v1/tasks/{task}/done", json={"note": "   "}).status_code == 422
    assert api.post("/api/v1/tasks/nosuchtask/done", json={"note": "x"}).status_code == 404
    assert api.get("/api/v1/tasks?cursor=notacursor").status_code == 422
    assert count(api.pv.db_url, "audit_log") == before  # nothing stored
    for role in ("staff", "marketing", "auditor"):
        assert api.get("/api/v1/tasks", role=role).status_code == 403
        assert api.post(f"/api/v1/tasks/{task}/done", json={"note": "x"}, role=role).status_code == 403
        assert api.get(f"/api/v1/requests/{two_tasks[0]}/recipients", role=role).status_code == 403
    assert api.get("/api/v1/tasks", role=None).status_code == 401
    assert api.get("/api/v1/requests/nosuchrequest/recipients").status_code == 404
    assert api.post(f"/api/v1/tasks/{task}/done", json={"note": "done"}).status_code == 200
    again = api.post(f"/api/v1/tasks/{task}/done", json={"note": "again"})
    assert again.status_code == 409 and "confirmed already" in error_of(again)["message"]


def test_the_saft_and_csv_exports(api: Any) -> None:
    customer(api, 1)
    made = api.post("/api/v1/exports/saft", json={})
    assert made.status_code == 201, made.text
    assert made.headers["content-type"].startswith("application/xml")
    assert errors(made.content) == [] and "Ødegård".encode() in made.content
    assert made.headers["x-export-customers"] == "1" and len(made.headers["x-export-sha256"]) == 64
    auditor = api.post("/api/v1/exports/saft", json={}, role="auditor")
    assert auditor.status_code == 201
    table = api.post("/api/v1/exports/customers", json={"format": "csv"})
    assert table.status_code == 201 and table.headers["content-type"].startswith("text/csv")
    assert table.content.decode("utf-8").lstrip("\ufeff").startswith("customer_id,type,status,full_name,email")
    assert count(api.pv.db_url, "exports") == 3
    recipients = {r for (r,) in sql(api.pv.db_url, "SELECT recipient FROM exports")}
    assert recipients == {"finago", "auditor"}


def test_export_bad_input_and_roles_record_nothing(api: Any) -> None:
    customer(api, 1)
    for path, body, field in (
        ("saft", {"recipient": "hubspot"}, "recipient"),
        ("saft", {"extra": 1}, "extra"),
        ("customers", {"format": "xlsx"}, "format"),
    ):
        bad = api.post(f"/api/v1/exports/{path}", json=body)
        assert bad.status_code == 422 and error_of(bad)["field"] == field, bad.text
    for role in ("staff", "marketing"):
        assert api.post("/api/v1/exports/saft", json={}, role=role).status_code == 403
    refused = api.post("/api/v1/exports/saft", json={"recipient": "finago"}, role="auditor")
    assert refused.status_code == 403 and "auditor's own copy" in error_of(refused)["message"]
    assert count(api.pv.db_url, "exports") == 0


def test_processor_agreements(api: Any) -> None:
    listed = api.get("/api/v1/processors/agreements")
    assert listed.status_code == 200
    assert {a["recipient"]: a["state"] for a in listed.json()["items"]} == dict.fromkeys(
        ("finago", "hubspot", "linkmobility"), "current"
    )
    assert api.get("/api/v1/processors/agreements?due=true").json()["items"] == []
    assert api.get("/api/v1/processors/agreements", role="auditor").status_code == 200
    assert api.get("/api/v1/processors/agreements", role="marketing").status_code == 403
    assert api.get("/api/v1/processors/agreements?due=maybe").status_code == 422


def test_reconcile_hubspot_through_the_api(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    customer(api, 1)
    never = api.get("/api/v1/processors/hubspot/reconcile")
    assert never.status_code == 404
    monkeypatch.delenv("PERSONVERN_HUBSPOT_TOKEN", raising=False)
    unready = api.post("/api/v1/processors/hubspot/reconcile", json={})
    assert unready.status_code == 503 and "PERSONVERN_HUBSPOT_TOKEN" in error_of(unready)["message"]
    fake = FakeHubSpot()
    stranger = fake.add(email="lead@elsewhere.no")
    with pointed_at(fake, monkeypatch):
        bad = api.post("/api/v1/processors/hubspot/reconcile", json={"fix": "maybe"})
        assert bad.status_code == 422 and error_of(bad)["field"] == "fix"
        assert api.post("/api/v1/processors/hubspot/reconcile", json={}, role="staff").status_code == 403
        run = api.post("/api/v1/processors/hubspot/reconcile", json={"fix": True})
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["complete"] and body["contacts"] == 1
    assert body["counts"] == {"not_in_register": 1, "missing": 1}
    assert [f["external_id"] for f in body["findings"] if f["finding"] == "not_in_register"] == [stranger]
    assert [f["pending"] for f in body["findings"] if f["finding"] == "missing"] == [True]  # its share is queued
    last = api.get("/api/v1/processors/hubspot/reconcile")
    assert last.status_code == 200 and last.json()["id"] == body["id"]
    assert api.get("/api/v1/processors/hubspot/reconcile", role="auditor").status_code == 403


def test_the_routes_are_described(api: Any) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}/done",
        "/api/v1/requests/{request_id}/recipients",
        "/api/v1/exports/saft",
        "/api/v1/exports/customers",
        "/api/v1/processors/hubspot/reconcile",
        "/api/v1/processors/agreements",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation["summary"] and {"401", "403", "422"} <= set(operation["responses"]), path
