"""The README documents every setting and every command; a new one without documentation fails here."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from personvern.bootstrap import SETTINGS
from personvern.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text("utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    commands = re.findall(r"^make [a-z]+", README, flags=re.MULTILINE)
    assert commands[:2] == ["make run", "make test"]


def test_every_setting_is_in_the_readme() -> None:
    for setting in SETTINGS:
        assert f"`{setting.env}`" in README, setting.env


def test_every_environment_variable_the_code_reads_is_a_setting() -> None:
    names = {s.env for s in SETTINGS}
    used = set()
    for path in (ROOT / "src" / "personvern").rglob("*.py"):
        used |= set(re.findall(r"\"(PERSONVERN_[A-Z_]+)\"", path.read_text("utf-8")))
    assert used <= names, used - names


def _commands(group: typer.Typer, prefix: str = "") -> list[str]:
    out = [f"{prefix}{c.name}".strip() for c in group.registered_commands]
    for sub in group.registered_groups:
        out += _commands(sub.typer_instance, f"{prefix}{sub.name} ")
    return out


def test_every_command_is_shown_in_the_readme() -> None:
    for name in _commands(app):
        assert f"personvern {name}" in README, name


def test_the_readme_does_not_say_a_backup_cannot_bring_an_erased_person_back() -> None:
    """The wrapped data keys live in the same database and the master key never changes: a backup taken before an
    erasure, with today's key file, recovers the person. The README says so, not the opposite (issue 12)."""
    flat = " ".join(README.split())
    for claim in (
        "cannot bring them back",
        "every erased value in old backups are gone",
        "every erased value in any backup",
        "gone from backups",
    ):
        assert claim not in flat, claim
    keys = flat.split("## Keys and erasure", 1)[1].split("## ", 1)[0]
    assert "backup taken before" in keys and "brings" in keys
