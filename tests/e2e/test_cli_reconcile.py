"""`personvern processors reconcile hubspot` against the fake HubSpot on 127.0.0.1, on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.support import NOW, add, assert_ok, assert_refused, count, sql
from tests.fakes_hubspot import FakeHubSpot, Reply, pointed_at

T1 = "2026-11-25T13:00:00+00:00"
T2 = "2026-11-25T14:00:00+00:00"
STRANGERS = 230  # three pages of a hundred


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    with pointed_at(fake, monkeypatch):
        yield fake


def shared(pv, n: int) -> str:
    sid = add(pv, n)
    assert_ok(pv("relationship", "start", sid, "--type", "order", "--now", NOW))
    assert_ok(pv("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))
    return sid


def test_reconcile_over_several_pages_with_429s_then_fix(pv_ready, hubspot: FakeHubSpot) -> None:
    kept, withdrawn = shared(pv_ready, 1), shared(pv_ready, 2)
    assert pv_ready.json("worker", "--once", "--now", T1)["delivered"] == 2
    assert_ok(pv_ready("consent", "withdraw", "--method", "web", withdrawn, "--channel", "email", "--now", T1))
    never = add(pv_ready, 3)
    hand = hubspot.add(email="person3@example.no", firstname="Person 3")
    for n in range(STRANGERS):
        hubspot.add(email=f"lead{n}@elsewhere.no")
    searched = [0]

    def throttle(index: int, method: str, path: str, body: Any) -> None:
        if path.endswith("/search") and isinstance(body, dict) and "sorts" in body:
            searched[0] += 1
            if searched[0] in (2, 4):  # the second and third page are each refused once first
                hubspot.script.append(Reply(429, {"status": "error", "policyName": "SECONDLY"}, {"Retry-After": "1"}))

    hubspot.on_request = throttle
    report = pv_ready.json("processors", "reconcile", "hubspot", "--now", T2)
    assert report["complete"] and report["pages"] == 3 and report["contacts"] == STRANGERS + 3
    assert searched[0] == 5
    assert report["counts"] == {"basis_gone": 1, "never_shared": 1, "not_in_register": STRANGERS}
    findings = {f["finding"]: f for f in report["findings"] if f["finding"] != "not_in_register"}
    assert (findings["never_shared"]["external_id"], findings["never_shared"]["subject_id"]) == (hand, never)
    assert findings["basis_gone"]["subject_id"] == withdrawn
    assert kept not in json.dumps(report["findings"])
    text = pv_ready("processors", "reconcile", "hubspot", "--now", T2)
    assert_ok(text)
    assert text.stdout.startswith(f"HubSpot reconciled: {STRANGERS + 3} contacts on 3 pages: ")
    assert "--fix` queues the deletions and shares" in text.stdout
    audit = sql(pv_ready.db_url, "SELECT details FROM audit_log WHERE action LIKE 'processor%reconcile'")
    assert audit and all("@" not in details for (details,) in audit)  # ids and findings, never an address

    fixed = pv_ready.json("processors", "reconcile", "hubspot", "--fix", "--now", T2)
    assert fixed["fixed"] == 2
    assert pv_ready.json("worker", "--once", "--now", T2)["delivered"] == 3  # the two deletions and the unsubscribe
    again = pv_ready.json("processors", "reconcile", "hubspot", "--now", T2)
    assert again["counts"] == {"not_in_register": STRANGERS}  # what a person must decide, left alone
    assert_ok(pv_ready("audit", "verify"))


def test_the_worker_reconciles_once_a_day(pv_ready, hubspot: FakeHubSpot) -> None:
    shared(pv_ready, 1)
    first = pv_ready.json("worker", "--once", "--now", T1)
    assert first["reconciled"].startswith("HubSpot reconciled: ")
    assert pv_ready.json("worker", "--once", "--now", T2)["reconciled"] is None
    assert count(pv_ready.db_url, "reconciliations") == 1
    [(fix,)] = sql(pv_ready.db_url, "SELECT fix FROM reconciliations")
    assert not fix  # the worker reports; the CEO fixes


def test_reconcile_refuses_without_a_token_a_wrong_role_and_an_unreadable_hubspot(
    pv_ready, hubspot: FakeHubSpot, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_refused(pv_ready("processors", "reconcile", "hubspot", "--role", "staff"), 6, "staff")
    assert count(pv_ready.db_url, "reconciliations") == 0
    hubspot.then(Reply(403, {"status": "error", "category": "MISSING_SCOPES"}))
    assert_refused(pv_ready("processors", "reconcile", "hubspot", "--fix"), 9, "lacks a scope")
    [(complete, error)] = sql(pv_ready.db_url, "SELECT complete, error FROM reconciliations")
    assert not complete and "MISSING_SCOPES" in error
    monkeypatch.delenv("PERSONVERN_HUBSPOT_TOKEN")
    assert_refused(pv_ready("processors", "reconcile", "hubspot"), 9, "PERSONVERN_HUBSPOT_TOKEN")
