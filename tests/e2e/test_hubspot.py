"""Email marketing consent reaches HubSpot via `personvern worker --once`; withdrawal and erasure follow (both DBs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import NOW, add, assert_ok, e164, person
from tests.fakes_hubspot import TOKEN, FakeHubSpot, Reply, pointed_at

T1 = "2026-11-25T13:00:00+00:00"
T2 = "2026-11-25T14:00:00+00:00"


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    with pointed_at(fake, monkeypatch):
        yield fake


def worker(pv, now: str) -> dict:
    return pv.json("worker", "--once", "--now", now)


def test_consent_by_email_creates_the_contact_and_a_withdrawal_unsubscribes(pv_ready, hubspot):
    pv_ready = pv_ready
    sid = add(pv_ready, 1)
    # A customer with an order: withdrawing marketing consent leaves a reason to keep them (no retention sweep).
    assert_ok(pv_ready("relationship", "start", sid, "--type", "order", "--now", NOW))
    assert_ok(pv_ready("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))

    first = worker(pv_ready, T1)
    assert (first["delivered"], first["errors"]) == (1, [])
    assert list(hubspot.contacts.values()) == [
        {
            "firstname": "Person 1",
            "lastname": "Nordmann",
            "phone": e164(1),
            "mobilephone": e164(1),
            "email": "person1@example.no",
            "hs_legal_basis": "Freely given consent from contact",
        }
    ]
    [row] = pv_ready.json("outbox", "list", "--all")["rows"]
    assert (row["kind"], row["state"], row["result"]) == (
        "hubspot.upsert",
        "delivered",
        {"hubspot_id": "1001", "created": True},
    )
    assert row["payload"]["fields"] == ["full_name", "phone", "email"]
    assert "person1@" not in json.dumps(row) and "Nordmann" not in json.dumps(row)

    assert_ok(pv_ready("consent", "withdraw", "--method", "web", sid, "--channel", "email", "--now", T1))
    second = worker(pv_ready, T2)
    assert (second["delivered"], second["errors"]) == (1, [])
    assert hubspot.unsubscribed == ["person1@example.no"]
    assert_ok(pv_ready("audit", "verify"))


def test_without_a_token_the_row_waits_then_goes(pv_ready, monkeypatch):
    monkeypatch.delenv("PERSONVERN_HUBSPOT_TOKEN", raising=False)
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))
    waiting = worker(pv_ready, T1)
    assert (waiting["waiting"], waiting["errors"]) == (1, ["waiting for credentials: set PERSONVERN_HUBSPOT_TOKEN"])
    [row] = pv_ready.json("outbox", "list")["rows"]
    assert (row["state"], row["attempts"]) == ("pending", 0)

    fake = FakeHubSpot()
    with pointed_at(fake, monkeypatch):
        assert worker(pv_ready, T2)["delivered"] == 1
    assert len(fake.contacts) == 1


def test_a_429_waits_for_retry_after_then_the_contact_is_created_once(pv_ready, hubspot):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))
    throttled = {"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}
    hubspot.then(Reply(429, throttled, {"Retry-After": "120", "X-HubSpot-RateLimit-Remaining": "0"}))

    first = worker(pv_ready, T1)
    assert (first["retrying"], first["errors"]) == (1, ["HubSpot answered HTTP 429 to searching contacts"])
    [row] = pv_ready.json("outbox", "list")["rows"]
    assert row["next_attempt_at"] == "2026-11-25T13:02:00+00:00"
    assert worker(pv_ready, "2026-11-25T13:01:00+00:00")["retrying"] == 0
    assert worker(pv_ready, "2026-11-25T13:02:00+00:00")["delivered"] == 1
    assert len(hubspot.contacts) == 1


def test_an_erasure_request_reaches_hubspot(pv_ready, hubspot, tmp_path):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))
    assert worker(pv_ready, T1)["delivered"] == 1
    opened = pv_ready.json("request", "open", "--type", "erasure", "--subject", sid, "--now", T1)
    pv_ready.json("request", "verify", opened["id"], "--method", "known_email", "--now", T1)
    pv_ready.json("request", "fulfil", opened["id"], "--out", str(tmp_path / "e"), "--now", T1)
    rows = pv_ready.json("outbox", "list")["rows"]
    assert [(r["kind"], r["subject_id"], r["payload"]["subject"]) for r in rows] == [("hubspot.delete", None, sid)]

    assert worker(pv_ready, "2026-11-25T13:05:00+00:00")["delivered"] == 0
    assert worker(pv_ready, "2026-11-25T13:10:00+00:00")["delivered"] == 1  # past the worker's lease
    assert hubspot.contacts == {} and hubspot.deleted == ["1001"] and hubspot.blocked == {"person1@example.no"}
    assert pv_ready.json("outbox", "list")["total"] == 0


def test_a_real_worker_process_reaches_the_local_fake(tmp_path):
    """The installed console script, in a process of its own (SQLite): settings from the environment only."""
    script = Path(sys.executable).with_name("personvern")
    if not script.exists():
        pytest.skip(f"the console script is not installed at {script}")
    fake = FakeHubSpot()
    with fake.serve() as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
        env |= {
            "PERSONVERN_DATABASE_URL": f"sqlite:///{tmp_path / 'pv.db'}",
            "PERSONVERN_MASTER_KEY_FILE": str(tmp_path / "master.key"),
            "PERSONVERN_ACTOR": "tester",
            "PERSONVERN_NOW": NOW,
            "PERSONVERN_HUBSPOT_URL": url,
            "PERSONVERN_HUBSPOT_TOKEN": TOKEN,
        }

        def run(*args: str) -> str:
            proc = subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=60)
            assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
            return proc.stdout

        run("init")
        sid = json.loads(run("subject", "add", *person(1), "--json"))["id"]
        run("consent", "give", "--method", "web", sid, "--channel", "email")
        assert json.loads(run("worker", "--once", "--json"))["delivered"] == 1
    assert [c["email"] for c in fake.contacts.values()] == ["person1@example.no"]


def test_with_the_consent_property_named_hubspot_gets_the_persons_own_link(pv_ready, hubspot, monkeypatch):
    hubspot.custom_properties.add("personvern_consent_url")
    monkeypatch.setenv("PERSONVERN_HUBSPOT_CONSENT_PROPERTY", "personvern_consent_url")
    monkeypatch.setenv("PERSONVERN_PUBLIC_URL", "https://24center.no")
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("relationship", "start", sid, "--type", "order", "--now", NOW))
    assert_ok(pv_ready("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))
    assert worker(pv_ready, T1)["delivered"] == 1
    [contact] = hubspot.contacts.values()
    link = contact["personvern_consent_url"]
    assert link.startswith("https://24center.no/personvern/samtykke/") and sid not in link
    [row] = pv_ready.json("outbox", "list", "--all")["rows"]
    assert link not in json.dumps(row)  # made at delivery, never stored in the row
