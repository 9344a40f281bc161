"""The users API and bearer tokens: 401 without or with a bad token, 403 for the wrong role, the error shape."""

from __future__ import annotations

from tests.e2e.conftest import error_of


def test_health_and_readiness(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_a_server_that_outlived_a_key_rotation_is_not_ready(api):
    from datetime import UTC, datetime

    from personvern.store.rotation import rotate

    rotate(api.runtime.engine, api.runtime.settings.key_file(), datetime.now(UTC))
    stale = api.client.get("/readyz")
    assert stale.status_code == 503 and "master key was rotated" in error_of(stale)["message"]


def test_no_token_and_a_wrong_token_are_401(api):
    missing = api.client.get("/api/v1/me")
    assert missing.status_code == 401 and error_of(missing)["code"] == "unauthenticated"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = api.client.get("/api/v1/me", headers={"Authorization": "Bearer pv_not-a-token"})
    assert wrong.status_code == 401


def test_the_ceo_adds_a_user_whose_token_works_once_replaced_stops(api):
    added = api.post("/api/v1/users", json={"name": "ola", "role": "staff"})
    assert added.status_code == 201, added.text
    token = added.json()["token"]
    assert token.startswith("pv_") and len(added.json()["password"]) >= 12
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == "ola" and me.json()["role"] == "staff"
    renewed = api.post("/api/v1/users/ola/token")
    assert renewed.status_code == 200
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = renewed.json()["token"]
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert api.post("/api/v1/users/ola/disable").json()["disabled_at"] is not None
    assert api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401


def test_staff_may_not_manage_users(api):
    refused = api.get("/api/v1/users", role="staff")
    assert refused.status_code == 403 and "may not manage staff users" in error_of(refused)["message"]


def test_bad_user_input_names_the_field_and_stores_nothing(api):
    bad_name = api.post("/api/v1/users", json={"name": "Not Valid", "role": "staff"})
    assert bad_name.status_code == 422 and error_of(bad_name)["field"] == "name"
    bad_role = api.post("/api/v1/users", json={"name": "ola", "role": "boss"})
    assert bad_role.status_code == 422 and error_of(bad_role)["field"] == "role"
    twice = api.post("/api/v1/users", json={"name": "ceo-user", "role": "staff"})
    assert twice.status_code == 409
    names = [u["name"] for u in api.get("/api/v1/users").json()["items"]]
    assert names == ["ceo-user"]


def test_every_answer_carries_the_security_headers(api):
    answer = api.get("/api/v1/me")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
