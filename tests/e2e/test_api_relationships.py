"""/api/v1/relationships: orders and contracts started and ended, on both databases."""

from __future__ import annotations

from tests.e2e.conftest import error_of
from tests.e2e.support import ONE_TIME, count, values

R = "/api/v1/relationships"
UNKNOWN = "0123456789abcdef0123456789abcdef"


def add(api, n: int) -> str:
    answer = api.post("/api/v1/subjects", json={"kind": ONE_TIME, "values": values(n)})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_start_and_end_one_relationship_by_its_id(api):
    sid = add(api, 1)
    started = api.post(R, json={"subject_id": sid, "type": "contract", "on": "2026-01-01", "ends": "2027-01-01"})
    assert started.status_code == 201, started.text
    contract = started.json()
    assert (contract["subject_id"], contract["type"], contract["started_on"], contract["ends_on"]) == (
        sid,
        "contract",
        "2026-01-01",
        "2027-01-01",
    )
    order = api.post(R, json={"subject_id": sid, "description": "key card"}, role="staff").json()
    assert (order["type"], order["started_on"], order["description"]) == ("order", "2026-11-25", "key card")
    ended = api.post(f"{R}/{order['id']}/end", json={"on": "2026-11-25"})
    assert ended.status_code == 200, ended.text
    assert [(r["id"], r["ended_on"]) for r in ended.json()["ended"]] == [(order["id"], "2026-11-25")]
    shown = api.get(f"/api/v1/subjects/{sid}").json()["relationships"]
    assert {r["id"]: r["ended_on"] for r in shown} == {contract["id"]: None, order["id"]: "2026-11-25"}
    again = api.post(f"{R}/{order['id']}/end")
    assert again.status_code == 409 and "already ended" in error_of(again)["message"]


def test_end_by_the_subjects_id_ends_its_open_ones(api):
    sid = add(api, 1)
    for kind in ("order", "contract"):
        assert api.post(R, json={"subject_id": sid, "type": kind}).status_code == 201
    ended = api.post(f"{R}/{sid}/end", json={"type": "order"})
    assert [r["type"] for r in ended.json()["ended"]] == ["order"]
    rest = api.post(f"{R}/{sid}/end")
    assert [r["type"] for r in rest.json()["ended"]] == ["contract"]
    none = api.post(f"{R}/{sid}/end")
    assert none.status_code == 404 and "no open" in error_of(none)["message"]


def test_bad_relationships_are_refused_and_nothing_is_stored(api):
    sid = add(api, 1)
    api.token("marketing")
    before = count(api.pv.db_url, "relationships")
    cases = [
        ({"subject_id": sid, "type": "lease"}, 422, "type"),
        ({"subject_id": sid, "type": "order", "ends": "2027-01-01"}, 422, "ends"),
        ({"subject_id": sid, "type": "contract", "on": "2026-05-01", "ends": "2026-04-01"}, 422, "ends"),
        ({"subject_id": sid, "on": "1 May"}, 422, "on"),
        ({"subject_id": sid, "description": ""}, 422, "description"),
        ({"subject_id": sid, "colour": "red"}, 422, "colour"),
        ({}, 422, "subject_id"),
        ({"subject_id": UNKNOWN}, 404, None),
    ]
    for body, status, field in cases:
        answer = api.post(R, json=body)
        assert answer.status_code == status, (body, answer.text)
        if field is not None:
            assert error_of(answer)["field"] == field, (body, answer.json())
    refused = api.post(R, json={"subject_id": sid}, role="marketing")
    assert refused.status_code == 403 and "may not add or change customers" in error_of(refused)["message"]
    assert api.post(R, json={"subject_id": sid}, role=None).status_code == 401
    assert api.post(f"{R}/{UNKNOWN}/end").status_code == 404
    assert api.post(f"{R}/{sid}/end", json={"type": "lease"}).status_code == 422
    assert api.post(f"{R}/{sid}/end", role="auditor").status_code == 403
    assert count(api.pv.db_url, "relationships") == before
