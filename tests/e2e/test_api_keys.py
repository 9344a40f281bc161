"""/api/v1/keys/sweep on SQLite and PostgreSQL: the CEO's upkeep of the key store, refused to others."""

from __future__ import annotations

from tests.e2e.conftest import error_of
from tests.e2e.support import add, sql, values


def test_the_sweep_deletes_orphan_keys_and_is_audited(api):
    kept = add(api.pv, 1)
    sql(api.pv.db_url, "INSERT INTO keystore.data_keys VALUES ('nobody', :w, 'k', '2026-01-01 00:00:00')", w=b"x")
    swept = api.post("/api/v1/keys/sweep")
    assert swept.status_code == 200 and swept.json() == {"orphans": 1, "keyless": 0}
    assert api.get(f"/api/v1/subjects/{kept}").json()["values"]["full_name"] == values(1)["full_name"]
    assert api.post("/api/v1/keys/sweep").json() == {"orphans": 0, "keyless": 0}
    assert sql(api.pv.db_url, "SELECT count(*) FROM audit_log WHERE action = 'keys.sweep'")[0][0] == 2


def test_the_sweep_is_refused_to_staff_and_to_no_token(api):
    sql(api.pv.db_url, "INSERT INTO keystore.data_keys VALUES ('nobody', :w, 'k', '2026-01-01 00:00:00')", w=b"x")
    refused = api.post("/api/v1/keys/sweep", role="staff")
    assert refused.status_code == 403 and "archiving and erasure" in error_of(refused)["message"]
    assert api.post("/api/v1/keys/sweep", role=None).status_code == 401
    assert sql(api.pv.db_url, "SELECT count(*) FROM keystore.data_keys WHERE owner_id = 'nobody'")[0][0] == 1
