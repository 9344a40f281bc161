"""Shared fixtures: a database per test on SQLite and, when configured, PostgreSQL; the CLI runner."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from typer.testing import CliRunner

from personvern.bootstrap import Runtime, Settings, initialise

PG_ENV = "PERSONVERN_TEST_DATABASE_URL"
NOW = "2026-11-25T12:00:00+00:00"


@pytest.fixture(scope="session", autouse=True)
def _one_command_tree() -> Iterator[None]:
    """Typer builds the click command tree from the functions' signatures on every `CliRunner.invoke` (about
    60 ms, more than most commands take); the tree never changes within a run, so it is built once per app."""
    import typer.testing

    build = typer.testing._get_command
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(typer.testing, "_get_command", functools.cache(build))
        yield


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A database of this test run's own on the PostgreSQL server, dropped at the end."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    name = f"personvern_test_{os.getpid()}_{secrets.token_hex(4)}"
    _on_server(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _on_server(*statements: str) -> None:
    """Statements about whole databases (CREATE, DROP), run from the database PERSONVERN_TEST_DATABASE_URL names."""
    admin = create_engine(os.environ[PG_ENV], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


def _reset_pg(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("DROP SCHEMA IF EXISTS keystore CASCADE"))  # the key store apart (store/engine.py)
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


class ReadyRegisters:
    """One register initialised per backend and test run (`init --now NOW`), copied into each test that wants
    one: an SQLite file copied, a PostgreSQL database cloned from it as a template. `init` runs every migration
    and loads the policy (a third of a second); a copy is a thousandth of that on SQLite."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.made: dict[str, str] = {}  # backend -> the template's URL

    def _make(self, backend: str, url: str) -> str:
        home = self.folder / backend
        home.mkdir()
        if backend == "sqlite":
            template = f"sqlite:///{home / 'pv.db'}"
        else:
            base = make_url(url)
            name = f"{base.database}_ready"
            _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
            template = base.set(database=name).render_as_string(hide_password=False)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PERSONVERN_MASTER_KEY_FILE", str(home / "master.key"))
            result = Invoker(CliRunner(), template)("init", "--now", NOW)
        assert result.exit_code == 0, result.stderr
        return template

    def copy_into(self, url: str, key_folder: Path) -> None:
        backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        if backend not in self.made:
            self.made[backend] = self._make(backend, url)
        home = self.folder / backend
        for kept in home.iterdir():  # the master key and the audit chain's checkpoints, made with the register
            if kept.is_file() and not kept.name.startswith("pv.db"):
                shutil.copy2(kept, key_folder / kept.name)  # with its mode: the key must stay 0600
        if backend == "sqlite":
            target = make_url(url).database
            assert target is not None
            shutil.copyfile(home / "pv.db", target)
            shutil.copyfile(home / "pv.db.keys", f"{target}.keys")  # the key store beside it (store/engine.py)
            return
        target, template = make_url(url).database, make_url(self.made[backend]).database
        _on_server(
            f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)', f'CREATE DATABASE "{target}" TEMPLATE "{template}"'
        )

    def drop(self) -> None:
        template = self.made.get("postgresql")
        if template is None:
            return
        _on_server(f'DROP DATABASE IF EXISTS "{make_url(template).database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def ready_registers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadyRegisters]:
    found = ReadyRegisters(tmp_path_factory.mktemp("ready"))
    try:
        yield found
    finally:
        found.drop()


@pytest.fixture
def pv_ready(pv: Invoker, ready_registers: ReadyRegisters) -> Invoker:
    """The CLI against an initialised simulation register (init with --now) with the bundled policy.

    A simulation, so that tests may move the clock for every command; `pv("init")` makes a real register.
    """
    ready_registers.copy_into(pv.db_url, Path(os.environ["PERSONVERN_MASTER_KEY_FILE"]).parent)
    return pv
