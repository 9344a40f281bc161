"""Shared fixtures: a database per test on SQLite and, when configured, PostgreSQL; the CLI runner."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from personvern.bootstrap import Runtime, Settings, initialise

PG_ENV = "PERSONVERN_TEST_DATABASE_URL"
NOW = "2026-11-25T12:00:00+00:00"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A database of this test run's own on the PostgreSQL server, dropped at the end."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    base = make_url(url)
    name = f"personvern_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reset_pg(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty database, on each backend in turn; the master key file lives in the test's folder."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'pv.db'}"
    else:
        url = request.getfixturevalue("pg_server")
        _reset_pg(url)
    monkeypatch.setenv("PERSONVERN_MASTER_KEY_FILE", str(tmp_path / "master.key"))
    monkeypatch.setenv("PERSONVERN_DATABASE_URL", url)
    monkeypatch.delenv("PERSONVERN_NOW", raising=False)
    monkeypatch.delenv("PERSONVERN_ROLE", raising=False)
    monkeypatch.setenv("PERSONVERN_ACTOR", "tester")
    return url


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    """An initialised database with the bundled policy, the clock fixed at NOW, acting as the CEO."""
    rt, _ = initialise(Settings.resolve(db_url, NOW, "ceo"))
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


class Invoker:
    """Runs `personvern ARGS… --db URL` in-process; parses --json output when asked."""

    def __init__(self, runner: CliRunner, db_url: str) -> None:
        self.runner = runner
        self.db_url = db_url

    def __call__(self, *args: str, db: bool = True, input: str | None = None):
        from personvern.cli.main import app

        argv = [*args, "--db", self.db_url] if db else list(args)
        return self.runner.invoke(app, argv, input=input, catch_exceptions=False)

    def json(self, *args: str):
        import json

        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def pv(cli: CliRunner, db_url: str) -> Invoker:
    """The CLI against an empty database of each backend (run `pv("init")` first, or use `pv_ready`)."""
    return Invoker(cli, db_url)


@pytest.fixture
def pv_ready(pv: Invoker) -> Invoker:
    """The CLI against an initialised simulation register (init with --now) with the bundled policy.

    A simulation, so that tests may move the clock for every command; `pv("init")` makes a real register.
    """
    result = pv("init", "--now", NOW)
    assert result.exit_code == 0, result.stderr
    return pv
