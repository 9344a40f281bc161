"""Master-key rotation at BENCH_ROTATION_SUBJECTS (100 000) people, beside its floor, on SQLite and PostgreSQL.

`python -m bench.rotation` (PERSONVERN_BENCH_DATABASE_URL adds PostgreSQL, as for `make bench`). A register of its
own per database: `personvern init`, then one `subject import` of that many one-time customers. Then, each by the
real command in a process of its own:

1. `personvern keys rotate` straight through: its wall time and data keys a second;
2. `personvern keys rotate --batch 1000` killed (SIGKILL) once about half the keys are re-wrapped, then run again:
   the second run's time, and that every key ends under the new master key and a person still opens;
3. the floor: the same reads and writes by the bare driver in this process (the key store read in key order,
   5000 rows a transaction, each row's blob and key id written back by its primary key), without the crypto.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from bench.common import env_int

BATCH = 5000


def _pv(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "personvern", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"personvern {' '.join(args[:2])} failed: {done.stderr[-2000:]}")
    return done


def _register(url: str, folder: Path, people: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
    env["PERSONVERN_MASTER_KEY_FILE"] = str(folder / "master.key")
    csv = folder / "people.csv"
    lines = ["full_name,phone,email"]
    lines += [f"Person {n} Nordmann,4{1_000_000 + n:07d},person{n}@example.no" for n in range(people)]
    csv.write_text("\n".join(lines) + "\n", "utf-8")
    _pv(env, "init", "--db", url)
    started = time.perf_counter()
    _pv(env, "subject", "import", str(csv), "--kind", "one_time_customer", "--db", url)
    print(f"  {people} people imported in {time.perf_counter() - started:.1f} s", flush=True)
    return env


class Keys:
    """The key store by the bare driver: what the rotation reads and writes, and the floor."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            self.conn: object = sqlite3.connect(f"{parsed.database}.keys", isolation_level=None)
            self.table, self.mark = "data_keys", "?"
        else:
            conninfo = f"host={parsed.host} port={parsed.port or 5432} user={parsed.username} dbname={parsed.database}"
            self.conn = psycopg.connect(conninfo, autocommit=True)
            self.table, self.mark = "keystore.data_keys", "%s"

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        cur = self.conn.execute(sql.replace("?", self.mark), params)  # type: ignore[attr-defined]
        return list(cur.fetchall()) if cur.description else []

    def by_key(self) -> dict[str, int]:
        rows = self.query(f"SELECT master_key_id, count(*) FROM {self.table} GROUP BY master_key_id")
        return {str(k): int(n) for k, n in rows}  # type: ignore[call-overload]

    def floor(self) -> float:
        """Read every key in key order, 5000 a transaction, and write each row's blob and key id back."""
        started = time.perf_counter()
        after = ""
        conn = self.conn
        while True:
            self.query("BEGIN")
            rows = self.query(
                f"SELECT owner_id, wrapped, master_key_id FROM {self.table} WHERE owner_id > ? "
                f"ORDER BY owner_id LIMIT {BATCH}",
                (after,),
            )
            if not rows:
                self.query("COMMIT")
                return time.perf_counter() - started
            sql = f"UPDATE {self.table} SET wrapped = ?, master_key_id = ? WHERE owner_id = ? AND master_key_id = ?"
            params = [(w, k, o, k) for o, w, k in rows]
            if isinstance(conn, sqlite3.Connection):
                conn.executemany(sql, params)
            else:
                with conn.cursor() as cur:  # type: ignore[attr-defined]
                    cur.executemany(sql.replace("?", "%s"), params)
            self.query("COMMIT")
            after = str(rows[-1][0])

    def close(self) -> None:
        self.conn.close()  # type: ignore[attr-defined]


def measure(name: str, url: str, folder: Path, people: int) -> None:
    print(f"{name}:", flush=True)
    env = _register(url, folder, people)
    keys = Keys(url)
    try:
        total = sum(keys.by_key().values())
        started = time.perf_counter()
        done = json.loads(_pv(env, "keys", "rotate", "--json", "--db", url).stdout)
        wall = time.perf_counter() - started
        print(
            f"  keys rotate: {done['data_keys_rewrapped']} data keys in {wall:.2f} s wall "
            f"({done['seconds']:.2f} s in the command, {done['keys_per_second']} keys/s)",
            flush=True,
        )

        argv = [sys.executable, "-m", "personvern", "keys", "rotate", "--batch", "1000", "--json", "--db", url]
        first = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        old = done["to_key_id"]
        while first.poll() is None:
            split = keys.by_key()
            if split.get(old, total) <= total // 2:
                break
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(30)
        split = keys.by_key()
        killed = first.returncode == -signal.SIGKILL
        started = time.perf_counter()
        resumed = json.loads(_pv(env, "keys", "rotate", "--json", "--db", url).stdout)
        wall = time.perf_counter() - started
        print(
            f"  killed half-way ({'SIGKILL' if killed else 'ended before the kill'}; keys by master key then: "
            f"{sorted(split.values())}); run again: {resumed['data_keys_rewrapped']} keys in {wall:.2f} s wall, "
            f"resumed={resumed['resumed']}",
            flush=True,
        )
        after = keys.by_key()
        assert after == {resumed["to_key_id"]: total}, after
        for retired in folder.glob("master.key.retired-*"):
            retired.unlink()  # the old keys destroyed: the register still opens
        shown = json.loads(_pv(env, "subject", "show", "--phone", "41000007", "--json", "--db", url).stdout)
        assert shown["values"]["full_name"] == "Person 7 Nordmann", shown
        floor = keys.floor()
        print(f"  floor (the same reads and writes by the bare driver, no crypto): {floor:.2f} s", flush=True)
    finally:
        keys.close()


def main() -> int:
    people = env_int("BENCH_ROTATION_SUBJECTS", 100_000)
    folder = Path(tempfile.mkdtemp(prefix="pv-rotation-"))
    (folder / "sqlite").mkdir()
    measure("SQLite", f"sqlite:///{folder / 'sqlite' / 'pv.db'}", folder / "sqlite", people)
    server = os.environ.get("PERSONVERN_BENCH_DATABASE_URL")
    if server:
        name = "pv_rotation_bench"
        admin = make_url(server)
        conninfo = f"host={admin.host} port={admin.port or 5432} user={admin.username} dbname={admin.database}"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        (folder / "pg").mkdir()
        try:
            url = admin.set(database=name).render_as_string(hide_password=False)
            measure("PostgreSQL", url, folder / "pg", people)
        finally:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
