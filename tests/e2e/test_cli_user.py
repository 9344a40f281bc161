"""`personvern user add|list|disable|token|reset`: shown once, stored as hashes, bad input refused, both databases."""

from __future__ import annotations

from tests.e2e.support import assert_refused, count


def test_add_prints_token_and_password_once_and_lists(pv_ready, unchanged):
    added = pv_ready.json("user", "add", "kari", "--role", "ceo")
    assert set(added) == {"name", "role", "token", "password"} and added["token"].startswith("pv_")
    shown = pv_ready("user", "add", "ola", "--role", "staff", "--language", "en")
    assert shown.exit_code == 0 and "token:    pv_" in shown.stdout and "password:" in shown.stdout
    with unchanged():
        listed = pv_ready.json("user", "list")
    assert [(u["name"], u["role"], u["language"]) for u in listed["users"]] == [
        ("kari", "ceo", "nb"),
        ("ola", "staff", "en"),
    ]
    assert added["token"] not in str(listed) and listed["users"][0]["token_prefix"] == added["token"][:10]


def test_token_and_disable_and_reset(pv_ready):
    pv_ready("user", "add", "ola", "--role", "staff")
    first = pv_ready.json("user", "token", "ola")["token"]
    second = pv_ready.json("user", "token", "ola")["token"]
    assert first != second
    assert pv_ready.json("user", "reset", "ola")["password"]
    assert pv_ready.json("user", "disable", "ola")["disabled_at"] is not None
    assert_refused(pv_ready("user", "token", "ola"), 5, "disabled")


def test_bad_input_names_the_field_and_stores_nothing(pv_ready):
    assert_refused(pv_ready("user", "add", "Kari Nordmann", "--role", "staff"), 3, "name")
    assert_refused(pv_ready("user", "add", "kari", "--role", "boss"), 3, "role")
    assert_refused(pv_ready("user", "add", "kari", "--role", "staff", "--language", "de"), 3, "language")
    assert count(pv_ready.db_url, "users") == 0
    pv_ready("user", "add", "kari", "--role", "staff")
    assert_refused(pv_ready("user", "add", "kari", "--role", "ceo"), 5, "exists already")
    assert_refused(pv_ready("user", "disable", "nobody"), 4, "no user named")
    assert count(pv_ready.db_url, "users") == 1


def test_only_the_ceo_manages_users(pv_ready):
    assert_refused(pv_ready("--role", "staff", "user", "add", "kari", "--role", "staff"), 6, "manage staff users")
    assert_refused(pv_ready("user", "list", "--role", "auditor"), 6, "manage staff users")
