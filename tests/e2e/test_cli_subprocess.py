"""The installed console script in a real process (SQLite only): help, exit codes and messages without tracebacks.

Each process costs about half a second, so there are few of them; the in-process tests cover the rest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("personvern")


@pytest.fixture
def run(tmp_path):
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
    env |= {"PERSONVERN_MASTER_KEY_FILE": str(tmp_path / "master.key"), "PERSONVERN_ACTOR": "tester"}
    url = f"sqlite:///{tmp_path / 'pv.db'}"

    def invoke(*args, db=True):
        argv = [str(SCRIPT), *args, *(["--db", url] if db else [])]
        return subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)

    return invoke


def _clean(proc):
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream, proc.stderr
        assert "internal error" not in stream, proc.stderr


def test_help_bad_input_and_exit_codes(run, tmp_path):
    help_ = run("--help", db=False)
    assert help_.returncode == 0
    assert "subject" in help_.stdout
    _clean(help_)

    not_ready = run("subject", "list")
    assert not_ready.returncode == 9
    assert "personvern init" in not_ready.stderr
    assert not (tmp_path / "pv.db").exists()
    _clean(not_ready)

    assert run("init").returncode == 0

    bad = run("subject", "add", "--kind", "one_time_customer", "--set", "full_name=Kari", "--set", "phone=123")
    assert bad.returncode == 3
    assert "phone" in bad.stderr
    assert "email: is required" in bad.stderr
    assert bad.stdout == ""
    _clean(bad)

    missing = run("subject", "show", "--email", "kari.nordmann@example.no")
    assert missing.returncode == 4
    assert "kari" not in missing.stderr
    _clean(missing)


@pytest.mark.parametrize("args", [["subject", "list", "--limit", "many"], []], ids=["bad option value", "no arguments"])
def test_usage_errors_exit_2(run, args):
    proc = run(*args, db=False)
    assert proc.returncode == 2, proc.stderr
    assert "Usage" in proc.stdout + proc.stderr
    _clean(proc)
