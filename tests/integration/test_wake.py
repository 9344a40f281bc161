"""Waking the outbox worker: the waiter returns when woken, well before its interval, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from personvern.connectors.wake import Waiter, socket_path, waiter, wake

INTERVAL = 30.0  # a waiter that only slept would fail every test below by far
WITHIN = 2.0


@dataclass(frozen=True)
class Url:
    database_url: str


@pytest.fixture
def settings(db_url: str) -> Url:
    return Url(db_url)


@pytest.fixture
def alarm(settings: Url) -> Iterator[Waiter]:
    with waiter(settings) as w:
        assert w.wakeable
        yield w


def timed_wait(alarm: Waiter, seconds: float = INTERVAL) -> tuple[bool, float]:
    start = time.monotonic()
    woken = alarm.wait(seconds)
    return woken, time.monotonic() - start


def test_a_wake_while_waiting_ends_the_wait(settings: Url, alarm: Waiter) -> None:
    threading.Timer(0.2, wake, (settings,)).start()
    woken, took = timed_wait(alarm)
    assert woken and 0.15 < took < WITHIN


def test_a_wake_while_busy_is_kept_for_the_next_wait_and_many_count_as_one(settings: Url, alarm: Waiter) -> None:
    for _ in range(3):  # three rows queued during a pass
        wake(settings)
    time.sleep(0.1)  # a notification travels through the server
    woken, took = timed_wait(alarm)
    assert woken and took < WITHIN
    # One pass answers all three: the next wait is not cut short by the ones already seen.
    assert timed_wait(alarm, 0.3) == (False, pytest.approx(0.3, abs=0.25))


def test_another_process_wakes_it(settings: Url, alarm: Waiter) -> None:
    code = "import sys; from personvern.connectors.wake import wake; from types import SimpleNamespace as S; "
    code += "wake(S(database_url=sys.argv[1]))"
    child = subprocess.Popen([sys.executable, "-c", code, settings.database_url])
    try:
        woken, took = timed_wait(alarm)
    finally:
        child.wait(10)
    assert child.returncode == 0
    assert woken and took < WITHIN + 3  # the child's interpreter starts first


def test_wake_with_no_worker_does_nothing_and_never_raises(settings: Url) -> None:
    wake(settings)
    wake(Url("postgresql+psycopg://nobody@127.0.0.1:1/none"))  # nothing listens there
    wake(Url("not a url"))


def test_postgresql_needs_no_socket(db_url: str) -> None:
    assert (socket_path(db_url) is None) == db_url.startswith("postgresql")


def test_sqlite_socket_sits_beside_the_database_private_and_goes_with_the_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pv.db'}"
    path = socket_path(url)
    assert path == tmp_path / "pv.db.wake"
    with waiter(Url(url)) as first:
        assert first.wakeable and path.stat().st_mode & 0o777 == 0o600
        with waiter(Url(url)) as second:
            assert not second.wakeable  # one worker is woken; a second one polls
    assert not path.exists()


def test_a_socket_left_by_a_killed_worker_is_taken_over(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pv.db'}"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(tmp_path / "pv.db.wake"))
    dead.close()  # the file stays, as after SIGKILL
    with waiter(Url(url)) as alarm:
        assert alarm.wakeable
        wake(Url(url))
        assert timed_wait(alarm)[0]


def test_a_path_too_long_for_a_socket_polls_instead(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)
    assert socket_path(f"sqlite:///{deep / 'pv.db'}") is None
    assert not waiter(Url(f"sqlite:///{deep / 'pv.db'}")).wakeable
