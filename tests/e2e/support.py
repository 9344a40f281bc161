"""Helpers for the CLI end-to-end tests: people to add, policy files, a database snapshot, the checks of a refusal."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, make_url, text

NOW = "2026-11-25T12:00:00+00:00"
ONE_TIME = "one_time_customer"
CONTRACT = "contract_customer"
REPRESENTATIVE = "business_representative"
KINDS = (ONE_TIME, CONTRACT, REPRESENTATIVE)
BUSINESS_KINDS = (CONTRACT, REPRESENTATIVE)

# Valid Norwegian organisation numbers and national identity numbers (mod-11 check digits).
ORG_A = "923609016"
ORG_B = "987654325"
NATIONAL_ID = "01019010046"
NATIONAL_ID_2 = "15038510190"


def phone(n: int) -> str:
    """A valid Norwegian mobile number, as a person would type it (8 digits, no country code)."""
    return f"4{1_000_000 + n:07d}"


def e164(n: int) -> str:
    return "+47" + phone(n)


def values(n: int, kind: str = ONE_TIME, org: str = ORG_A) -> dict[str, str]:
    """The required fields of person `n` of `kind`; no two people share a phone or an email."""
    out = {"full_name": f"Person {n} Nordmann", "phone": phone(n), "email": f"person{n}@example.no"}
    if kind in BUSINESS_KINDS:
        out |= {"organisation_number": org, "organisation_name": f"Firma {org} AS"}
    return out


def sets(fields: dict[str, str]) -> list[str]:
    return [arg for name, value in fields.items() for arg in ("--set", f"{name}={value}")]


def person(n: int, kind: str = ONE_TIME, org: str = ORG_A, **extra: str) -> list[str]:
    """The arguments of `subject add` for person `n`, with `extra` fields added or replaced."""
    return ["--kind", kind, *sets(values(n, kind, org) | extra)]


def add(pv: Any, n: int, kind: str = ONE_TIME, *more: str, org: str = ORG_A) -> str:
    """Add person `n` through the CLI and return the new id."""
    return str(pv.json("subject", "add", *person(n, kind, org), *more)["id"])


# ---------------------------------------------------------------- policy files


def bundled_policy_path() -> Path:
    return Path(str(resources.files("personvern.policy.bundled").joinpath("24center.toml")))


def bundled_policy_text() -> str:
    return bundled_policy_path().read_text("utf-8")


def line_of(text_: str, fragment: str, after: int = 0) -> int:
    """The 1-based number of the first line from line `after` on that contains `fragment`."""
    for number, line in enumerate(text_.splitlines(), start=1):
        if number > after and fragment in line:
            return number
    raise AssertionError(f"{fragment!r} is not in the text")


def replace_in_table(text_: str, table: str, old: str, new: str) -> str:
    """Replace the first `old` after the header `[table]` (so a key shared by many tables is hit in one)."""
    start = text_.index(f"[{table}]\n")
    at = text_.index(old, start)
    return text_[:at] + new + text_[at + len(old) :]


def without_table(text_: str, table: str) -> str:
    """The policy text with the table `[table]` and its keys removed."""
    return re.sub(rf"^\[{re.escape(table)}\]\n(?:[^\[\n].*\n)*\n?", "", text_, count=1, flags=re.MULTILINE)


# ---------------------------------------------------------------- the database, read behind the CLI's back


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def raw_engine(url: str) -> Engine:
    """An engine straight on the database; on SQLite with the key store FILE.keys attached as `keystore`, as the
    register's own connections have it (store/engine.py), when that file exists."""
    engine = create_engine(url)
    path = sqlite_file(url)
    keys = path.with_name(path.name + ".keys") if path is not None else None
    if keys is not None and keys.exists():
        event.listen(engine, "connect", lambda dbapi, _r: dbapi.execute("ATTACH DATABASE ? AS keystore", (str(keys),)))
    return engine


def snapshot(url: str) -> dict[str, list[str]]:
    """Every row of every table, in a comparable form; {} for a database that does not exist or has no tables.

    An SQLite file that does not exist is not opened (opening would create it).
    """
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return {}
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            names = [f'"{n}"' for n in found.get_table_names()]
            if "keystore" in found.get_schema_names():
                names += [f'keystore."{n}"' for n in found.get_table_names(schema="keystore")]
            return {
                name.replace('"', ""): sorted(repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {name}")))
                for name in sorted(names)
            }
    finally:
        engine.dispose()


def sql(url: str, statement: str, **params: Any) -> Any:
    """Run one statement straight on the database (to count rows, or to tamper with it); return the rows."""
    engine = raw_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else result.rowcount
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    return int(sql(url, f'SELECT count(*) FROM "{table}"')[0][0])


# ---------------------------------------------------------------- what every refusal must look like


def shown(result: Any) -> str:
    return f"exit {result.exit_code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def assert_no_crash(result: Any) -> None:
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream, shown(result)
        assert "internal error" not in stream, shown(result)


def assert_refused(result: Any, code: int, *needles: str) -> None:
    """Exit `code`, a message on stderr naming each of `needles`, and no traceback anywhere."""
    assert result.exit_code == code, shown(result)
    assert result.stderr.strip(), shown(result)
    assert_no_crash(result)
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} is not in stderr\n{shown(result)}"


def assert_ok(result: Any) -> None:
    assert result.exit_code == 0, shown(result)
    assert_no_crash(result)


class Cases:
    """Several refusals checked in one test (one database set-up); every failing case is reported, by name."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    @contextmanager
    def case(self, name: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as exc:
            self.failures.append(f"[{name}] {exc}")

    def check(self) -> None:
        assert not self.failures, "\n\n".join(self.failures)


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a server a test starts (never any other address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def app_on_loopback(runtime: Any) -> Iterator[str]:
    """`create_app(runtime)` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    import threading
    import time

    import uvicorn

    from personvern.api.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def killed_once(argv: Sequence[str], started: Callable[[], bool], pause: float = 0.005) -> None:
    """Run `argv` (the clock of the environment left out), and SIGKILL it, without warning, as soon as `started()`
    says some of its work is committed; AssertionError if it ended before it could be killed."""
    env = {k: v for k, v in os.environ.items() if k != "PERSONVERN_NOW"}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while process.poll() is None and not started():
            time.sleep(pause)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, f"{argv[1]} {argv[2]} ended before it could be killed"
