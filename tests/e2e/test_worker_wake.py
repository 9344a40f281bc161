"""`serve` with its worker: a queued SMS leaves within a second or two of `wake`, not at the next poll (5 s).

One real server (about 20 s with its start and stop), on SQLite only: PostgreSQL's wake (LISTEN/NOTIFY across
processes) is tested in tests/integration/test_wake.py, and this test passed on it too when written. Its worker
polls every 5 s (the default), so a delivery within 2 s is the wake's.
With PERSONVERN_DEMO_SINK on and LINK Mobility configured, SMS still go to LINK (never to the sink), and the
start says that e-mail (no SMTP settings) goes to the demo sink.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from personvern.bootstrap import Settings, open_runtime
from personvern.connectors.wake import wake
from personvern.services import outbox
from tests.conftest import NOW
from tests.e2e.support import free_port
from tests.fakes_linkmobility import ENV as LINK_ENV
from tests.fakes_linkmobility import FakeLink

SCRIPT = Path(sys.executable).with_name("personvern")
ROUNDS = 5
WITHIN = 2.0  # seconds from wake to LINK Mobility's answer; the poll alone would take up to 5


def delivered(fake: FakeLink, ref: str, timeout: float) -> float:
    start = time.monotonic()
    while ref not in fake.accepted:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"the SMS was not delivered within {timeout} s")
        time.sleep(0.005)
    return time.monotonic() - start


def test_a_queued_sms_leaves_at_once_when_the_worker_is_woken(db_url: str, tmp_path: Path) -> None:
    if db_url.startswith("postgresql"):
        pytest.skip("one server is enough here; PostgreSQL's wake is tested in tests/integration/test_wake.py")
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
    env |= {"PERSONVERN_MASTER_KEY_FILE": str(tmp_path / "master.key"), "PERSONVERN_ACTOR": "tester"}
    init = subprocess.run([str(SCRIPT), "init", "--now", NOW, "--db", db_url], env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    fake = FakeLink()
    with fake.serve() as url:
        env |= {**LINK_ENV, "PERSONVERN_LINKMOBILITY_URL": url, "PERSONVERN_DEMO_SINK": "1"}
        port = free_port()
        argv = [str(SCRIPT), "serve", "--port", str(port), "--workers", "2", "--db", db_url]
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runtime = open_runtime(Settings.resolve(db_url, role="ceo"))
        try:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "serve did not answer within 120 s"
                time.sleep(0.2)

            def send() -> str:
                ctx = runtime.context()
                with ctx.uow() as uow:
                    personal = {"destination": "+4741234567", "text": "Koden din er 123456."}
                    row = outbox.enqueue(ctx, uow, "sms", None, {"purpose": "code"}, personal)
                    uow.commit()
                wake(runtime.settings)
                return row.id

            delivered(fake, send(), 60)  # the worker's first pass (its daily duties) may take a while
            took = []
            for _ in range(ROUNDS):
                time.sleep(0.3)  # the worker back in its wait
                took.append(delivered(fake, send(), 10))
        finally:
            runtime.close()
            proc.terminate()
            out, _ = proc.communicate(timeout=60)
    print(
        f"\nwake to delivery on {db_url.split(':')[0]}: median {statistics.median(took):.3f} s, max {max(took):.3f} s"
    )
    assert statistics.median(took) < WITHIN and max(took) < 5.0, took
    assert "demo: e-mail goes to the demo sink" in out and "SMS" not in out.split("demo:")[1].splitlines()[0]
