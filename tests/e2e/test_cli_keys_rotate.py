"""`keys rotate` on SQLite and PostgreSQL: killed half-way (SIGKILL, a real process) and run again, the register
then opens with the new key alone; a backup made before opens with the retired key and comes back re-wrapped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.support import add, assert_ok, assert_refused, killed_once, sql, values

SCRIPT = Path(sys.executable).with_name("personvern")
ROWS = 1500
NOW = "2026-03-01T10:00:00+00:00"


def key_file() -> Path:
    return Path(os.environ["PERSONVERN_MASTER_KEY_FILE"])


def _csv(path: Path) -> Path:
    lines = ["full_name,phone,email"]
    lines += [f"Person {n} Nordmann,4{1_000_000 + n:07d},person{n}@example.no" for n in range(10_000, 10_000 + ROWS)]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _rotating_to(url: str) -> str | None:
    return sql(url, "SELECT rotating_to FROM installation")[0][0]


def test_a_rotation_killed_half_way_goes_on_and_the_old_key_can_go(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    url = pv.db_url
    assert_ok(pv("subject", "import", str(_csv(tmp_path / "people.csv")), "--kind", "one_time_customer", "--now", NOW))
    kari = add(pv, 1)
    old_id = sql(url, "SELECT master_key_id FROM installation")[0][0]
    before = sql(url, "SELECT owner_id, wrapped FROM keystore.data_keys")
    digests = sorted(sql(url, "SELECT digest FROM lookups"))
    journal_before = pv.json("audit", "verify")
    backup = tmp_path / "before.pvbackup"
    has_pg_dump = url.startswith("sqlite") or subprocess.run(["which", "pg_dump"], capture_output=True).returncode == 0
    if has_pg_dump:
        assert_ok(pv("backup", "--out", str(backup)))

    def some_rewrapped() -> bool:
        target = _rotating_to(url)
        return bool(
            target and sql(url, "SELECT count(*) FROM keystore.data_keys WHERE master_key_id = :k", k=target)[0][0]
        )

    killed_once([str(SCRIPT), "keys", "rotate", "--batch", "1", "--json", "--db", url], some_rewrapped, pause=0.002)
    new_id = _rotating_to(url)
    assert new_id is not None and new_id != old_id
    split = Counter(k for (k,) in sql(url, "SELECT master_key_id FROM keystore.data_keys"))
    assert set(split) == {old_id, new_id} and split[new_id] >= 1, split  # whole batches under one key or the other

    # Half re-wrapped: not served, and the refusal says what to do.
    assert_refused(pv("subject", "show", kari), 9, "rotation", "personvern keys rotate")

    second = pv.json("keys", "rotate")
    assert second["resumed"] is True and second["to_key_id"] == new_id and second["from_key_id"] == old_id
    assert second["data_keys_rewrapped"] == split[old_id] and second["data_keys"] == len(before)
    assert sql(url, "SELECT master_key_id, rotating_to FROM installation") == [(new_id, None)]
    assert {k for (k,) in sql(url, "SELECT master_key_id FROM keystore.data_keys")} == {new_id}
    assert sql(url, "SELECT master_key_id FROM keystore.secrets") == [(new_id,)]
    # Every key wrapped anew; no value was touched: the blind indexes are the same.
    after = dict(sql(url, "SELECT owner_id, wrapped FROM keystore.data_keys"))
    assert set(after) == {o for o, _ in before} and all(after[o] != w for o, w in before)
    assert sorted(sql(url, "SELECT digest FROM lookups")) == digests

    # The old key destroyed: the register opens with the new key alone.
    retired = Path(second["retired_key_file"])
    assert retired.exists() and retired.stat().st_mode & 0o777 == 0o600
    old_key_text = retired.read_text()
    retired.unlink()
    assert not any(p.name.endswith(".next") for p in key_file().parent.iterdir())
    shown = pv.json("subject", "show", "--email", values(1)["email"])
    assert shown["id"] == kari and shown["values"]["full_name"] == values(1)["full_name"]
    assert pv.json("subject", "show", "--phone", "41010007")["values"]["full_name"] == "Person 10007 Nordmann"
    verified = pv.json("audit", "verify")
    assert verified["ok"] is True and verified["entries"] > journal_before["entries"]
    entries = sql(url, "SELECT details FROM audit_log WHERE action = 'keys.rotated'")
    assert len(entries) == 1 and new_id in str(entries[0][0]) and "Nordmann" not in str(entries[0][0])

    if has_pg_dump:
        # The backup made before opens with the old key only, and comes back under the new one.
        assert_refused(pv("restore", str(backup), "--yes"), 9, f"--key-file KEYFILE.retired-{old_id}")
        retired.write_text(old_key_text)
        retired.chmod(0o600)
        restored = pv.json("restore", str(backup), "--yes", "--key-file", str(retired))
        assert restored["keys"]["rewrapped"] == len(before)
        assert sql(url, "SELECT master_key_id FROM installation")[0][0] == new_id
        assert {k for (k,) in sql(url, "SELECT master_key_id FROM keystore.data_keys")} == {new_id}
        retired.unlink()
        assert pv.json("subject", "show", kari)["values"]["full_name"] == values(1)["full_name"]
        assert_ok(pv("audit", "verify"))


def test_rotate_refuses_bad_input_and_other_roles(pv_ready) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    add(pv, 1)
    assert_refused(pv("keys", "rotate", "--role", "staff"), 6, "rotate its master key")
    assert_refused(pv("keys", "rotate", "--batch", "0"), 2, "--batch")
    # A key file that is not the register's: refused, nothing changed.
    real = key_file().read_bytes()
    key_file().write_text("00" * 32 + "\n")
    try:
        assert_refused(pv("keys", "rotate"), 9, "is not the one this database belongs to")
        assert not key_file().with_name(key_file().name + ".next").exists()
    finally:
        key_file().write_bytes(real)
    assert sql(pv.db_url, "SELECT rotating_to FROM installation") == [(None,)]
    human = pv("keys", "rotate")
    assert_ok(human)
    assert "master key rotated" in human.stdout and "retired-" in human.stdout


def test_rotate_is_refused_while_a_worker_runs_on_the_register(pv_ready) -> None:  # type: ignore[no-untyped-def]
    from personvern.connectors.wake import worker_listening

    pv = pv_ready
    if not SCRIPT.exists():
        pytest.skip(f"the console script is not installed at {SCRIPT}")
    add(pv, 1)
    env = {k: v for k, v in os.environ.items() if k != "PERSONVERN_NOW"}
    worker = subprocess.Popen(
        [str(SCRIPT), "worker", "--interval", "0.2", "--db", pv.db_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not worker_listening(pv.db_url):
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did not start listening"
            time.sleep(0.05)
        assert_refused(pv("keys", "rotate"), 9, "a worker runs on this register")
        assert sql(pv.db_url, "SELECT rotating_to FROM installation") == [(None,)]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    deadline = time.monotonic() + 10
    while worker_listening(pv.db_url) and time.monotonic() < deadline:
        time.sleep(0.05)  # PostgreSQL ends the worker's session a moment after the process
    assert_ok(pv("keys", "rotate"))
