"""A worker killed between HubSpot's deletion and its record: the next one sends one gdpr-delete per contact.

A real `personvern worker` process erases an erased person's contact in the fake HubSpot; the fake holds the
answer to the request by the contact's id until the worker is killed with SIGKILL. HubSpot has carried it out,
the worker never recorded it. A second worker, after the first one's lease ran out, asks HubSpot which contacts
are still there before it deletes again: the contact is sent one gdpr-delete, the request is confirmed once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import NOW, add, assert_ok, sql
from tests.fakes_hubspot import FakeHubSpot, pointed_at

SCRIPT = Path(sys.executable).with_name("personvern")
T1 = "2026-11-25T13:00:00+00:00"
DUE = "2026-11-25T13:20:00+00:00"
AFTER_LEASE = "2026-11-25T13:40:00+00:00"


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeHubSpot, threading.Event, threading.Event, Any]]:
    """The fake, and a hook that holds its first gdpr-delete by id until `release` (set once the worker is dead)."""
    received, release = threading.Event(), threading.Event()
    fake = FakeHubSpot()

    def hold(index: int, method: str, path: str, body: Any) -> None:
        if path.endswith("/gdpr-delete") and isinstance(body, dict) and "idProperty" not in body:
            received.set()
            release.wait(timeout=30)

    with pointed_at(fake, monkeypatch):
        try:
            yield fake, received, release, hold
        finally:
            release.set()


def worker_process(pv: Any, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PERSONVERN_NOW"}
    argv = [str(SCRIPT), "worker", *args, "--db", pv.db_url]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_worker_leaves_one_gdpr_delete_per_contact(pv_ready, held, tmp_path) -> None:
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    fake, received, release, held_until_killed = held
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("relationship", "start", sid, "--type", "order", "--now", NOW))
    assert_ok(pv_ready("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))
    assert pv_ready.json("worker", "--once", "--now", T1)["delivered"] == 1
    [contact] = list(fake.contacts)
    opened = pv_ready.json("request", "open", "--type", "erasure", "--subject", sid, "--now", T1)
    assert_ok(pv_ready("request", "verify", opened["id"], "--method", "bankid", "--now", T1))
    assert_ok(pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / "e"), "--now", T1))
    fake.on_request = held_until_killed

    first = worker_process(pv_ready, "--now", DUE, "--interval", "0.2")
    try:
        assert received.wait(timeout=60), "the worker never asked HubSpot to delete the contact"
    finally:
        first.send_signal(signal.SIGKILL)  # HubSpot has the request; the worker never records it
        first.wait(timeout=10)
        release.set()
    assert first.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while not fake.deleted and time.monotonic() < deadline:
        time.sleep(0.05)  # the held request is answered (to no one) once released
    assert fake.deleted == [contact]  # HubSpot carried it out
    [(state,)] = sql(pv_ready.db_url, "SELECT state FROM outbox WHERE kind = 'hubspot.delete'")
    assert state == "pending"
    assert pv_ready.json("request", "show", opened["id"], "--now", DUE)["state"] == "in_progress"

    fake.on_request = None
    second = worker_process(pv_ready, "--once", "--now", AFTER_LEASE, "--json")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert '"delivered": 1' in out
    deletes = [b for (_m, p), b in zip(fake.requests, fake.bodies, strict=True) if p.endswith("/gdpr-delete")]
    assert deletes.count({"objectId": contact}) == 1  # asked first whether it was still there: it was not
    assert fake.deleted == [contact]
    final = pv_ready.json("request", "show", opened["id"], "--now", AFTER_LEASE)
    assert final["state"] == "completed"
    [hub] = [r for r in final["recipients"] if r["recipient"] == "hubspot"]
    assert hub["state"] == "confirmed"
    confirms = sql(pv_ready.db_url, "SELECT count(*) FROM audit_log WHERE action = 'request.confirm'")
    assert confirms[0][0] == 1
