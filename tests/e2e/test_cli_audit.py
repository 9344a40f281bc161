"""`personvern audit verify`: an intact chain is counted; an entry altered or removed behind its back is named."""

from __future__ import annotations

import json

import pytest

from tests.e2e.support import Cases, add, assert_no_crash, assert_ok, assert_refused, shown, sql


def _three_entries(pv):
    """init (policy load), add, show: three entries."""
    sid = add(pv, 1)
    pv.json("subject", "show", sid)
    return sid


def test_an_intact_chain_is_counted(pv_ready):
    _three_entries(pv_ready)
    result = pv_ready("audit", "verify")
    assert_ok(result)
    assert "intact" in result.stdout
    assert "3 entries" in result.stdout
    data = pv_ready.json("audit", "verify")
    assert data == {"ok": True, "entries": 3, "broken_at": None, "problem": None}
    assert pv_ready.json("audit", "verify")["entries"] == 3  # verifying is not itself recorded


def test_the_audit_log_holds_no_personal_values(pv_ready):
    sid = add(pv_ready, 1, "one_time_customer", "--set", "postal_address=Storgata 1", "--reason", "postal_address=x")
    pv_ready.json("subject", "show", "--email", "person1@example.no")
    pv_ready.json("subject", "update", sid, "--set", "full_name=Kari Nordmann")
    rows = " ".join(map(repr, sql(pv_ready.db_url, "SELECT * FROM audit_log")))
    for value in ("Person 1", "Kari", "person1@", "41000001", "Storgata"):
        assert value not in rows


def test_roles_and_verify(pv_ready, unchanged):
    cases = Cases()
    with cases.case("auditor"):
        assert_ok(pv_ready("audit", "verify", "--role", "auditor"))
    with unchanged():
        for role in ("staff", "marketing"):
            with cases.case(role):
                assert_refused(pv_ready("audit", "verify", "--role", role), 6, role)
    cases.check()


TAMPERING = {
    "details altered": ("UPDATE audit_log SET details = '{}' WHERE seq = 2", 2, "altered"),
    "actor altered": ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3, "altered"),
    "last entry deleted": ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)", 3, "removed"),
    "middle entry deleted": ("DELETE FROM audit_log WHERE seq = 2", 3, "entry 2 is missing"),
}


@pytest.mark.parametrize(("statement", "broken_at", "problem"), TAMPERING.values(), ids=TAMPERING.keys())
def test_tampering_is_detected_and_names_the_first_broken_entry(pv_ready, statement, broken_at, problem):
    _three_entries(pv_ready)
    sql(pv_ready.db_url, statement)
    result = pv_ready("audit", "verify", "--json")
    assert result.exit_code != 0, shown(result)
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["broken_at"] == broken_at
    assert problem in data["problem"]
    human = pv_ready("audit", "verify")
    assert f"entry {broken_at}" in human.stdout + human.stderr
    assert "Traceback" not in human.stdout + human.stderr


def test_tampering_exits_7(pv_ready):
    _three_entries(pv_ready)
    sql(pv_ready.db_url, "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    result = pv_ready("audit", "verify", "--json")
    assert result.exit_code == 7, shown(result)
    assert_no_crash(result)
    assert json.loads(result.stdout)["broken_at"] == 3


def test_a_broken_chain_is_reported_on_stderr(pv_ready):
    _three_entries(pv_ready)
    sql(pv_ready.db_url, "UPDATE audit_log SET details = '{}' WHERE seq = 2")
    assert_refused(pv_ready("audit", "verify"), 7, "entry 2")
