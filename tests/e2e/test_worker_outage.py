"""An outage of the SMS provider loses no message, and the recovered provider receives each message once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.e2e.support import NOW, add, assert_ok
from tests.fakes_linkmobility import FakeLink, Reply, pointed_at

T0 = "2026-11-25T13:00:00+00:00"


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLink]:
    fake = FakeLink()
    with pointed_at(fake, monkeypatch):
        yield fake


def queue(pv, n: int) -> list[str]:
    rows = []
    for i in range(1, n + 1):
        sid = add(pv, i)
        assert_ok(pv("relationship", "start", sid, "--now", NOW))
        args = ("sms", "send", sid, "--purpose", "service", "--text", f"Melding {i}", "--now", NOW)
        rows.append(pv.json(*args)["outbox_id"])
    return rows


def worker(pv, now: str) -> dict:
    return pv.json("worker", "--once", "--now", now)


def test_503_with_retry_after_then_recovery(pv_ready, link):
    rows = queue(pv_ready, 3)
    link.then(*[Reply(503, {"description": "Service Unavailable"}, {"Retry-After": "120"})] * 3)

    first = worker(pv_ready, T0)
    assert (first["retrying"], first["delivered"], first["errors"]) == (3, 0, ["LINK Mobility answered HTTP 503"])
    assert link.accepted == []
    listed = pv_ready.json("outbox", "list")["rows"]
    assert {r["id"] for r in listed} == set(rows)
    assert {(r["state"], r["attempts"], r["next_attempt_at"]) for r in listed} == {
        ("pending", 1, "2026-11-25T13:02:00+00:00")  # Retry-After: 120, longer than the first back-off (<= 30 s)
    }

    assert worker(pv_ready, "2026-11-25T13:01:00+00:00")["retrying"] == 0  # not before Retry-After
    assert len(link.received) == 3

    recovered = worker(pv_ready, "2026-11-25T13:02:00+00:00")
    assert recovered["delivered"] == 3
    assert link.accepted_counts() == Counter(rows)  # each message once
    assert worker(pv_ready, "2026-11-25T14:00:00+00:00")["delivered"] == 0
    assert pv_ready.json("outbox", "list")["total"] == 0


def test_an_unreachable_provider_then_recovery(pv_ready, monkeypatch):
    rows = queue(pv_ready, 2)
    gone = FakeLink()
    with pointed_at(gone, monkeypatch):
        pass  # served and shut down: nothing listens on that port any more
    down = worker(pv_ready, T0)
    assert (down["retrying"], down["errors"]) == (2, ["cannot reach LINK Mobility (ConnectError)"])

    back = FakeLink()
    with pointed_at(back, monkeypatch):
        assert worker(pv_ready, "2026-11-25T14:00:00+00:00")["delivered"] == 2
    assert back.accepted_counts() == Counter(rows)
    assert gone.received == []
