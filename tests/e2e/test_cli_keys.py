"""`keys sweep`, and backups of the register and its key store apart (`--data-only`, `--keys-only`), both databases."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.support import add, assert_ok, assert_refused, sql, values


@pytest.fixture(autouse=True)
def _tools(backend: str) -> None:
    if backend == "postgresql" and not all(shutil.which(t) for t in ("pg_dump", "pg_restore", "psql")):
        pytest.skip("pg_dump, pg_restore and psql are needed for PostgreSQL backups and are not on PATH")


def name_of(pv, sid: str) -> str:  # type: ignore[no-untyped-def]
    return str(pv.json("subject", "show", sid)["values"]["full_name"])


def test_keys_sweep_deletes_the_keys_of_owners_gone(pv_ready) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    kept = add(pv, 1)
    sql(pv.db_url, "INSERT INTO keystore.data_keys VALUES ('nobody', :w, 'k', '2026-01-01 00:00:00')", w=b"x")
    assert pv.json("keys", "sweep") == {"orphans": 1, "keyless": 0}
    assert sql(pv.db_url, "SELECT owner_id FROM keystore.data_keys WHERE owner_id = 'nobody'") == []
    assert name_of(pv, kept) == values(1)["full_name"]
    human = pv("keys", "sweep")
    assert_ok(human)
    assert "orphan keys deleted: 0" in human.stdout


def test_data_and_key_backups_apart_restore_each_part(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    first = add(pv, 1)
    both, data, keys = tmp_path / "both.pvbackup", tmp_path / "data.pvbackup", tmp_path / "keys.pvbackup"
    assert pv.json("backup", "--out", str(both))["stores"] == ["register", "keys"]
    assert pv.json("backup", "--out", str(data), "--data-only")["stores"] == ["register"]
    assert_refused(pv("backup", "--out", str(tmp_path / "x"), "--data-only", "--keys-only"), 3, "keys-only")
    second = add(pv, 2)  # after the data backup: its key is in the key store, its data not in the data backup
    assert pv.json("backup", "--out", str(keys), "--keys-only")["stores"] == ["keys"]

    restored = pv.json("restore", str(data), "--yes")
    assert restored["stores"] == ["register"]
    # The live key store stayed; the second person's key opened nothing of the restored data: swept.
    assert restored["keys"] == {"orphans_deleted": 1, "subjects_without_key": 0, "rewrapped": 0}
    assert name_of(pv, first) == values(1)["full_name"]
    assert sql(pv.db_url, "SELECT count(*) FROM keystore.data_keys WHERE owner_id = :o", o=second)[0][0] == 0

    # A key store from before the register's first person: that person's values no longer open.
    sql(pv.db_url, "DELETE FROM keystore.data_keys")
    assert pv.json("keys", "sweep")["keyless"] == 1
    again = pv.json("restore", str(keys), "--yes")  # the newer key-store backup brings the key back
    assert again["stores"] == ["keys"]
    assert again["keys"] == {"orphans_deleted": 1, "subjects_without_key": 0, "rewrapped": 0}
    assert name_of(pv, first) == values(1)["full_name"]

    whole = pv.json("restore", str(both), "--yes")
    assert whole["stores"] == ["register", "keys"] and whole["keys"]["subjects_without_key"] == 0
    assert name_of(pv, first) == values(1)["full_name"]
