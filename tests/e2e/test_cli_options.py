"""The options every command shares (--db, --now, --role, --json): after the command or before it, and their help."""

from __future__ import annotations

import json
import os
import pwd

import pytest
from typer.testing import CliRunner

from personvern.cli.main import app
from tests.e2e.support import NOW, ONE_TIME, add, assert_ok, assert_refused, person, phone, sql

COMMANDS = [
    ["init"],
    ["policy", "check"],
    ["policy", "show"],
    ["subject", "add"],
    ["subject", "show"],
    ["subject", "list"],
    ["subject", "update"],
    ["subject", "import"],
    ["relationship", "start"],
    ["relationship", "end"],
    ["audit", "verify"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_documents_the_common_options(command):
    result = CliRunner().invoke(app, [*command, "--help"], catch_exceptions=False)
    assert_ok(result)
    for option in ("--db", "--now", "--role", "--json"):
        assert option in result.stdout


@pytest.mark.parametrize("placement", ["after", "before"])
def test_every_command_takes_the_common_options_after_or_before_it(pv, tmp_path, placement):
    def run(*command):
        common = ["--db", pv.db_url, "--now", NOW, "--role", "ceo", "--json"]
        result = pv(*(command + tuple(common) if placement == "after" else tuple(common) + command), db=False)
        assert_ok(result)
        return json.loads(result.stdout)

    csv = tmp_path / "people.csv"
    csv.write_text(f"full_name,phone,email\nPer,{phone(2)},per@example.no\n", "utf-8")

    assert run("init")["policy_version"] == "2026.1"
    assert run("policy", "check")["ok"] is True
    assert run("policy", "show")["policy"]["version"] == "2026.1"
    sid = run("subject", "add", *person(1))["id"]
    assert run("subject", "show", sid)["created_at"] == NOW
    assert run("subject", "update", sid, "--set", "full_name=Kari")["updated_at"] == NOW
    assert run("subject", "import", str(csv), "--kind", ONE_TIME)["imported"] == 1
    assert run("subject", "list")["total"] == 2
    assert run("relationship", "start", sid)["started_on"] == NOW[:10]
    assert run("relationship", "end", sid)["ended"][0]["ended_on"] == NOW[:10]
    assert run("audit", "verify")["ok"] is True


def test_options_after_the_command_win(pv_ready):
    result = pv_ready("--role", "auditor", "--now", "2020-01-01", "subject", "add", *person(1), "--role", "ceo")
    assert_ok(result)
    data = pv_ready.json("--now", "2020-01-01", "subject", "add", *person(2), "--now", NOW)
    assert pv_ready.json("subject", "show", data["id"])["created_at"] == NOW


def test_options_before_the_command_apply(pv_ready, unchanged):
    with unchanged():
        assert_refused(pv_ready("--role", "auditor", "subject", "add", *person(1)), 6, "auditor")
        assert_refused(pv_ready("--now", "soon", "subject", "list"), 3, "now")
    result = pv_ready("--json", "subject", "list")
    assert_ok(result)
    assert json.loads(result.stdout) == {"total": 0, "subjects": []}


def test_an_error_with_json_prints_nothing_on_stdout(pv_ready):
    for argv in (["--json", "subject", "show", "f" * 32], ["subject", "show", "f" * 32, "--json"]):
        result = pv_ready(*argv)
        assert_refused(result, 4, "f" * 32)
        assert result.stdout == ""


def test_environment_gives_the_defaults(pv_ready, monkeypatch):
    monkeypatch.setenv("PERSONVERN_ROLE", "auditor")
    monkeypatch.setenv("PERSONVERN_NOW", "2026-05-04T10:00:00+02:00")
    assert_refused(pv_ready("subject", "add", *person(1)), 6, "auditor")
    sid = pv_ready.json("subject", "add", *person(1), "--role", "staff")["id"]
    assert pv_ready.json("subject", "show", sid, "--role", "ceo")["created_at"] == "2026-05-04T08:00:00+00:00"


def test_help_needs_no_database(pv):
    result = pv("--help", db=False)
    assert_ok(result)
    for command in ("init", "policy", "subject", "relationship", "audit"):
        assert command in result.stdout


def test_version():
    result = CliRunner().invoke(app, ["--version"], catch_exceptions=False)
    assert_ok(result)
    assert result.stdout.startswith("personvern ")


def test_an_actor_name_too_long_for_the_audit_log_is_invalid_input(pv_ready, monkeypatch, unchanged):
    monkeypatch.setenv("PERSONVERN_ACTOR", "a" * 101)
    with unchanged():
        assert_refused(pv_ready("subject", "add", *person(1)), 3, "PERSONVERN_ACTOR")


def test_the_actor_in_the_audit_log_is_the_operating_system_user(pv_ready, monkeypatch):
    user = pwd.getpwuid(os.geteuid()).pw_name
    add(pv_ready, 1)  # PERSONVERN_ACTOR=tester (tests/conftest.py): a label beside the account, never instead
    monkeypatch.delenv("PERSONVERN_ACTOR")
    monkeypatch.setenv("USER", "someone-else")
    monkeypatch.setenv("LOGNAME", "someone-else")
    assert_ok(pv_ready("subject", "list", "--role", "staff"))
    rows = sql(pv_ready.db_url, "SELECT actor, role, action FROM audit_log ORDER BY seq DESC LIMIT 2")
    assert rows == [(f"os:{user}", "staff", "subject.read"), (f"os:{user} as tester", "ceo", "subject.create")]
