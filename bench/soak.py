"""A soak on PostgreSQL (issue 17, item 5): two servers and two workers on one database, a mixed load, LINK flaky.

    make soak                      # SOAK_SECONDS=60 by default
    SOAK_SECONDS=300 make soak

Two `personvern serve --no-worker` and two `personvern worker` processes share a database of their own on the
PostgreSQL server (SOAK_DATABASE_URL, default CI's postgresql+psycopg://postgres@127.0.0.1:5432/postgres; the
database is made and dropped). A fake LINK Mobility on 127.0.0.1 answers 500, 429, slowly, drops the connection
before answering, or accepts the message and then drops the connection (the answer is lost: the worker sends it
again under the same refId). SOAK_CLIENTS threads (8) send a mixed load through the API for SOAK_SECONDS:
subject reads, consent given and withdrawn, service SMS, access requests, new people, and erasures of people
who came in during the run. Then the fake turns healthy, the outbox is made due and drained, and the checks run:

- every consent event a client got a 2xx for is in the ledger (unless its person was erased since);
- every SMS row delivered was accepted by the fake under its own id (refId), every refId accepted is a row of
  ours; copies under one refId are allowed by design (connectors/worker.py) and counted; nothing left pending;
- `personvern audit verify` passes (one chain, no fork);
- no 5xx but the documented 503, no traceback or deadlock in any process's output;
- everyone erased is gone: no subject row, no data key;
- each worker's RSS and open file descriptors, sampled every SAMPLE_SECONDS, stay flat: the last third of the
  samples at most RSS_GROWTH bytes and FD_GROWTH descriptors above the first third (after a warm-up).

Prints a summary (requests per second by kind, statuses, the checks) and exits non-zero when a check fails.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean
from typing import IO, Any

import httpx
from sqlalchemy import select, update
from tests.fakes_http import QuietHandler, on_loopback
from tests.fakes_linkmobility import ENV as LINK_ENV
from tests.fakes_linkmobility import FakeLink

from bench.common import BENCH_DIR, DATA_DIR, Backend, db_name, env_int, free_port, wait_ready
from personvern.bootstrap import Settings, initialise
from personvern.services import users
from personvern.store import tables as t

API = "/api/v1"
SAMPLE_SECONDS = 3.0
WARM_UP = 2  # samples left out: the first passes load modules and fill the connection pool
RSS_GROWTH = 16 * 1024 * 1024  # bytes
FD_GROWTH = 8
DRAIN_SECONDS = 90
# The load's mix: weights of each kind of call.
MIX = {"read": 40, "consent": 25, "sms": 15, "access": 8, "add": 7, "erasure": 5}
# The fake's answers: how often each fate befalls a request (the rest are accepted at once).
FATES = {"500": 0.08, "429": 0.06, "slow": 0.06, "drop": 0.04, "lost answer": 0.04}
FAULT = re.compile(r"Traceback|deadlock detected|DeadlockDetected", re.IGNORECASE)


# ---------------------------------------------------------------- what the run saw, and the checks


@dataclass
class Seen:
    """What the clients were told, and what the fake and the samplers saw."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)  # (kind, HTTP status)
    fives: list[str] = field(default_factory=list)  # every 5xx but 503: "kind status body"
    refusals: dict[tuple[str, int], str] = field(default_factory=dict)  # the first 4xx body of each kind and status
    crashes: list[str] = field(default_factory=list)  # a client thread's own exceptions (the soak's bugs)
    consents: dict[str, str] = field(default_factory=dict)  # consent event id -> subject id, answered 2xx
    queued: set[str] = field(default_factory=set)  # outbox ids of the SMS answered 2xx
    erased: set[str] = field(default_factory=set)  # subjects whose erasure was answered 2xx
    accepted: Counter[str] = field(default_factory=Counter)  # refId -> times the fake accepted it
    fates: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # worker -> [(rss bytes, fds)]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, kind: str, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[(kind, response.status_code)] += 1
            if response.status_code >= 500 and response.status_code != 503:
                self.fives.append(f"{kind} {response.status_code} {response.text[:300]}")
            elif response.status_code >= 400:
                self.refusals.setdefault((kind, response.status_code), response.text[:200])


@dataclass
class Stored:
    """What the database holds at the end."""

    consent_ids: set[str]
    outbox: dict[str, tuple[str, str]]  # sms outbox id -> (state, subject id or "")
    subjects: set[str]  # of those erased, the ones with a subject row still
    keys: set[str]  # of those erased, the ones with a data key still
    audit_ok: bool
    audit_said: str


def flat(samples: list[tuple[int, int]]) -> str | None:
    """None when RSS and open fds stay flat; else what grew. The last third against the first, after a warm-up."""
    kept = samples[WARM_UP:]
    if len(kept) < 6:
        return None  # a run too short to tell: the summary shows the samples
    third = len(kept) // 3
    first, last = kept[:third], kept[-third:]
    rss = mean(s[0] for s in last) - mean(s[0] for s in first)
    fds = mean(s[1] for s in last) - mean(s[1] for s in first)
    grew = []
    if rss > RSS_GROWTH:
        grew.append(f"RSS grew {rss / 1e6:.1f} MB")
    if fds > FD_GROWTH:
        grew.append(f"open fds grew {fds:.1f}")
    return "; ".join(grew) or None


def problems(seen: Seen, stored: Stored, logs: dict[str, str]) -> list[str]:
    """Every check that failed, in words."""
    found = []
    lost = [eid for eid, sid in seen.consents.items() if sid not in seen.erased and eid not in stored.consent_ids]
    if lost:
        found.append(f"{len(lost)} consent events answered 2xx are not in the ledger (e.g. {lost[0]})")
    strangers = sorted(set(seen.accepted) - set(stored.outbox) - seen.queued)
    if strangers:
        found.append(f"{len(strangers)} refIds accepted by LINK are no SMS row of ours (e.g. {strangers[0]})")
    unsent = [oid for oid, (state, _) in stored.outbox.items() if state == "delivered" and oid not in seen.accepted]
    if unsent:
        found.append(f"{len(unsent)} SMS rows are delivered but LINK never accepted them (e.g. {unsent[0]})")
    pending = [oid for oid, (state, _) in stored.outbox.items() if state == "pending"]
    if pending:
        found.append(f"{len(pending)} SMS rows still pending after the drain")
    missing = sorted(seen.queued - set(stored.outbox))
    gone_with_person = {oid for oid in missing if oid in seen.accepted}
    if len(missing) > len(gone_with_person):
        found.append(f"{len(missing) - len(gone_with_person)} queued SMS rows vanished unsent")
    if seen.crashes:
        found.append(f"{len(seen.crashes)} client calls failed in the soak itself: {seen.crashes[0]}")
    if seen.fives:
        found.append(f"{len(seen.fives)} answers were 5xx (not 503): {seen.fives[0]}")
    if stored.subjects:
        found.append(f"{len(stored.subjects)} erased people still have a subject row")
    if stored.keys:
        found.append(f"{len(stored.keys)} erased people still have a data key")
    if not stored.audit_ok:
        found.append(f"audit verify failed: {stored.audit_said}")
    for name, text in logs.items():
        fault = FAULT.search(text)
        if fault:
            at = fault.start()
            # Where it happened: the lines of our code in the first traceback, and the error itself.
            ours = [ln.strip() for ln in text[at : at + 20000].splitlines() if "personvern/" in ln][-6:]
            said = text[at : at + 20000].split("\n\n")[0].splitlines()[-3:]
            where = " | ".join(ours + said)
            found.append(f"{name} printed {fault.group(0)!r} (whole: bench/.data/soak-*.log): {where}")
    for worker, samples in seen.samples.items():
        grew = flat(samples)
        if grew:
            found.append(f"{worker}: {grew}")
    return found


# ---------------------------------------------------------------- the flaky LINK Mobility


@contextmanager
def flaky_link(seen: Seen, healthy: threading.Event, rng: random.Random) -> Iterator[str]:
    """A fake LINK Mobility on 127.0.0.1 whose answers fail as FATES says until `healthy` is set."""
    fake = FakeLink()

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            fate = "ok"
            if not healthy.is_set():
                roll, edge = rng.random(), 0.0
                for name, share in FATES.items():
                    edge += share
                    if roll < edge:
                        fate = name
                        break
            with seen.lock:
                seen.fates[fate] += 1
            if fate == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fate in ("500", "429"):
                status = int(fate)
                content = json.dumps({"resultCode": 106000 if status == 500 else 3, "description": fate}).encode()
                self.reply(status, content, {"Retry-After": "1"} if status == 429 else {})
                return
            if fate == "slow":
                time.sleep(rng.uniform(1.0, 4.0))
            reply = fake.answer("POST", self.path, self.headers.get("Authorization"), body)
            content = json.dumps(reply.body).encode()
            if reply.status == 200:
                ref = json.loads(body).get("refId")
                with seen.lock:
                    seen.accepted[ref] += 1
            if fate == "lost answer":  # accepted and queued at LINK; the answer never arrives
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.reply(reply.status, content, reply.headers)

    with on_loopback(Handler, "/sms") as url:
        yield url


# ---------------------------------------------------------------- the processes


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")


@contextmanager
def started(name: str, args: list[str], env: dict[str, str]) -> Iterator[Proc]:
    with tempfile.TemporaryFile() as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "personvern", *args], cwd=BENCH_DIR.parent, env=env, stdout=log, stderr=log
        )
        try:
            yield Proc(name, popen, log)
        finally:
            popen.terminate()
            try:
                popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()


def sample(procs: list[Proc], seen: Seen, stop: threading.Event) -> None:
    """Each worker's resident memory and open file descriptors, every SAMPLE_SECONDS."""
    while not stop.wait(SAMPLE_SECONDS):
        for proc in procs:
            try:
                status = Path(f"/proc/{proc.popen.pid}/status").read_text()
                rss = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
                fds = len(os.listdir(f"/proc/{proc.popen.pid}/fd"))
            except (OSError, AttributeError):
                continue  # ended: its output says why
            seen.samples.setdefault(proc.name, []).append((rss, fds))


# ---------------------------------------------------------------- the load


def person(n: int) -> dict[str, str]:
    return {"full_name": f"Soak {n} Nordmann", "phone": f"4{1_000_000 + n:07d}", "email": f"soak{n}@example.no"}


@dataclass
class People:
    """Who the clients act on: customers (an order; SMS go to them) and newcomers (no order; some are erased)."""

    customers: list[str]
    newcomers: list[str] = field(default_factory=list)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_number(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def anyone(self, rng: random.Random) -> str:
        with self.lock:
            pool = self.customers + self.newcomers
            return rng.choice(pool)

    def take_newcomer(self, rng: random.Random) -> str | None:
        with self.lock:
            if len(self.newcomers) < 5:
                return None
            return self.newcomers.pop(rng.randrange(len(self.newcomers)))


def add_person(client: httpx.Client, people: People, seen: Seen, order: bool) -> str | None:
    answer = client.post(f"{API}/subjects", json={"kind": "one_time_customer", "values": person(people.next_number())})
    seen.answer("add", answer)
    if answer.status_code != 201:
        return None
    sid = str(answer.json()["id"])
    if order:
        started_order = client.post(f"{API}/relationships", json={"subject_id": sid})
        seen.answer("add", started_order)
    return sid


def one_call(kind: str, client: httpx.Client, people: People, seen: Seen, rng: random.Random) -> None:
    if kind == "read":
        seen.answer(kind, client.get(f"{API}/subjects/{people.anyone(rng)}"))
    elif kind == "consent":
        sid = people.anyone(rng)
        action = rng.choice(["give", "withdraw"])
        answer = client.post(f"{API}/subjects/{sid}/consents/{action}", json={"channel": "sms", "method": "web"})
        seen.answer(kind, answer)
        if 200 <= answer.status_code < 300:
            with seen.lock:
                seen.consents[str(answer.json()["id"])] = sid
    elif kind == "sms":
        with people.lock:
            sid = rng.choice(people.customers)
        answer = client.post(f"{API}/sms", json={"subject_id": sid, "purpose": "service", "text": "Pakken er klar"})
        seen.answer(kind, answer)
        if 200 <= answer.status_code < 300:
            with seen.lock:
                seen.queued.add(str(answer.json()["outbox_id"]))
    elif kind == "add":
        sid = add_person(client, people, seen, order=False)
        if sid is not None:
            with people.lock:
                people.newcomers.append(sid)
    elif kind in ("access", "erasure"):
        sid = people.anyone(rng) if kind == "access" else people.take_newcomer(rng)
        if sid is None:
            return
        opened = client.post(f"{API}/requests", json={"type": kind, "subject_id": sid})
        seen.answer(kind, opened)
        if opened.status_code != 201:
            return
        rid = opened.json()["id"]
        verified = client.post(f"{API}/requests/{rid}/verify", json={"method": "bankid"})
        seen.answer(kind, verified)
        fulfilled = client.post(f"{API}/requests/{rid}/fulfil", json={})
        seen.answer(kind, fulfilled)
        if kind == "erasure" and 200 <= fulfilled.status_code < 300:
            with seen.lock:
                seen.erased.add(sid)


def mix() -> dict[str, int]:
    """MIX, or SOAK_MIX as kind=weight,… (e.g. consent=5,erasure=5 to press on one race)."""
    given = os.environ.get("SOAK_MIX")
    if not given:
        return MIX
    weights = {k.strip(): int(v) for k, v in (part.split("=") for part in given.split(","))}
    unknown = set(weights) - set(MIX)
    if unknown:
        raise SystemExit(f"soak: SOAK_MIX names {sorted(unknown)}; the kinds are {', '.join(MIX)}")
    return weights


def client_loop(urls: list[str], token: str, people: People, seen: Seen, until: float, seed: int) -> None:
    rng = random.Random(seed)
    kinds, weights = list(mix()), list(mix().values())
    headers = {"Authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        clients = [stack.enter_context(httpx.Client(base_url=u, headers=headers, timeout=60)) for u in urls]
        while time.monotonic() < until:
            kind = rng.choices(kinds, weights)[0]
            try:
                one_call(kind, rng.choice(clients), people, seen, rng)
            except httpx.HTTPError as exc:
                with seen.lock:
                    seen.fives.append(f"{kind} transport error {type(exc).__name__}: {exc}")
            except Exception as exc:  # the soak's own bug: said, and the client goes on
                with seen.lock:
                    seen.crashes.append(f"{kind}: {type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- the run


def drain(engine: Any, seen: Seen, healthy: threading.Event) -> float:
    """The fake healthy, every pending SMS due now; until none is pending (at most DRAIN_SECONDS)."""
    healthy.set()
    started_at = time.monotonic()
    while time.monotonic() - started_at < DRAIN_SECONDS:
        with engine.begin() as conn:
            # Due now, rather than after the back-off of their failures (up to minutes), and unleased: the
            # lease of a row whose answer was lost runs out only after 5 minutes.
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.state == "pending", t.outbox.c.kind == "sms")
                .values(next_attempt_at=t.outbox.c.created_at)
            )
            left = conn.execute(
                select(t.outbox.c.id).where(t.outbox.c.state == "pending", t.outbox.c.kind == "sms")
            ).all()
        if not left:
            break
        time.sleep(1)
    return time.monotonic() - started_at


def read_back(engine: Any, seen: Seen, env: dict[str, str]) -> Stored:
    erased = list(seen.erased)
    sms = select(t.outbox.c.id, t.outbox.c.state, t.outbox.c.subject_id).where(t.outbox.c.kind == "sms")
    with engine.connect() as conn:
        consent_ids = {r.id for r in conn.execute(select(t.consent_events.c.id))}
        outbox = {r.id: (r.state, r.subject_id or "") for r in conn.execute(sms)}
        subjects = {r.id for r in conn.execute(select(t.subjects.c.id).where(t.subjects.c.id.in_(erased)))}
        owners = select(t.data_keys.c.owner_id).where(t.data_keys.c.owner_id.in_(erased))
        keys = {r.owner_id for r in conn.execute(owners)}
    verify = subprocess.run(
        [sys.executable, "-m", "personvern", "audit", "verify"], env=env, capture_output=True, text=True, timeout=300
    )
    return Stored(consent_ids, outbox, subjects, keys, verify.returncode == 0, (verify.stdout + verify.stderr)[-500:])


def report(seen: Seen, stored: Stored, logs: dict[str, str], loaded: float, drained: float) -> int:
    by_kind: Counter[str] = Counter()
    for (kind, _), n in seen.statuses.items():
        by_kind[kind] += n
    print(f"\nsoak: load {loaded:.0f} s, drain {drained:.0f} s")
    for kind, n in by_kind.most_common():
        statuses = ", ".join(f"{s}: {c}" for (k, s), c in sorted(seen.statuses.items()) if k == kind)
        print(f"  {kind:8} {n:6} calls  {n / loaded:6.1f}/s  ({statuses})")
    delivered = sum(1 for state, _ in stored.outbox.values() if state == "delivered")
    dead = sum(1 for state, _ in stored.outbox.values() if state == "dead")
    copies = sum(n - 1 for n in seen.accepted.values())
    for (kind, status), body in sorted(seen.refusals.items()):
        print(f"  first {status} to {kind}: {body}")
    print(f"  LINK answered: {dict(seen.fates)}")
    print(
        f"  SMS: {len(seen.queued)} queued, {delivered} delivered, {dead} dead; {len(seen.accepted)} refIds"
        f" accepted, {copies} copies under a refId already accepted (by design, after a lost answer)"
    )
    print(f"  consent events answered: {len(seen.consents)}; erased: {len(seen.erased)}")
    for worker, samples in seen.samples.items():
        rss = [s[0] / 1e6 for s in samples]
        fds = [s[1] for s in samples]
        print(
            f"  {worker}: {len(samples)} samples, RSS {min(rss):.1f}-{max(rss):.1f} MB"
            f" (last {rss[-1]:.1f}), fds {min(fds)}-{max(fds)} (last {fds[-1]})"
        )
    found = problems(seen, stored, logs)
    print(f"  audit verify: {'ok' if stored.audit_ok else 'FAILED'}")
    for problem in found:
        print(f"  PROBLEM: {problem}")
    print("soak: passed" if not found else f"soak: {len(found)} problems")
    return 0 if not found else 1


def main() -> int:
    seconds = env_int("SOAK_SECONDS", 60)
    clients = env_int("SOAK_CLIENTS", 8)
    seed_people = env_int("SOAK_PEOPLE", 200)
    server_url = os.environ.get("SOAK_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    backend = Backend("postgresql", server_url)
    database = db_name("soak")
    rng = random.Random(17)
    seen, healthy, stop = Seen(), threading.Event(), threading.Event()
    backend.create(database)
    try:
        runtime, _ = initialise(Settings(backend.url(database), backend.key_file(database), None, "ceo", "soak"))
        token = users.add_user(runtime.context(), "soak", "ceo").token
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PERSONVERN_")},
            "PERSONVERN_DATABASE_URL": backend.url(database),
            "PERSONVERN_MASTER_KEY_FILE": str(backend.key_file(database)),
        }
        with ExitStack() as stack:
            link = stack.enter_context(flaky_link(seen, healthy, rng))
            worker_env = {**env, **LINK_ENV, "PERSONVERN_LINKMOBILITY_URL": link}
            urls, procs = [], []
            for n in (1, 2):
                port = free_port()
                server = stack.enter_context(started(f"serve {n}", ["serve", "--no-worker", "--port", str(port)], env))
                urls.append(f"http://127.0.0.1:{port}")
                wait_ready(server.popen, urls[-1], f"soak: {server.name}", server.output)
                procs.append(server)
            workers = [
                stack.enter_context(started(f"worker {n}", ["worker", "--interval", "1"], worker_env)) for n in (1, 2)
            ]
            procs += workers
            people = People([])
            with httpx.Client(base_url=urls[0], headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                for _ in range(seed_people):
                    sid = add_person(c, people, seen, order=True)
                    if sid is not None:
                        people.customers.append(sid)
            if not people.customers:
                raise SystemExit(f"soak: no customer could be added: {seen.refusals}")
            print(f"soak: {len(people.customers)} customers; {clients} clients for {seconds} s", flush=True)
            sampler = threading.Thread(target=sample, args=(workers, seen, stop), daemon=True)
            sampler.start()
            began = time.monotonic()
            threads = [
                threading.Thread(
                    target=client_loop, args=(urls, token, people, seen, began + seconds, 1000 + i), daemon=True
                )
                for i in range(clients)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            loaded = time.monotonic() - began
            drained = drain(runtime.engine, seen, healthy)
            stop.set()
            sampler.join()
            stored = read_back(runtime.engine, seen, env)
            ended = [p.name for p in procs if p.popen.poll() is not None]
            logs = {p.name: p.output() for p in procs}
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in logs.items():  # whole, for what the summary cuts short
            (DATA_DIR / f"soak-{name.replace(' ', '-')}.log").write_text(text)
        runtime.close()
        if ended:
            logs["soak"] = f"Traceback: {', '.join(ended)} ended during the run"
        return report(seen, stored, logs, loaded, drained)
    finally:
        backend.drop(database)


if __name__ == "__main__":
    sys.exit(main())
