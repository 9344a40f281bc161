"""The README's tour, run top to bottom on a fresh database: every command works and prints what the README shows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.e2e.readme_tour import Bindings, Step, steps

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NOW = "2026-11-25T12:00:00+01:00"


def test_the_tour_is_read_from_the_readme() -> None:
    tour = steps(README.read_text(encoding="utf-8"))
    commands = [step.argv[:2] for step in tour]
    assert tour[0].argv == ["init"]
    assert ["subject", "add"] in commands and ["request", "fulfil"] in commands
    assert all(step.argv for step in tour)


def _run(runner: CliRunner, step: Step, bindings: Bindings, db_url: str) -> tuple[int, str, str]:
    from personvern.cli.main import app

    argv = [bindings.substitute(arg) for arg in step.argv]
    result = runner.invoke(app, [*argv, "--db", db_url], input=step.answer, catch_exceptions=False)
    if step.redirect:
        Path(step.redirect).write_text(result.stdout, encoding="utf-8")
    return result.exit_code, result.stdout, result.stderr


def test_the_readme_tour_runs_as_written(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tour = steps(README.read_text(encoding="utf-8"))
    # The tour's files are named as in a clone of the repository; run it from a folder of its own.
    for top in ("examples", "tests", "src"):
        (tmp_path / top).symlink_to(ROOT / top)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PERSONVERN_NOW", NOW)
    monkeypatch.setenv("COLUMNS", "200")
    os.environ.pop("PERSONVERN_LINKMOBILITY_USER", None)
    runner = CliRunner()
    bindings = Bindings()
    for step in tour:
        where = f"README line {step.line}: personvern {step.text}"
        code, out, err = _run(runner, step, bindings, db_url)
        if step.exit_code == -1:
            assert code != 0, f"{where}\nthe README shows an error, but it exited 0:\n{out}"
        else:
            assert code == step.exit_code, f"{where}\nexit {code} (README: {step.exit_code})\n{out}\n{err}"
        for shown in step.stdout:
            # What the terminal shows: a prompt and its preamble go to standard error.
            shows = out + "\n" + err
            assert bindings.match(shown, shows), f"{where}\nthe README shows «{shown}»; it printed:\n{shows}"
        for shown in step.stderr:
            assert bindings.match(shown, err), f"{where}\nthe README shows «{shown}»; it said:\n{err}"
