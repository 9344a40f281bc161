"""`backup` and `restore` on SQLite and PostgreSQL: people erased after a backup stay erased once it is restored."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from personvern.bootstrap import Settings, open_runtime
from personvern.domain.errors import IntegrityBroken
from personvern.services.erasure import archive_subject
from personvern.store import backup as snap
from personvern.store.crypto import Vault, read_master_key
from personvern.store.erasure_journal import FileErasureJournal, _sign, journal_file, journal_key
from tests.e2e.support import (
    ONE_TIME,
    REPRESENTATIVE,
    add,
    assert_ok,
    assert_refused,
    snapshot,
    sql,
    sqlite_file,
    values,
)

JAN = "2026-01-05T10:00:00+00:00"
BACKED_UP = "2026-01-20T10:00:00+00:00"
ASKED, VERIFIED, ANSWERED = "2026-01-31T10:00:00+01:00", "2026-02-10T10:00:00+01:00", "2026-02-15T10:00:00+01:00"
PROSPECT_OVER = "2026-04-06T12:00:00+00:00"  # a representative with no relationship, 90 days on: erased
DEC = "2026-12-15T12:00:00+00:00"
RESTORED = "2026-12-20T12:00:00+00:00"


def key_file() -> Path:
    return Path(os.environ["PERSONVERN_MASTER_KEY_FILE"])


def vault() -> Vault:
    return Vault(read_master_key(key_file()))


def archive(pv, subject_id: str) -> None:  # type: ignore[no-untyped-def]
    rt = open_runtime(Settings.resolve(pv.db_url, JAN, "ceo"))
    try:
        ctx = rt.context()
        with ctx.uow() as uow:
            archive_subject(ctx, uow, subject_id, "the agreement ended")
            uow.commit()
    finally:
        rt.close()


def raw_database(url: str, folder: Path) -> bytes:
    """Every byte the restored database holds: the SQLite files, or PostgreSQL's plain-text dump."""
    path = sqlite_file(url)
    if path is not None:
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
    conninfo, env = snap.libpq(url)
    out = folder / "plain.sql"
    subprocess.run(["pg_dump", "--format=plain", f"--file={out}", f"--dbname={conninfo}"], env=env, check=True)
    return out.read_bytes()


def needles(n: int) -> list[str]:
    v = values(n, REPRESENTATIVE if n in (2, 3) else ONE_TIME)
    return [v[f] for f in ("full_name", "phone", "email") if f in v]


@pytest.fixture(autouse=True)
def _tools(backend: str) -> None:
    if backend == "postgresql" and not all(shutil.which(t) for t in ("pg_dump", "pg_restore", "psql")):
        pytest.skip("pg_dump, pg_restore and psql are needed for PostgreSQL backups and are not on PATH")


def test_people_erased_after_a_backup_stay_erased_when_it_is_restored(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    by_request = add(pv, 1, ONE_TIME, "--now", JAN)
    by_retention = add(pv, 2, REPRESENTATIVE, "--now", JAN)
    by_review = add(pv, 3, REPRESENTATIVE, "--now", JAN)
    kept = add(pv, 4, ONE_TIME, "--now", JAN)
    assert_ok(pv("relationship", "start", kept, "--now", JAN))
    archive(pv, by_review)  # in the archive at the backup; a representative's archived record has no reason left
    file = tmp_path / "register.pvbackup"
    made = pv.json("backup", "--out", str(file), "--now", BACKED_UP)
    assert made["schema_revision"] and made["audit_head"]["seq"] > 0 and made["bytes"] == file.stat().st_size
    assert file.stat().st_mode & 0o777 == 0o600
    raw = file.read_bytes()
    assert all(s.encode() not in raw for n in (1, 2, 3, 4) for s in needles(n))  # encrypted, names too

    # Three erasures after the backup, one by each path.
    opened = pv.json("request", "open", "--type", "erasure", "--subject", by_request, "--now", ASKED)
    pv.json("request", "verify", opened["id"], "--method", "known_email", "--now", VERIFIED)
    pv.json("request", "fulfil", opened["id"], "--out", str(tmp_path / "answer"), "--now", ANSWERED)
    run = pv.json("retention", "run", "--now", PROSPECT_OVER)
    assert run["erased"] == 1, run
    review = pv.json("review", "run", "--year", "2026", "--out", str(tmp_path / "review"), "--now", DEC)
    signed = pv.json("review", "sign", review["id"], "--now", DEC)
    assert signed["archive_records_erased"] == 1, signed
    gone = {by_request, by_retention, by_review}
    journal = journal_file(key_file()).read_text("ascii")
    entries = FileErasureJournal(journal_file(key_file()), vault().backup_key).entries()
    assert {e.subject_id for e in entries} == gone and all(e.confirmed for e in entries)
    assert {e.cause for e in entries} == {"request", "retention", "review"}
    assert all(s not in journal for n in (1, 2, 3) for s in needles(n))  # ids and times only

    restored = pv.json("restore", str(file), "--yes", "--now", RESTORED)
    assert set(restored["erased_again"]) == gone
    assert restored["journal"]["in_backup"] == 0 and restored["journal"]["rolled_back"] == 0
    assert restored["audit"]["entries"] > made["audit_head"]["seq"]
    # The restore was on purpose: its signed mark makes the restored chain the one checkpoints count from.
    assert restored["audit"]["ok"] is True and pv.json("audit", "verify", "--now", RESTORED)["ok"] is True

    # Nobody erased came back: not in the register, the archive, the keys, any output or the database's bytes.
    listed = pv("subject", "list", "--json", "--now", RESTORED).stdout
    assert kept in listed and values(4)["email"] in listed  # the search below finds a person who is there
    for sid in gone:
        assert_refused(pv("subject", "show", sid, "--now", RESTORED), 4, sid)
    for sid in gone:
        assert sql(pv.db_url, "SELECT count(*) FROM keystore.data_keys WHERE owner_id = :o", o=sid)[0][0] == 0
    assert pv.json("archive", "list", "--now", RESTORED)["records"] == []
    outputs = [
        listed,
        pv("subject", "show", kept, "--json", "--now", RESTORED).stdout,
        pv("audit", "log", "--limit", "10000", "--json", "--now", RESTORED).stdout,
        pv("notice", "show", "--now", RESTORED).stdout,
        restored.__repr__(),
    ]
    data = raw_database(pv.db_url, tmp_path)
    for n in (1, 2, 3):
        for needle in needles(n):
            assert all(needle not in out for out in outputs), needle
            assert needle.encode() not in data, needle
    erased_again = sql(pv.db_url, "SELECT subject_id, cause FROM erasure_receipts")
    assert {sid for sid, _cause in erased_again} >= gone
    actions = [e["action"] for e in json.loads(outputs[2])["entries"]]
    assert "backup.restore" in actions and "backup.create" not in actions  # the backup's entry came after it

    # A second restore of the same backup erases them again (the replay wrote the journal too).
    again = pv.json("restore", str(file), "--yes", "--now", RESTORED)
    assert set(again["erased_again"]) == gone


def test_an_erasure_whose_commit_mark_was_lost_or_that_rolled_back(pv_ready, tmp_path: Path, backend: str) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    lost_mark = add(pv, 1, ONE_TIME, "--now", JAN)
    rolled_back = add(pv, 4, ONE_TIME, "--now", JAN)
    assert_ok(pv("relationship", "start", rolled_back, "--now", JAN))
    file = tmp_path / "b.pvbackup"
    pv.json("backup", "--out", str(file), "--now", BACKED_UP)
    opened = pv.json("request", "open", "--type", "erasure", "--subject", lost_mark, "--now", ASKED)
    pv.json("request", "verify", opened["id"], "--method", "known_email", "--now", VERIFIED)
    pv.json("request", "fulfil", opened["id"], "--out", str(tmp_path / "answer"), "--now", ANSWERED)
    path = journal_file(key_file())
    # A crash between the commit and its mark: the erase line stays, the commit line is lost.
    lines = [line for line in path.read_text("ascii").splitlines() if '"op":"commit"' not in line]
    # A transaction that wrote its erase line and then rolled back: the person is still in the register.
    key = journal_key(vault().backup_key)
    body = {"v": 1, "op": "erase", "receipt": "f" * 32, "subject": rolled_back, "at": ANSWERED, "cause": "retention"}
    lines.append(_sign(key, {**body, "request": None}))
    path.write_text("\n".join(lines) + '\n{"op":"erase","cut', "ascii")  # and a last line a crash cut short

    first = pv.json("restore", str(file), "--yes", "--now", RESTORED)
    assert first["erased_again"] == [lost_mark]  # confirmed by the replaced database's receipt
    assert first["journal"]["rolled_back"] == 1  # its receipt was nowhere: skipped
    assert_ok(pv("subject", "show", rolled_back, "--now", RESTORED))

    # With the replaced database unreadable (the disk that failed), unconfirmed lines are replayed: they erase.
    db = sqlite_file(pv.db_url)
    if db is None:
        return  # a PostgreSQL database is not made unreadable here; the rule is the same code for both
    for p in db.parent.glob(db.name + "*"):
        p.unlink()
    second = pv.json("restore", str(file), "--yes", "--now", RESTORED)
    assert set(second["erased_again"]) == {lost_mark, rolled_back} and second["journal"]["unconfirmed_replayed"] >= 2


def test_bad_backups_are_refused_and_change_nothing(pv_ready, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    add(pv, 1, ONE_TIME, "--now", JAN)
    good = tmp_path / "good.pvbackup"
    pv.json("backup", "--out", str(good), "--now", BACKED_UP)
    add(pv, 2, ONE_TIME, "--now", JAN)  # the database now differs from the backup
    before = snapshot(pv.db_url)
    raw = good.read_bytes()

    flipped = tmp_path / "flipped.pvbackup"
    middle = len(raw) // 2
    flipped.write_bytes(raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1 :])
    cut = tmp_path / "cut.pvbackup"
    cut.write_bytes(raw[: len(raw) - 100])
    newer = tmp_path / "newer.pvbackup"
    work = tmp_path / "forge"
    work.mkdir()
    v = vault()
    snap.decrypt_file(good, work / "b.tar", v.backup_key, v.key_id)
    manifest, files = snap.unpack(work / "b.tar", work)
    snap.pack({**manifest, "schema_revision": "9999_future"}, list(files.values()), work / "n.tar")
    snap.encrypt_file(work / "n.tar", newer, v.backup_key, v.key_id)
    other_key = tmp_path / "other" / "master.key"
    other_key.parent.mkdir()
    other_key.write_text(os.urandom(32).hex() + "\n")
    other_key.chmod(0o600)

    assert_refused(pv("restore", str(tmp_path / "missing.pvbackup"), "--yes"), 3, "no backup at")
    assert_refused(pv("restore", str(flipped), "--yes"), 7, "damaged")
    assert_refused(pv("restore", str(cut), "--yes"), 7, "cut short")
    assert_refused(pv("restore", str(newer), "--yes"), 3, "newer personvern", "9999_future")
    monkeypatch.setenv("PERSONVERN_MASTER_KEY_FILE", str(other_key))
    assert_refused(pv("restore", str(good), "--yes"), 9, "another register")
    monkeypatch.setenv("PERSONVERN_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    assert_refused(pv("restore", str(good), input="n\n"), 9, "not confirmed")

    # A failure after the swap (here the replay) puts the replaced database back.
    def failing(*_args, **_kw):  # type: ignore[no-untyped-def]
        raise IntegrityBroken("the replay failed (a test)")

    monkeypatch.setattr("personvern.cli.backup.replay_erasures", failing)
    assert_refused(pv("restore", str(good), "--yes"), 7, "the replay failed")
    assert snapshot(pv.db_url) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("personvern-backup-")) == []


def test_an_erasure_request_open_in_the_backup_and_fulfilled_since_comes_back_completed(
    pv_ready, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    sid = add(pv, 1, ONE_TIME, "--now", JAN)
    opened = pv.json("request", "open", "--type", "erasure", "--subject", sid, "--now", JAN)
    file = tmp_path / "register.pvbackup"
    assert_ok(pv("backup", "--out", str(file), "--now", BACKED_UP))  # the request is open (received) in it
    pv.json("request", "verify", opened["id"], "--method", "known_email", "--now", VERIFIED)
    pv.json("request", "fulfil", opened["id"], "--out", str(tmp_path / "answer"), "--now", ANSWERED)

    restored = pv.json("restore", str(file), "--yes", "--now", RESTORED)
    assert restored["erased_again"] == [sid] and restored["requests_settled"] == [opened["id"]]
    shown = pv.json("request", "show", opened["id"], "--now", RESTORED)
    assert shown["state"] == "completed" and shown["closed_at"].startswith("2026-02-15")
    assert opened["id"] not in pv("request", "list", "--now", RESTORED).stdout  # neither open nor overdue
    assert_refused(pv("request", "fulfil", opened["id"], "--now", RESTORED), 5, "completed")
    assert_ok(pv("audit", "verify", "--now", RESTORED))


def test_someone_archived_since_the_backup_is_due_again_at_once(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pv = pv_ready
    sid = add(pv, 1, ONE_TIME, "--now", JAN)  # no order: archived once the policy's 90 days are over
    file = tmp_path / "register.pvbackup"
    assert_ok(pv("backup", "--out", str(file), "--now", BACKED_UP))
    assert pv.json("retention", "run", "--now", PROSPECT_OVER)["archived"] == 1

    restored = pv.json("restore", str(file), "--yes", "--now", RESTORED)
    assert restored["erased_again"] == [] and restored["retention_due"] == 1  # back in full, and due again
    assert pv.json("retention", "run", "--now", RESTORED)["archived"] == 1
    assert_refused(pv("subject", "show", sid, "--now", RESTORED), 4, sid)
