"""Killing a real worker process mid-delivery loses nothing; the one message sent twice carries the same refId.

The fake LINK Mobility holds the third request it receives. Once it has it, the worker (a real
`personvern worker` process) is killed with SIGKILL: it has sent that message but never recorded the
answer, and the rows after it are claimed but unsent. A second worker, started at a time after the first
one's lease ran out, sends the rest. The receiver then holds every message, and the only duplicate shares
its refId with the first copy, so the receiver can drop it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import NOW, add, assert_ok, sql
from tests.fakes_linkmobility import FakeLink, pointed_at

SCRIPT = Path(sys.executable).with_name("personvern")
MESSAGES = 4
HELD = 2  # the third request is held until the worker is dead
FIRST_RUN = "2026-11-25T12:01:00+00:00"
AFTER_LEASE = "2026-11-25T12:30:00+00:00"  # the first worker's five-minute lease has run out


@pytest.fixture
def held_link(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeLink, threading.Event, threading.Event]]:
    received, release = threading.Event(), threading.Event()

    def hold(index: int, body: dict[str, Any]) -> None:
        if index == HELD:
            received.set()
            release.wait(timeout=30)

    fake = FakeLink(on_request=hold)
    with pointed_at(fake, monkeypatch):
        try:
            yield fake, received, release
        finally:
            release.set()


def worker_process(pv: Any, *args: str) -> subprocess.Popen[str]:
    # The test's environment already names the database, the master key and the fake's URL and credentials.
    env = {k: v for k, v in os.environ.items() if k != "PERSONVERN_NOW"}
    argv = [str(SCRIPT), "worker", *args, "--db", pv.db_url]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_worker_loses_nothing_and_duplicates_only_by_ref_id(pv_ready, held_link):
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    fake, received, release = held_link
    rows = []
    for n in range(1, MESSAGES + 1):
        sid = add(pv_ready, n)
        assert_ok(pv_ready("relationship", "start", sid, "--now", NOW))
        sent = pv_ready.json("sms", "send", sid, "--purpose", "service", "--text", f"Melding {n}", "--now", NOW)
        rows.append(sent["outbox_id"])

    first = worker_process(pv_ready, "--now", FIRST_RUN, "--interval", "0.2")
    try:
        assert received.wait(timeout=30), "the worker never sent the third message"
    finally:
        first.send_signal(signal.SIGKILL)  # after the request reached LINK, before the worker recorded it
        first.wait(timeout=10)
        release.set()
    assert first.returncode == -signal.SIGKILL
    states = Counter(state for (state,) in sql(pv_ready.db_url, "SELECT state FROM outbox"))
    assert states == {"delivered": HELD, "pending": MESSAGES - HELD}, "nothing is lost, nothing is done twice"

    second = worker_process(pv_ready, "--once", "--now", AFTER_LEASE, "--json")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert '"delivered": 2' in out

    refs = [r["refId"] for r in fake.received]
    assert set(refs) == set(rows)  # every message reached the receiver
    assert Counter(refs) == Counter(rows) + Counter([fake.received[HELD]["refId"]])  # exactly one sent twice
    by_content: dict[tuple[str, str], set[str]] = {}
    for request in fake.received:
        by_content.setdefault((request["destination"], request["userData"]), set()).add(request["refId"])
    assert len(by_content) == MESSAGES
    assert all(len(ids) == 1 for ids in by_content.values())  # the copy has the original's refId
    assert len(set(refs)) == MESSAGES  # so de-duplicating by refId leaves each message once
    assert sql(pv_ready.db_url, "SELECT count(*) FROM outbox WHERE state != 'delivered'")[0][0] == 0
