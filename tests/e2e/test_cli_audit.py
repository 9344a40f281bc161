"""`personvern audit verify`: an intact chain is counted; an entry altered or removed behind its back is named."""

from __future__ import annotations

import json
import os
import pwd
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from personvern.bootstrap import Settings, open_runtime
from personvern.domain.audit import AuditEvent
from tests.e2e.support import Cases, add, assert_no_crash, assert_ok, assert_refused, shown, sql, sqlite_file


def _three_entries(pv):
    """init (policy load), add, show: three entries."""
    sid = add(pv, 1)
    pv.json("subject", "show", sid)
    return sid


def test_an_intact_chain_is_counted(pv_ready):
    _three_entries(pv_ready)
    result = pv_ready("audit", "verify")
    assert_ok(result)
    assert "intact" in result.stdout
    assert "3 entries" in result.stdout
    data = pv_ready.json("audit", "verify")
    assert data == {"ok": True, "entries": 3, "broken_at": None, "problem": None}
    assert pv_ready.json("audit", "verify")["entries"] == 3  # verifying is not itself recorded


def test_the_audit_log_holds_no_personal_values(pv_ready):
    sid = add(pv_ready, 1, "one_time_customer", "--set", "postal_address=Storgata 1", "--reason", "postal_address=x")
    pv_ready.json("subject", "show", "--email", "person1@example.no")
    pv_ready.json("subject", "update", sid, "--set", "full_name=Kari Nordmann")
    rows = " ".join(map(repr, sql(pv_ready.db_url, "SELECT * FROM audit_log")))
    for value in ("Person 1", "Kari", "person1@", "41000001", "Storgata"):
        assert value not in rows


def test_roles_and_verify(pv_ready, unchanged):
    cases = Cases()
    with cases.case("auditor"):
        assert_ok(pv_ready("audit", "verify", "--role", "auditor"))
    with unchanged():
        for role in ("staff", "marketing"):
            with cases.case(role):
                assert_refused(pv_ready("audit", "verify", "--role", role), 6, role)
    cases.check()


TAMPERING = {
    "details altered": ("UPDATE audit_log SET details = '{}' WHERE seq = 2", 2, "altered"),
    "actor altered": ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3, "altered"),
    "last entry deleted": ("DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)", 3, "removed"),
    "middle entry deleted": ("DELETE FROM audit_log WHERE seq = 2", 3, "entry 2 is missing"),
}


@pytest.mark.parametrize(("statement", "broken_at", "problem"), TAMPERING.values(), ids=TAMPERING.keys())
def test_tampering_is_detected_and_names_the_first_broken_entry(pv_ready, statement, broken_at, problem):
    _three_entries(pv_ready)
    sql(pv_ready.db_url, statement)
    result = pv_ready("audit", "verify", "--json")
    assert result.exit_code != 0, shown(result)
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert data["broken_at"] == broken_at
    assert problem in data["problem"]
    human = pv_ready("audit", "verify")
    assert f"entry {broken_at}" in human.stdout + human.stderr
    assert "Traceback" not in human.stdout + human.stderr


def test_tampering_exits_7(pv_ready):
    _three_entries(pv_ready)
    sql(pv_ready.db_url, "DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
    result = pv_ready("audit", "verify", "--json")
    assert result.exit_code == 7, shown(result)
    assert_no_crash(result)
    assert json.loads(result.stdout)["broken_at"] == 3


def test_a_broken_chain_is_reported_on_stderr(pv_ready):
    _three_entries(pv_ready)
    sql(pv_ready.db_url, "UPDATE audit_log SET details = '{}' WHERE seq = 2")
    assert_refused(pv_ready("audit", "verify"), 7, "entry 2")


# ---------------------------------------------------------------- issue 12: cut short, rebuilt, rolled back


def _key_file(pv) -> Path:
    return Path(os.environ["PERSONVERN_MASTER_KEY_FILE"])


def _broken(pv, *needles: str) -> dict:
    result = pv("audit", "verify", "--json")
    assert result.exit_code == 7, shown(result)
    assert_no_crash(result)
    data = json.loads(result.stdout)
    assert data["ok"] is False
    for needle in needles:
        assert needle in data["problem"], data
    return data


def _five_entries(pv) -> str:
    sid = _three_entries(pv)
    pv.json("subject", "show", sid)
    pv.json("subject", "show", sid)
    return sid


def test_cutting_the_chain_short_and_setting_the_head_back_is_detected(pv_ready):
    """`DELETE FROM audit_log WHERE seq > 3; UPDATE audit_head SET seq = 3` used to say 'intact: 3 entries'."""
    _five_entries(pv_ready)
    sql(pv_ready.db_url, "DELETE FROM audit_log WHERE seq > 3")
    sql(pv_ready.db_url, "UPDATE audit_head SET seq = 3")
    _broken(pv_ready, "head")
    # The head's hash set to entry 3's as well: the head's seal (an HMAC under the key) no longer holds.
    sql(pv_ready.db_url, "UPDATE audit_head SET hash = (SELECT hash FROM audit_log WHERE seq = 3)")
    assert _broken(pv_ready, "seal")["broken_at"] == 4


def test_deleting_every_entry_is_detected(pv_ready):
    """Deleting everything used to say 'intact: 0 entries'."""
    _three_entries(pv_ready)
    sql(pv_ready.db_url, "DELETE FROM audit_log")
    sql(pv_ready.db_url, "UPDATE audit_head SET seq = 0, hash = :h", h="0" * 64)
    assert _broken(pv_ready)["entries"] == 0


def test_a_chain_recomputed_without_the_master_key_is_detected(pv_ready):
    """Anyone who can write the database used to be able to rebuild the whole chain as plain SHA-256."""
    import hashlib

    _three_entries(pv_ready)
    rows = sql(pv_ready.db_url, "SELECT seq, at, actor, role, action, subject_id, purpose, details FROM audit_log")
    prev = "0" * 64
    for seq, at, _actor, role, action, sid, purpose, details in sorted(rows):
        when = datetime.fromisoformat(at).replace(tzinfo=UTC) if isinstance(at, str) else at.astimezone(UTC)
        stamp = when.isoformat()  # as the unkeyed chain hashed it
        material = "\x1f".join((str(seq), stamp, "mallory", role, action, sid or "", purpose or "", details, prev))
        digest = hashlib.sha256(material.encode()).hexdigest()
        sql(pv_ready.db_url, "UPDATE audit_log SET actor = 'mallory', prev_hash = :p, hash = :h WHERE seq = :s",
            p=prev, h=digest, s=seq)  # fmt: skip
        prev = digest
    sql(pv_ready.db_url, "UPDATE audit_head SET hash = :h", h=prev)
    assert _broken(pv_ready)["broken_at"] == 1


def test_a_database_restored_from_an_older_copy_is_detected(pv_ready, backend, tmp_path):
    """The whole database rolled back: its chain is intact in itself, but no longer reaches the last checkpoint,
    kept beside the master key."""
    sid = _three_entries(pv_ready)
    if backend == "sqlite":
        db = sqlite_file(pv_ready.db_url)
        assert db is not None
        shutil.copy(db, tmp_path / "old.db")
    else:
        old_head = sql(pv_ready.db_url, "SELECT seq, hash, mac FROM audit_head")[0]
    assert pv_ready.json("audit", "verify")["entries"] == 3  # intact; checkpointed
    pv_ready.json("subject", "show", sid)
    pv_ready.json("subject", "show", sid)
    assert pv_ready.json("audit", "verify")["entries"] == 5
    checkpoints = _key_file(pv_ready).with_name("master.key.audit-checkpoints")
    assert checkpoints.stat().st_mode & 0o777 == 0o600
    assert len(checkpoints.read_text().splitlines()) >= 2
    if backend == "sqlite":
        shutil.copy(tmp_path / "old.db", db)
    else:  # what a restore of the older copy does to the chain: its later entries gone, the old head back
        sql(pv_ready.db_url, "DELETE FROM audit_log WHERE seq > 3")
        sql(pv_ready.db_url, "UPDATE audit_head SET seq = :s, hash = :h, mac = :m", s=old_head[0], h=old_head[1],
            m=old_head[2])  # fmt: skip
    data = _broken(pv_ready, "older copy", "checkpoint")
    assert (data["entries"], data["broken_at"]) == (3, 4)


def test_a_forged_checkpoint_line_is_refused(pv_ready):
    _three_entries(pv_ready)
    checkpoints = _key_file(pv_ready).with_name("master.key.audit-checkpoints")
    line = checkpoints.read_text().splitlines()[-1].split()
    line[1] = str(int(line[1]) - 1)  # an earlier head, to hide what came after: the signature no longer matches
    checkpoints.write_text(" ".join(line) + "\n")
    assert_refused(pv_ready("audit", "verify"), 7, "not signed")


def test_the_worker_checkpoints_the_head_once_a_day(pv_ready):
    add(pv_ready, 1, "one_time_customer", "--now", "2026-11-25T12:00:00+00:00")
    checkpoints = _key_file(pv_ready).with_name("master.key.audit-checkpoints")
    before = checkpoints.read_text().splitlines()  # init's
    assert pv_ready.json("worker", "--once", "--now", "2026-11-25T18:00:00+00:00")["audit_checkpoint"] is None
    first = pv_ready.json("worker", "--once", "--now", "2026-11-26T13:00:00+00:00")
    assert first["audit_checkpoint"] is not None
    assert checkpoints.read_text().splitlines() == [*before, first["audit_checkpoint"]]
    _chain_id, seq, digest, _at, _mac = first["audit_checkpoint"].split()
    head = sql(pv_ready.db_url, "SELECT seq, hash FROM audit_head")[0]
    assert (int(seq), digest) == (head[0], head[1])
    human = pv_ready("worker", "--once", "--now", "2026-11-28T13:00:00+00:00")
    assert "audit checkpoint: " in human.stdout


# ---------------------------------------------------------------- issue 12: a time with an offset


def test_a_time_with_an_offset_keeps_the_chain_intact(pv_ready):
    """One `subject list --now …+02:00` used to make every later `audit verify` fail at that entry (exit 7)."""
    add(pv_ready, 1, "one_time_customer", "--now", "2026-11-25T12:00:00+00:00")
    assert_ok(pv_ready("subject", "list", "--now", "2026-11-26T10:00:00+02:00"))
    assert_ok(pv_ready("subject", "list", "--now", "2026-11-26T09:00:00-05:00"))
    data = pv_ready.json("audit", "verify")
    assert data["ok"] is True and data["entries"] == 4
    stored = sql(pv_ready.db_url, "SELECT at FROM audit_log WHERE seq = 3")[0][0]
    text_ = stored if isinstance(stored, str) else stored.astimezone(UTC).isoformat()
    assert text_.startswith("2026-11-26 08:00:00") or text_.startswith("2026-11-26T08:00:00")


# ---------------------------------------------------------------- issue 12: the clock moved back


def test_a_clock_moved_back_breaks_a_real_registers_chain(pv, db_url):
    assert_ok(pv("init"))  # a real register: its clock is the system's
    sid = _three_entries(pv)
    rt = open_runtime(Settings.resolve(db_url, None, "ceo"))
    try:
        earlier = datetime.now(UTC) - timedelta(days=3)
        with rt.uow() as uow:
            uow.audit.append([AuditEvent("subject.read", sid, "service", {})], "tester", "ceo", earlier)
            uow.commit()
    finally:
        rt.close()
    data = _broken(pv, "clock was moved back")
    assert data["broken_at"] == 4


def test_a_simulation_registers_clock_may_go_back(pv_ready):
    sid = add(pv_ready, 1, "one_time_customer", "--now", "2026-11-25T12:00:00+00:00")
    pv_ready.json("subject", "show", sid, "--now", "2026-01-01T00:00:00+00:00")
    assert pv_ready.json("audit", "verify")["ok"] is True


# ---------------------------------------------------------------- issue 18: audit log


def test_the_audit_log_shows_who_did_what_newest_first(pv_ready):
    sid = _three_entries(pv_ready)
    other = add(pv_ready, 2)
    data = pv_ready.json("audit", "log")
    actions = [e["action"] for e in data["entries"]]
    assert actions[:4] == ["subject.create", "subject.read", "subject.create", "policy.load"]
    assert data["next_before"] is None
    # The operating-system user, labelled with PERSONVERN_ACTOR (issue 12.10).
    assert {e["actor"] for e in data["entries"]} == {f"os:{pwd.getpwuid(os.geteuid()).pw_name} as tester"}
    # Reading it was recorded, with its filters (an entry with no personal value).
    [read] = sql(pv_ready.db_url, "SELECT action, subject_id, details FROM audit_log WHERE action = 'audit.read'")
    assert read[0] == "audit.read" and read[1] is None and json.loads(read[2])["shown"] == 4

    about = pv_ready.json("audit", "log", "--subject", sid)
    assert [e["action"] for e in about["entries"]] == ["subject.read", "subject.create"]
    assert all(e["subject_id"] == sid for e in about["entries"])
    assert [e["subject_id"] for e in pv_ready.json("audit", "log", "--action", "subject.create")["entries"]] == [
        other,
        sid,
    ]
    family = pv_ready.json("audit", "log", "--action", "audit", "--limit", "1")
    assert [e["action"] for e in family["entries"]] == ["audit.read"] and family["next_before"] is not None
    assert pv_ready.json("audit", "log", "--actor", "someone-else")["entries"] == []
    assert pv_ready.json("audit", "log", "--since", "2999-01-01")["entries"] == []
    page = pv_ready.json("audit", "log", "--limit", "2")
    after = pv_ready.json("audit", "log", "--limit", "2", "--before", str(page["next_before"]))
    assert [e["seq"] for e in after["entries"]] == [page["entries"][-1]["seq"] - 1, page["entries"][-1]["seq"] - 2]
    human = pv_ready("audit", "log", "--subject", sid)
    assert_ok(human)
    assert "subject.create" in human.stdout and sid in human.stdout
    for value in ("Person 1", "person1@", "41000001"):
        assert value not in human.stdout
    assert pv_ready.json("audit", "verify")["ok"] is True  # the reads' own entries keep the chain intact


def test_the_audit_log_is_for_the_ceo(pv_ready, unchanged):
    """Its entries tell who consented to marketing and who was sent what: no account needs them (issue 15); the
    auditor verifies that the log is intact instead (`audit verify`)."""
    _three_entries(pv_ready)
    cases = Cases()
    with cases.case("auditor verifies"):
        assert pv_ready.json("audit", "verify", "--role", "auditor")["ok"] is True
    with unchanged():
        for role in ("staff", "marketing", "auditor"):
            with cases.case(role):
                assert_refused(pv_ready("audit", "log", "--role", role), 6, role)
    cases.check()


BAD_LOG = {
    "bad date": (("--since", "yesterday"), "since"),
    "limit 0": (("--limit", "0"), "limit"),
    "limit too big": (("--limit", "10001"), "limit"),
    "before 0": (("--before", "0"), "before"),
    "empty action": (("--action", " "), "action"),
}


@pytest.mark.parametrize(("args", "field"), BAD_LOG.values(), ids=BAD_LOG.keys())
def test_bad_audit_log_options_are_refused_naming_the_option(pv_ready, unchanged, args, field):
    _three_entries(pv_ready)
    with unchanged():
        assert_refused(pv_ready("audit", "log", *args), 3, field)


def test_an_entry_added_past_the_head_is_detected(pv_ready):
    _three_entries(pv_ready)
    sql(
        pv_ready.db_url,
        "INSERT INTO audit_log (seq, at, actor, role, action, subject_id, purpose, details, prev_hash, hash) "
        "SELECT 4, at, actor, role, action, subject_id, purpose, details, hash, hash FROM audit_log WHERE seq = 3",
    )
    assert _broken(pv_ready, "past the chain's head")["broken_at"] == 4
