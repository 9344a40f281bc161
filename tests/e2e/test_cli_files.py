"""What personvern writes to disk is its owner's only (0600 files, 0700 folders) and never goes through a link."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.e2e.support import NOW, ONE_TIME, add, assert_ok, assert_refused, sqlite_file

ANSWER = "2026-11-26T12:00:00+00:00"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _verified_request(pv, sid: str) -> str:  # type: ignore[no-untyped-def]
    opened = pv.json("request", "open", "--type", "access", "--subject", sid, "--now", NOW)
    pv.json("request", "verify", opened["id"], "--method", "known_email", "--now", NOW)
    return str(opened["id"])


def test_the_sqlite_database_and_its_wal_are_private_from_creation(pv, backend):
    if backend != "sqlite":
        pytest.skip("the database's files are an SQLite matter")
    old = os.umask(0o022)  # a usual umask: files would be 0644
    try:
        assert_ok(pv("init", "--now", NOW))
        add(pv, 1, ONE_TIME, "--now", NOW)
    finally:
        os.umask(old)
    db = sqlite_file(pv.db_url)
    assert db is not None
    assert mode(db) == 0o600
    # The -wal and -shm files exist while a connection is open; SQLite gives them the database file's mode.
    conn = sqlite3.connect(db)
    try:
        conn.execute("SELECT count(*) FROM subjects").fetchall()
        wal, shm = (db.with_name(db.name + suffix) for suffix in ("-wal", "-shm"))
        assert (mode(wal), mode(shm)) == (0o600, 0o600)
    finally:
        conn.close()


def test_init_tightens_an_existing_database_file(pv, backend):
    if backend != "sqlite":
        pytest.skip("the database's files are an SQLite matter")
    assert_ok(pv("init", "--now", NOW))
    db = sqlite_file(pv.db_url)
    assert db is not None
    db.chmod(0o644)
    assert_ok(pv("init", "--now", NOW))
    assert mode(db) == 0o600


def test_an_answer_folder_is_private_and_must_be_new_or_an_empty_one_of_ones_own(pv_ready, tmp_path):
    sid = add(pv_ready, 1, ONE_TIME, "--now", NOW)
    request = _verified_request(pv_ready, sid)

    planted = tmp_path / "planted"
    planted.mkdir()
    elsewhere = tmp_path / "elsewhere.html"
    (planted / "letter.html").symlink_to(elsewhere)
    assert_refused(
        pv_ready("request", "fulfil", request, "--out", str(planted), "--now", ANSWER), 3, "out", "not an empty"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    link = tmp_path / "link"
    link.symlink_to(empty)
    assert_refused(pv_ready("request", "fulfil", request, "--out", str(link), "--now", ANSWER), 3, "out", "link")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chown(theirs, 54321, 54321)
    assert_refused(pv_ready("request", "fulfil", request, "--out", str(theirs), "--now", ANSWER), 3, "out", "own")
    assert not elsewhere.exists() and list(empty.iterdir()) == []

    out = tmp_path / "answer"
    assert_ok(pv_ready("request", "fulfil", request, "--out", str(out), "--now", ANSWER))
    assert mode(out) == 0o700
    assert {p.name: mode(p) for p in out.iterdir()} == {"letter.html": 0o600, "data.json": 0o600}


def test_reject_follows_the_answer_folder_rule_and_says_where_the_letter_went(pv_ready, tmp_path, monkeypatch):
    sid = add(pv_ready, 1, ONE_TIME, "--now", NOW)
    request = _verified_request(pv_ready, sid)
    full = tmp_path / "full"
    full.mkdir()
    (full / "other.txt").write_text("x")
    assert_refused(
        pv_ready("request", "reject", request, "--reason", "unfounded", "--out", str(full), "--now", ANSWER),
        3,
        "out",
        "not an empty",
    )
    monkeypatch.chdir(tmp_path)
    result = pv_ready("request", "reject", request, "--reason", "unfounded", "--now", ANSWER)
    assert_ok(result)
    folder = tmp_path / f"request-{request}"
    assert str(folder / "letter.html") in result.stdout.replace("\n", "")
    assert mode(folder) == 0o700 and mode(folder / "letter.html") == 0o600


def test_plans_reviews_and_problem_lists_are_private_and_never_written_through_a_link(pv_ready, tmp_path):
    add(pv_ready, 1, ONE_TIME, "--now", NOW)
    target = tmp_path / "target.csv"
    target.write_text("keep\n")
    link = tmp_path / "due.csv"
    link.symlink_to(target)
    assert_refused(pv_ready("retention", "plan", "--csv", str(link), "--now", NOW), 3, "csv", "link")
    assert target.read_text() == "keep\n"

    due = tmp_path / "plan.csv"
    due.write_text("old\n")
    due.chmod(0o644)
    assert_ok(pv_ready("retention", "plan", "--csv", str(due), "--now", NOW))
    assert mode(due) == 0o600 and due.read_text().startswith("subject_id")

    review = tmp_path / "review"
    assert_ok(pv_ready("review", "run", "--year", "2026", "--out", str(review), "--now", "2026-12-15"))
    assert mode(review) == 0o700
    assert {mode(p) for p in review.iterdir()} == {0o600}

    bad = tmp_path / "bad.csv"
    bad.write_text("full_name,phone,email\nKari,12,kari@example.no\n", "utf-8")
    problems = tmp_path / "problems.csv"
    assert_refused(
        pv_ready("subject", "import", str(bad), "--kind", ONE_TIME, "--problems", str(problems), "--now", NOW), 3
    )
    assert mode(problems) == 0o600
