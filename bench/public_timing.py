"""Does the public page's timing tell a customer from a stranger? Confirming a code, measured both ways.

`python -m bench.public_timing`: a register of BENCH_PUBLIC_CUSTOMERS people
(default 2000) on SQLite, `personvern serve --no-worker` on a loopback port, and BENCH_PUBLIC_SAMPLES (default 60)
requests each for customers and for strangers, interleaved: ask for a code, read it from the outbox, confirm it
over HTTP. Printed: the service's own time (no floor: what the database work differs by) and the HTTP time as a
visitor sees it (with the floor, api/public.py FLOOR), medians, p90 and max, and how often a customer's time
exceeds the strangers' median (0.5 when the two cannot be told apart).

The rate limits would stop a bench from one address after 20 codes an hour; the bench empties `rate_limits`
before each request, which is the one thing it changes behind the server's back.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.common import env_int, free_port, wait_ready
from personvern.bootstrap import Settings, initialise
from personvern.services import outbox, public, register


def _code(rt: object, destination: str) -> str:
    rows = outbox.claim_due(rt.context(), 50, timedelta(hours=1))  # type: ignore[attr-defined]
    for row in rows:
        if row.personal and row.personal.get("destination") == destination:
            return str(row.personal["text"][:6])
    raise RuntimeError("no code in the outbox")


def _summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    middle, worst = statistics.median(ordered) * 1000, ordered[-1] * 1000
    return f"{name:34} median {middle:7.1f} ms  p90 {p90 * 1000:7.1f} ms  max {worst:7.1f} ms"


def _exceeds(customers: list[float], strangers: list[float]) -> float:
    middle = statistics.median(strangers)
    return sum(1 for c in customers if c > middle) / len(customers)


def main() -> int:
    people = env_int("BENCH_PUBLIC_CUSTOMERS", 2000)
    samples = env_int("BENCH_PUBLIC_SAMPLES", 60)
    folder = Path(tempfile.mkdtemp(prefix="pv-public-"))
    url = f"sqlite:///{folder / 'pv.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")}
    rt, _ = initialise(Settings.resolve(url, None, "ceo", environ=env))
    ctx = rt.context()
    phones = [f"+47412{n:05d}" for n in range(people)]
    for n, phone in enumerate(phones):
        register.add_subject(
            ctx, "one_time_customer", {"full_name": f"Person {n}", "phone": phone, "email": f"p{n}@example.no"}, {}
        )
    strangers = [f"+47992{n:05d}" for n in range(samples * 2)]

    # The service alone, in this process: what the two paths cost without the floor.
    service: dict[str, list[float]] = {"customer": [], "stranger": []}
    for i in range(samples):
        for who, phone in (("customer", phones[i]), ("stranger", strangers[i])):
            with rt.engine.begin() as conn:
                conn.execute(text("DELETE FROM rate_limits"))
            asked = public.ask(ctx, "access", phone=phone, client="bench")
            code = _code(rt, phone)
            started = time.perf_counter()
            public.confirm(replace(ctx), asked.pending_id, code, client="bench")
            service[who].append(time.perf_counter() - started)

    # Over HTTP, as a visitor sees it.
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "personvern", "serve", "--no-worker", "--port", str(port), "--db", url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    http: dict[str, list[float]] = {"customer": [], "stranger": []}
    try:
        wait_ready(server, base, "public timing: personvern serve")
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(samples):
                for who, phone in (("customer", phones[samples + i]), ("stranger", strangers[samples + i])):
                    with rt.engine.begin() as conn:
                        conn.execute(text("DELETE FROM rate_limits"))
                    asked = client.post("/api/v1/public/requests", json={"type": "access", "phone": phone})
                    code = _code(rt, phone)
                    started = time.perf_counter()
                    done = client.post(f"/api/v1/public/requests/{asked.json()['id']}/confirm", json={"code": code})
                    http[who].append(time.perf_counter() - started)
                    assert done.status_code == 200, done.text
    finally:
        server.terminate()
        server.wait(30)
        rt.close()
    print(f"public page timing: {people} customers, {samples} confirmations each way, interleaved")
    print(_summary("service, customer (no floor)", service["customer"]))
    print(_summary("service, stranger (no floor)", service["stranger"]))
    print(f"{'':34} customer above strangers' median: {_exceeds(service['customer'], service['stranger']):.2f}")
    print(_summary("HTTP, customer (with the floor)", http["customer"]))
    print(_summary("HTTP, stranger (with the floor)", http["stranger"]))
    print(f"{'':34} customer above strangers' median: {_exceeds(http['customer'], http['stranger']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
