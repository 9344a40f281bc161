"""Requests for one person racing an erasure (found by the soak, bench/soak.py): a clear 409, never a 500."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import error_of
from tests.e2e.support import ONE_TIME, values


def opened(api: Any, kind: str, sid: str) -> str:
    rid = str(api.post("/api/v1/requests", json={"type": kind, "subject_id": sid}).json()["id"])
    assert api.post(f"/api/v1/requests/{rid}/verify", json={"method": "bankid"}).status_code == 200
    return rid


def test_an_access_request_fulfilled_after_the_person_was_erased_is_a_conflict(api: Any) -> None:
    sid = api.post("/api/v1/subjects", json={"kind": ONE_TIME, "values": values(1)}).json()["id"]
    access, erasure = opened(api, "access", sid), opened(api, "erasure", sid)
    assert api.post(f"/api/v1/requests/{erasure}/fulfil", json={}).status_code == 200
    late = api.post(f"/api/v1/requests/{access}/fulfil", json={})
    assert late.status_code == 409, late.text
    assert "was erased after this request came; nothing is held" in error_of(late)["message"]
    assert api.get(f"/api/v1/requests/{access}").json()["state"] != "completed"
