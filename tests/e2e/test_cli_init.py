"""`personvern init`, and every command on a database that is not ready: missing, never initialised, wrong key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from personvern.cli.main import app
from tests.e2e.support import (
    NATIONAL_ID,
    add,
    assert_ok,
    assert_refused,
    bundled_policy_text,
    count,
    line_of,
    person,
    replace_in_table,
    snapshot,
    sqlite_file,
    without_table,
)


def test_init_creates_the_database_and_a_private_master_key(pv, tmp_path, backend):
    data = pv.json("init")
    key = tmp_path / "master.key"
    assert data["master_key_created"] is True
    assert data["master_key_file"] == str(key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert data["policy_version"] == "2026.1"
    assert data["policy_changed"] is True
    assert data["schema_upgraded_from"] is None
    if backend == "sqlite":
        assert (tmp_path / "pv.db").exists()
    assert count(pv.db_url, "policy_versions") == 1
    assert {"subjects", "subject_values", "audit_log", "keystore.data_keys"} <= set(snapshot(pv.db_url))
    assert pv.json("audit", "verify")["entries"] == 1  # the policy load


def test_init_human_output_names_database_key_and_policy(pv, tmp_path):
    result = pv("init")
    assert_ok(result)
    assert str(tmp_path / "master.key") in result.stdout
    assert "created" in result.stdout
    assert "2026.1" in result.stdout


def test_init_twice_changes_nothing(pv_ready, tmp_path):
    key = (tmp_path / "master.key").read_bytes()
    add(pv_ready, 1)
    before = snapshot(pv_ready.db_url)
    again = pv_ready.json("init")
    assert again["master_key_created"] is False
    assert again["policy_changed"] is False
    assert again["policy_version"] == "2026.1"
    assert (tmp_path / "master.key").read_bytes() == key
    assert snapshot(pv_ready.db_url) == before


def broken_policy(tmp_path):
    """A policy with a bad field type and an unknown key; returns its path and the two problems' lines."""
    text = replace_in_table(bundled_policy_text(), "fields.phone", 'type = "phone"', 'type = "telephone"')
    text = text.replace("[review]\n", '[review]\ncolour = "blue"\n')
    path = tmp_path / "broken.toml"
    path.write_text(text, "utf-8")
    return path, line_of(text, 'type = "telephone"'), line_of(text, 'colour = "blue"')


def test_init_with_a_broken_policy_creates_nothing(pv, tmp_path, backend):
    path, type_line, colour_line = broken_policy(tmp_path)
    result = pv("init", "--policy", str(path))
    assert_refused(
        result, 8, f"{path}:{type_line}", "fields.phone.type", f"{path}:{colour_line}", "review.colour", "unknown key"
    )
    assert not (tmp_path / "master.key").exists()
    assert snapshot(pv.db_url) == {}
    if backend == "sqlite":
        assert not (tmp_path / "pv.db").exists()


def test_init_with_a_missing_policy_file_is_refused(pv, tmp_path):
    missing = tmp_path / "nowhere.toml"
    assert_refused(pv("init", "--policy", str(missing)), 8, str(missing))
    assert snapshot(pv.db_url) == {}
    assert not (tmp_path / "master.key").exists()


def test_init_lints_the_policy_and_refuses_one_with_errors(pv, tmp_path, backend):
    # Issue 16: init loaded a policy `policy check` refuses. The seed's literal text has errors (GDPR 13/14).
    seed = Path(__file__).resolve().parents[1] / "data" / "seed-policy.toml"
    result = pv("init", "--policy", str(seed))
    assert_refused(result, 8, "nothing was loaded", f"{seed}:34: error: fields", "(GDPR 14(1)(d), 30(1)(c))")
    assert snapshot(pv.db_url) == {} and not (tmp_path / "master.key").exists()


def test_init_prints_the_lints_warnings_and_loads_the_policy(pv, tmp_path):
    text = without_table(bundled_policy_text(), "security")  # the lint warns: no security measures described
    path = tmp_path / "policy.toml"
    path.write_text(text, "utf-8")
    result = pv("init", "--policy", str(path))
    assert_ok(result)
    assert f"{path}:" in result.stderr and "warning: security: no description of the security measures" in result.stderr
    assert "policy       version 2026.1 (loaded" in result.stdout
    again = pv.json("init", "--policy", str(path))
    assert [w for w in again["warnings"] if "security" in w] and again["policy_changed"] is False
    assert pv.json("init", "--policy", str(path))["warnings"] == again["warnings"]
    assert pv.json("init")["warnings"] == []  # the bundled policy has no finding at all


def test_init_with_a_broken_policy_keeps_the_policy_in_force(pv_ready, tmp_path, unchanged):
    path, type_line, _ = broken_policy(tmp_path)
    with unchanged():
        assert_refused(pv_ready("init", "--policy", str(path)), 8, f"{path}:{type_line}")
    assert pv_ready.json("policy", "show")["policy"]["version"] == "2026.1"


def test_init_with_a_changed_policy_records_a_new_version_and_enforces_it(pv_ready, tmp_path):
    text = without_table(bundled_policy_text(), "fields.national_id")
    text = text.replace('version = "2026.1"', 'version = "2026.2"')
    path = tmp_path / "v2.toml"
    path.write_text(text, "utf-8")

    data = pv_ready.json("init", "--policy", str(path))
    assert data["policy_changed"] is True
    assert data["policy_version"] == "2026.2"
    assert count(pv_ready.db_url, "policy_versions") == 2
    shown = pv_ready.json("policy", "show")
    assert shown["policy"]["version"] == "2026.2"
    assert shown["sha256"] == data["policy_sha256"]
    assert "national_id" not in shown["policy"]["fields"]
    # The new version is the one enforced: the field it dropped can no longer be stored.
    refused = pv_ready("subject", "add", *person(1, national_id=NATIONAL_ID), "--reason", "national_id=credit check")
    assert_refused(refused, 3, "national_id", "not declared")

    again = pv_ready.json("init", "--policy", str(path))
    assert again["policy_changed"] is False
    assert count(pv_ready.db_url, "policy_versions") == 2


def test_init_refuses_a_policy_that_no_longer_covers_stored_data(pv_ready, tmp_path, unchanged):
    add(pv_ready, 1, "one_time_customer", "--set", f"national_id={NATIONAL_ID}", "--reason", "national_id=credit check")
    path = tmp_path / "v2.toml"
    text = without_table(bundled_policy_text(), "fields.national_id")
    path.write_text(text.replace('version = "2026.1"', 'version = "2026.2"'), "utf-8")
    with unchanged():
        assert_refused(pv_ready("init", "--policy", str(path)), 8, "national_id")
    assert pv_ready.json("policy", "show")["policy"]["version"] == "2026.1"


def test_init_by_a_role_that_may_not_manage_the_policy_creates_nothing(pv, tmp_path):
    assert_refused(pv("init", "--role", "staff"), 6, "staff")
    assert snapshot(pv.db_url) == {}
    assert not (tmp_path / "master.key").exists()


def test_master_key_file_defaults_beside_an_sqlite_database_and_is_required_for_postgresql(
    pv, tmp_path, backend, monkeypatch
):
    monkeypatch.delenv("PERSONVERN_MASTER_KEY_FILE")
    if backend == "sqlite":
        data = pv.json("init")
        key = tmp_path / "pv.db.masterkey"
        assert data["master_key_file"] == str(key)
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    else:
        assert_refused(pv("init"), 9, "PERSONVERN_MASTER_KEY_FILE")
        assert snapshot(pv.db_url) == {}


# ---------------------------------------------------------------- commands on a database that is not ready

NEEDS_INIT = {
    "subject add": ["subject", "add", *person(1)],
    "subject show": ["subject", "show", "--email", "person1@example.no"],
    "subject list": ["subject", "list"],
    "subject update": ["subject", "update", "0" * 32, "--set", "full_name=Kari"],
    "subject import": ["subject", "import", "{csv}", "--kind", "one_time_customer"],
    "relationship start": ["relationship", "start", "0" * 32],
    "relationship end": ["relationship", "end", "0" * 32],
    "audit verify": ["audit", "verify"],
    "policy show": ["policy", "show"],
    "policy check": ["policy", "check"],
}


@pytest.mark.parametrize("args", NEEDS_INIT.values(), ids=NEEDS_INIT.keys())
def test_commands_on_a_database_never_initialised_ask_for_init(pv, tmp_path, args):
    csv = tmp_path / "people.csv"
    csv.write_text("full_name,phone,email\nKari,41000001,kari@example.no\n", "utf-8")
    result = pv(*[str(csv) if a == "{csv}" else a for a in args])
    assert_refused(result, 9, "personvern init")
    assert snapshot(pv.db_url) == {}  # an SQLite file is not even created
    assert not (tmp_path / "master.key").exists()


def test_an_empty_sqlite_file_is_not_initialised(pv, tmp_path, backend):
    if backend != "sqlite":
        pytest.skip("an empty file is an SQLite matter")
    (tmp_path / "pv.db").write_bytes(b"")
    assert_refused(pv("subject", "list"), 9, "personvern init")


def _spoil(key, how):
    if how == "missing":
        key.unlink()
    elif how == "another key":
        key.write_text(os.urandom(32).hex() + "\n", "ascii")
    elif how == "readable by others":
        key.chmod(0o644)
    elif how == "not a key":
        key.write_text("not a key\n", "ascii")


SPOILED = {
    "missing": "not found",
    "another key": "is not the one this database",
    "readable by others": "chmod 600",
    "not a key": "not a key written by personvern",
}


@pytest.mark.parametrize(("how", "why"), SPOILED.items(), ids=SPOILED.keys())
def test_a_wrong_or_missing_master_key_file_is_not_ready(pv_ready, tmp_path, unchanged, how, why):
    add(pv_ready, 1)
    key = tmp_path / "master.key"
    _spoil(key, how)
    with unchanged():
        assert_refused(pv_ready("subject", "list"), 9, "master key", str(key), why)
        assert_refused(pv_ready("subject", "add", *person(2)), 9, "master key")
    assert key.exists() == (how != "missing")  # a command other than init never creates a key


def test_another_master_key_is_refused_before_the_first_subject(pv_ready, tmp_path, unchanged):
    (tmp_path / "master.key").write_text(os.urandom(32).hex() + "\n", "ascii")
    with unchanged():
        assert_refused(pv_ready("subject", "add", *person(1)), 9, "master key")


# ---------------------------------------------------------------- --db values that cannot work


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("not a url", "db"),
        ("mysql://user@localhost/register", "mysql"),
        ("sqlite:///{tmp}/no/such/folder/pv.db", "does not exist"),
    ],
    ids=["garbage", "unsupported", "missing folder"],
)
def test_init_refuses_a_database_url_that_cannot_work(tmp_path, monkeypatch, url, needle):
    monkeypatch.setenv("PERSONVERN_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    monkeypatch.delenv("PERSONVERN_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["init", "--db", url.format(tmp=tmp_path)], catch_exceptions=False)
    assert_refused(result, 3, "db", needle)
    assert list(tmp_path.iterdir()) == []  # neither a database file nor a key


def test_db_takes_the_path_of_an_existing_sqlite_file_and_refuses_a_path_to_nothing(pv_ready, backend, monkeypatch):
    if backend != "sqlite":
        pytest.skip("a path names an SQLite file")
    db = sqlite_file(pv_ready.db_url)
    assert db is not None
    monkeypatch.chdir(db.parent)
    listed = CliRunner().invoke(app, ["subject", "list", "--db", db.name, "--json"], catch_exceptions=False)
    assert_ok(listed)
    missing = CliRunner().invoke(app, ["init", "--db", "typo.db"], catch_exceptions=False)
    assert_refused(missing, 3, "db", "sqlite:///typo.db")
    assert not (db.parent / "typo.db").exists()


def test_a_missing_key_file_of_an_initialised_database_says_to_restore_it(pv_ready, tmp_path):
    (tmp_path / "master.key").unlink()
    assert_refused(pv_ready("subject", "list"), 9, "restore", "PERSONVERN_MASTER_KEY_FILE")
    assert "run `personvern init`" not in pv_ready("subject", "list").stderr
