"""`personvern serve` in a real process: health, the API with a token, the worker beside it, SIGTERM, bad input.

A server process costs a couple of seconds, so there are few of them; the API tests use the app factory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import NOW
from tests.e2e.support import free_port

SCRIPT = Path(sys.executable).with_name("personvern")


@pytest.fixture
def served(db_url, tmp_path):
    """Start `personvern serve ARGS` on a free loopback port; stops it (SIGTERM) at the end."""
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
    env |= {"PERSONVERN_MASTER_KEY_FILE": str(tmp_path / "master.key"), "PERSONVERN_ACTOR": "tester"}
    started: list[subprocess.Popen[str]] = []

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [str(SCRIPT), *args, "--db", db_url]
        return subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)

    def start(*args: str) -> tuple[subprocess.Popen[str], str]:
        port = free_port()
        argv = [str(SCRIPT), "serve", "--port", str(port), *args, "--db", db_url]
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # two HTTP processes each import the app; slow on a loaded machine
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve ended: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    return proc, base
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("serve did not answer within 120 s")

    run.start = start  # type: ignore[attr-defined]
    run.db_url = db_url  # type: ignore[attr-defined]
    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_answers_with_the_worker_beside_it_and_stops_on_sigterm(served):
    assert served("init", "--now", NOW).returncode == 0
    token = json.loads(served("user", "add", "kari", "--role", "ceo", "--json").stdout)["token"]
    proc, base = served.start("--workers", "2")
    assert httpx.get(base + "/readyz").json()["status"] == "ready"
    auth = {"Authorization": f"Bearer {token}"}
    # Two HTTP processes on one database: every request finds the same user, whichever process takes it.
    for _ in range(10):
        assert httpx.get(base + "/api/v1/me", headers=auth).json()["name"] == "kari"
    assert httpx.get(base + "/api/v1/me").status_code == 401
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "outbox worker runs beside it" in out
    assert "worker stopped" in err  # the child ran, heard SIGTERM and stopped between its rows
    assert "Traceback" not in out + err


def test_serve_refuses_bad_input_and_an_unready_database(served):
    nothing = served("serve", "--port", str(free_port()), "--no-worker", timeout=30)
    assert nothing.returncode == 9 and "init" in nothing.stderr
    assert served("init").returncode == 0  # a real register
    bad_port = served("serve", "--port", "70000")
    assert bad_port.returncode == 3 and "port" in bad_port.stderr
    bad_workers = served("serve", "--workers", "0")
    assert bad_workers.returncode == 3 and "workers" in bad_workers.stderr
    moved = served("serve", "--now", NOW)
    assert moved.returncode == 3 and "real clock" in moved.stderr
    for result in (nothing, bad_port, bad_workers, moved):
        assert "Traceback" not in result.stderr


def test_one_process_stops_its_worker_on_sigterm_and_leaves_none_behind(served):
    # uvicorn alone raises SIGTERM again once it has stopped; under the default handler that ended serve before it
    # stopped its worker, which then ran on, orphaned (found trying `keys rotate` beside it, 4 December).
    assert served("init", "--now", NOW).returncode == 0
    proc, _base = served.start()
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.1)
    worker_pid = int(children.read_text().split()[0])
    from personvern.connectors.wake import worker_listening

    while not worker_listening(served.db_url) and time.monotonic() < deadline:
        time.sleep(0.1)  # its handlers are set once it waits: a SIGTERM before would end it unheard
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "worker stopped" in err and "Traceback" not in out + err
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)  # gone, and reaped by serve
