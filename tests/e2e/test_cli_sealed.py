"""Sealed parts end (issue 12, defect 5): `retention plan` lists, and `retention run` forgets, a dead SMS's number and
text, and the identity a stranger gave with a request, each when the policy's time is over; on both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.support import add, assert_ok, assert_refused, sql
from tests.fakes_linkmobility import FakeLink, pointed_at

NOW = "2026-11-25T12:00:00+00:00"
SENT = "2026-11-25T13:00:00+00:00"


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLink]:
    fake = FakeLink()
    with pointed_at(fake, monkeypatch):
        yield fake


def at(day: str) -> tuple[str, str]:
    return ("--now", f"{day}T12:00:00+00:00")


def sealed_of(db_url: str, row_id: str) -> tuple[bool, bool]:
    """(the row still holds a sealed part, its key is still stored)."""
    [(payload,)] = sql(db_url, f"SELECT payload FROM outbox WHERE id = '{row_id}'")
    keys = sql(db_url, f"SELECT owner_id FROM keystore.data_keys WHERE owner_id = '{row_id}'")
    return "sealed" in json.loads(payload), bool(keys)


def test_a_dead_sms_loses_its_number_and_text_when_the_policy_says(pv_ready, link, monkeypatch):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("relationship", "start", sid, "--now", NOW))  # keeps the customer in the register
    row_id = pv_ready.json("sms", "send", sid, "--purpose", "service", "--text", "Kortet er klart", "--now", NOW)[
        "outbox_id"
    ]
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", "wrong")
    assert pv_ready.json("worker", "--once", "--now", SENT)["dead"] == 1
    assert sealed_of(pv_ready.db_url, row_id) == (True, True)  # kept for a retry

    [dead] = pv_ready.json("outbox", "list", "--dead", *at("2026-12-01"))["rows"]
    assert dead["personal_until"] == "2026-12-25T12:00:00+00:00" and dead["by_hand"] is None
    listed = pv_ready("outbox", "list", "--dead", *at("2026-12-01"))
    assert_ok(listed)
    assert "personal part kept until" in listed.stdout

    plan = pv_ready.json("retention", "plan", *at("2026-12-24"))
    assert plan["outbox"] == [] and plan["requests"] == []
    plan = pv_ready.json("retention", "plan", *at("2026-12-26"))
    assert plan["outbox"] == [
        {"id": row_id, "kind": "sms", "rule": "undelivered.keep", "since": "2026-12-25", "by_hand": None}
    ]
    human = pv_ready("retention", "plan", *at("2026-12-26"))
    assert_ok(human)
    assert row_id in human.stdout and "undelivered.keep" in human.stdout

    run = pv_ready.json("retention", "run", *at("2026-12-26"))
    assert (run["outbox_personal_forgotten"], run["request_identities_forgotten"], run["by_hand"]) == (1, 0, [])
    assert sealed_of(pv_ready.db_url, row_id) == (False, False)
    [dead] = pv_ready.json("outbox", "list", "--dead", *at("2026-12-26"))["rows"]
    assert dead["personal_until"] is None
    assert dead["last_error"].startswith("personal part forgotten on 2026-12-26 (policy [undelivered] keep = 30 days)")
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", "whatever")
    assert_refused(pv_ready("outbox", "retry", row_id, *at("2026-12-26")), 5, row_id, "nothing left to send")
    assert pv_ready.json("retention", "plan", *at("2026-12-27"))["outbox"] == []
    entries = sql(pv_ready.db_url, "SELECT subject_id, details FROM audit_log WHERE action = 'outbox.forget'")
    assert [(s, json.loads(d)["rule"]) for s, d in entries] == [(sid, "undelivered.keep")]


def test_a_strangers_identity_goes_three_months_after_the_answer(pv_ready, tmp_path):
    add(pv_ready, 1)
    opened = pv_ready.json("request", "open", "--type", "access", "--phone", "+47 98765432", "--now", NOW)
    assert opened["matched"] is False
    pv_ready.json("request", "verify", opened["id"], "--method", "known_phone", "--now", NOW)
    pv_ready.json("request", "fulfil", opened["id"], "--out", str(tmp_path / "a"), *at("2026-12-01"))
    assert pv_ready.json("request", "show", opened["id"], *at("2027-02-28"))["identity"] == {"phone": "+4798765432"}

    assert pv_ready.json("retention", "plan", *at("2027-02-28"))["requests"] == []
    plan = pv_ready.json("retention", "plan", *at("2027-03-01"))
    assert plan["requests"] == [
        {"id": opened["id"], "type": "access", "rule": "requests.keep_unmatched", "since": "2027-03-01"}
    ]
    run = pv_ready.json("retention", "run", *at("2027-03-01"))
    assert run["request_identities_forgotten"] == 1
    shown = pv_ready.json("request", "show", opened["id"], *at("2027-03-01"))
    assert shown["identity"] is None and shown["state"] == "completed"
    [(identity, key)] = sql(
        pv_ready.db_url,
        f"SELECT r.identity_ct, k.owner_id FROM requests r LEFT JOIN keystore.data_keys k ON k.owner_id = r.id "
        f"WHERE r.id = '{opened['id']}'",
    )
    assert (identity, key) == (None, None)
