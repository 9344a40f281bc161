"""Work over a whole table or a queue: `audit verify` over the chain, outbox delivery to a local fake LINK
Mobility, and the annual review; each beside its floor in the same run, with checks of what it did.

Each is timed over several runs (a verify of the whole chain, a round of messages, a review of the whole
register), alternating with its floor, so a busy machine slows both; the figures are the medians, and with
fewer than 100 runs "p99" is the slowest run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import delete, func, or_, select

from bench.common import BENCH_DIR, NOW, env_int, median, timed, traced_peak
from bench.fake_link import ENV as LINK_ENV
from bench.ops import Bench, Figure, RawReads
from personvern.bootstrap import Runtime, build_connectors, http_client, retry_policy
from personvern.connectors.worker import LEASE, Worker
from personvern.domain.errors import PersonvernError
from personvern.domain.sms import MessageStatus
from personvern.services import messaging
from personvern.services.admin import verify_audit
from personvern.services.retention import refresh_stale, today
from personvern.services.review import NONE, digest, run_review
from personvern.store import tables as t
from personvern.store.repositories import SqlAuditLog

VERIFY_TARGET = "≥ 200 000 entries/s at 1 000 000 subjects; within 5× of the floor"
AUDIT_COLUMNS = "seq, at, actor, role, action, subject_id, purpose, details, prev_hash, hash"
SMS_TEXT = "Nøkkelkortet ditt er klart i resepsjonen."
CLAIM = 5  # rows per claim, as the worker's batch (connectors/worker.py BATCH)


def _rates(fig: Figure, unit: str, count: int, op: list[float], floor: list[float], audit: list[float] | None) -> None:
    """Throughputs beside the per-item seconds: `count` items per run."""
    fig.rate = {
        "unit": unit,
        "per_second_median": round(count / median(op)),
        "per_second_slowest": round(count / max(op)),
        "floor_per_second": round(count / median(floor)),
    }
    if audit:
        fig.rate["floor_with_audit_per_second"] = round(count / median(audit))


# ---------------------------------------------------------------- audit verify


def _floor_verify(rt: Runtime) -> tuple[int, int]:
    """Every row of audit_log in seq order by the bare driver, each entry hashed as `entry_hash` does (the same
    material, its keyed BLAKE2b under the audit key): (entries hashed, digests unlike the stored hash). No link or
    gap checks.

    On SQLite the driver gives the instant as the column's stored text (UTC), turned into `isoformat()`'s text by
    slicing; on PostgreSQL it gives an aware datetime (the transaction's time zone set to UTC)."""
    pg = rt.engine.dialect.name == "postgresql"
    keyed = hashlib.blake2b(key=rt.uow.vault.audit_key, digest_size=32).copy
    raw = rt.engine.raw_connection()
    count = unlike = 0
    try:
        if pg:
            conn = raw.driver_connection
            assert conn is not None
            conn.execute("SET LOCAL TIME ZONE 'UTC'")
            cur = conn.cursor(name="bench_audit_floor")  # server-side, 10 000 rows a fetch, as yield_per
            cur.itersize = 10_000
            cur.execute(f"SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq")
            for seq, at, actor, role, action, sid, purpose, details, prev, stored in cur:
                material = "\x1f".join((str(seq), at.isoformat(), actor, role, action, sid or "", purpose or "",
                                        details, prev))  # fmt: skip
                mac = keyed()
                mac.update(material.encode("utf-8"))
                if mac.hexdigest() != stored:
                    unlike += 1
                count += 1
            cur.close()
        else:
            cur = raw.cursor()
            cur.execute(f"SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq")
            for seq, at, actor, role, action, sid, purpose, details, prev, stored in cur:
                # '2026-11-26 12:00:00.000000' -> '2026-11-26T12:00:00+00:00' (isoformat leaves out zero micros)
                iso = f"{at[:10]}T{at[11:19]}+00:00" if at[20:] == "000000" else f"{at[:10]}T{at[11:]}+00:00"
                material = "\x1f".join((str(seq), iso, actor, role, action, sid or "", purpose or "", details, prev))
                mac = keyed()
                mac.update(material.encode("utf-8"))
                if mac.hexdigest() != stored:
                    unlike += 1
                count += 1
            cur.close()
        raw.rollback()
    finally:
        raw.close()
    return count, unlike


def _tampered(rt: Runtime, statement: str, seq: int) -> tuple[Any, ...]:
    """SqlAuditLog.verify (what `verify_audit` runs) on a connection that has just run `statement` on entry
    `seq`, rolled back after: the cached chain is not changed."""
    with rt.engine.connect() as conn:
        tx = conn.begin()
        try:
            conn.exec_driver_sql(statement.replace(":seq", str(int(seq))))
            report = SqlAuditLog(conn, rt.uow.vault.audit_key).verify()
        finally:
            tx.rollback()
    return report.ok, report.broken_at, report.checked, report.problem


def audit_verify(bench: Bench) -> list[Figure]:
    rt = bench.runtime
    runs = env_int("BENCH_VERIFY_RUNS", 3)
    fig = Figure("audit verify (whole chain)", VERIFY_TARGET)
    with rt.engine.connect() as conn:
        entries = int(conn.scalar(select(func.count()).select_from(t.audit_log)) or 0)
        head = int(conn.scalar(select(t.audit_head.c.seq)) or 0)
    if entries < bench.subjects or head != entries:
        raise SystemExit(f"audit verify: the chain holds {entries} entries (head {head}), fewer than the"
                         f" {bench.subjects} subjects the loader recorded or not up to its head")  # fmt: skip

    def verify() -> Any:
        return verify_audit(rt.uow, rt.actor)

    op_t: list[float] = []
    floor_t: list[float] = []
    for _ in range(runs):
        elapsed, report = timed(verify)
        if not report.ok or report.checked != entries:
            raise SystemExit(f"audit verify: the bench register's chain does not verify: {report}")
        op_t.append(elapsed)
        elapsed, (hashed, unlike) = timed(lambda: _floor_verify(rt))
        if hashed != entries or unlike:
            raise SystemExit(f"audit verify floor: {hashed} entries hashed of {entries}, {unlike} unlike their hash")
        floor_t.append(elapsed)
        bench.log(f"  audit verify: {entries / op_t[-1]:,.0f} entries/s (floor {entries / floor_t[-1]:,.0f})")
    fig.settle([x / entries for x in op_t], [x / entries for x in floor_t])
    _rates(fig, "entries", entries, op_t, floor_t, None)
    fig.rate.update({"seconds_median": round(median(op_t), 2), "floor_seconds_median": round(median(floor_t), 2)})
    fig.meets_target = entries / median(op_t) >= 200_000
    fig.peak_memory = traced_peak(verify)[0]

    # Tampering, on a connection whose change is rolled back: an early entry, so verify stops soon after it.
    seq = min(1_000, entries // 2)
    altered = _tampered(rt, "UPDATE audit_log SET actor = 'mallory' WHERE seq = :seq", seq)
    removed = _tampered(rt, "DELETE FROM audit_log WHERE seq = :seq", seq)
    if altered[:3] != (False, seq, seq - 1) or "altered" not in str(altered[3]):
        raise SystemExit(f"audit verify: an altered entry {seq} was reported as {altered}")
    if removed[:3] != (False, seq + 1, seq - 1) or f"entry {seq} is missing" not in str(removed[3]):
        raise SystemExit(f"audit verify: a removed entry {seq} was reported as {removed}")
    with rt.engine.connect() as conn:
        after = int(conn.scalar(select(func.count()).select_from(t.audit_log)) or 0)
    if after != entries:
        raise SystemExit(f"audit verify: the chain holds {after} entries after the run, {entries} before")
    fig.checks = {
        "entries": entries,
        "verified": entries,
        "floor_hashes_equal_stored": True,
        "altered_entry_detected": {"seq": seq, "broken_at": altered[1], "problem": altered[3]},
        "removed_entry_detected": {"seq": seq, "broken_at": removed[1], "problem": removed[3]},
        "chain_unchanged": True,
    }
    fig.notes = [
        "service: services.admin.verify_audit (SqlAuditLog.verify: the chain read with yield_per 10 000, every"
        " entry's link and hash checked by domain.audit.verify_chain, then the head)",
        "floor: every row of audit_log in seq order by the bare driver (PostgreSQL: a server-side cursor, 10 000"
        " rows a fetch), each entry's material built as entry_hash builds it, its keyed BLAKE2b under the audit key;"
        " no checks (the floor's digests are compared with the stored ones afterwards: all equal)",
        "median, p99 and floor are seconds per entry; rate: entries/s over the whole chain",
        f"tampering: an entry altered and an entry removed at seq {seq}, in a transaction rolled back, each found",
        f"runs: {runs}; with fewer than 100 runs p99 is the slowest run",
    ]
    return [fig]


# ---------------------------------------------------------------- outbox delivery


@contextmanager
def _fake_link() -> Iterator[str]:
    """bench.fake_link in a process of its own; yields its base URL (on 127.0.0.1)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_link"], cwd=BENCH_DIR.parent, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the fake LINK Mobility did not start (it said {url!r})")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class RawOutbox(RawReads):
    """The bare statements of delivering SMS rows: claim CLAIM due rows (SELECT, lease UPDATE, COMMIT); per row
    the POST, then mark it delivered (outbox UPDATE to its public part, its key DELETEd, the message's status
    UPDATEd; with `audit`, the audit entry), COMMIT."""

    def __init__(self, runtime: Runtime, client: httpx.Client, url: str) -> None:
        super().__init__(runtime)
        self.client = client
        self.url = url.rstrip("/") + "/send"
        self.auth = (LINK_ENV["PERSONVERN_LINKMOBILITY_USER"], LINK_ENV["PERSONVERN_LINKMOBILITY_PASSWORD"])
        self.at = self._instant(NOW)
        self.lease = self._instant(NOW + LEASE)

    def _instant(self, value: Any) -> Any:
        return value if self.pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    def claim(self) -> list[tuple[str, str | None, str]]:
        p = self.p
        cur = self.raw.cursor()
        if not self.pg:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(
            f"SELECT id, subject_id, payload FROM outbox WHERE state = 'pending' AND next_attempt_at <= {p}"
            f" AND (lease_until IS NULL OR lease_until <= {p}) ORDER BY next_attempt_at, id LIMIT {CLAIM}"
            + (" FOR UPDATE SKIP LOCKED" if self.pg else ""),
            (self.at, self.at),
        )
        rows = cur.fetchall()
        if rows:
            cur.execute(
                f"UPDATE outbox SET lease_until = {p} WHERE id IN ({', '.join([p] * len(rows))})",
                (self.lease, *[r[0] for r in rows]),
            )
        self.raw.commit()
        cur.close()
        return rows

    def deliver_all(self, bodies: dict[str, dict[str, Any]], audit: bool) -> int:
        p = self.p
        done = 0
        while rows := self.claim():
            for row_id, sid, payload in rows:
                response = self.client.post(self.url, json=bodies[row_id], auth=self.auth)
                answer = response.json()
                if response.status_code != 200:
                    raise SystemExit(f"outbox floor: the fake answered {response.status_code} {answer}")
                public = json.dumps({"public": json.loads(payload)["public"]}, ensure_ascii=False)
                result = json.dumps(
                    {
                        "messageId": answer["messageId"],
                        "resultCode": answer["resultCode"],
                        "description": answer["description"],
                    }
                )
                cur = self.raw.cursor()
                if not self.pg:
                    cur.execute("BEGIN IMMEDIATE")
                cur.execute(
                    f"UPDATE outbox SET state = 'delivered', payload = {p}, result = {p}, delivered_at = {p},"
                    f" lease_until = NULL, last_error = NULL WHERE id = {p} AND state = 'pending'",
                    (public, result, self.at, row_id),
                )
                cur.execute(f"DELETE FROM keystore.data_keys WHERE owner_id = {p}", (row_id,))
                cur.execute(
                    f"UPDATE messages SET status = {p}, vendor_message_id = {p}, result_code = {p}, status_text = {p},"
                    f" updated_at = {p} WHERE outbox_id = {p}",
                    (MessageStatus.QUEUED.value, answer["messageId"], answer["resultCode"], answer["description"],
                     self.at, row_id),
                )  # fmt: skip
                if audit:
                    details = {"row": row_id, "kind": "sms", "recipient": "linkmobility", "attempt": 1}
                    self._audit(cur, sid, "outbox.deliver", details)
                self.raw.commit()
                cur.close()
                done += 1
        return done


def _service_subjects(bench: Bench, count: int) -> list[str]:
    """Up to `count` subjects drawn at random among those with an order or contract in force today (what a
    service SMS needs), not restricted, not erased by an earlier run."""
    rt = bench.runtime
    day = today(rt.context())
    s, r, b = t.subjects.c, t.relationships.c, t.subject_blocks.c
    active = (
        select(r.id)
        .where(
            r.subject_id == s.id,
            r.started_on <= day,
            or_(r.ends_on.is_(None), r.ends_on > day),
            or_(r.ended_on.is_(None), r.ended_on > day),
        )
        .exists()
    )
    restricted = select(b.id).where(b.subject_id == s.id, b.kind == "restriction", b.lifted_at.is_(None)).exists()
    erased = select(t.erasure_receipts.c.id).where(t.erasure_receipts.c.subject_id == s.id).exists()
    q = select(s.id).where(active, ~restricted, ~erased).order_by(func.random()).limit(count)
    with rt.engine.connect() as conn:
        picked = list(conn.scalars(q))
    if not picked:
        raise SystemExit("outbox: no subject has an order or contract in force")
    return picked


def outbox_delivery(bench: Bench) -> list[Figure]:
    rt = bench.runtime
    ctx = rt.context()
    rounds = env_int("BENCH_OUTBOX_ROUNDS", 5)
    per_round = env_int("BENCH_OUTBOX_MESSAGES", 1_000)
    warm, traced = 50, 200
    need = 3 * rounds * per_round + 2 * warm + traced
    # A smaller register than the messages need gives its subjects several SMS each (a message does not use a
    # subject up), taken in turn.
    subjects = _service_subjects(bench, need + need // 5 + 100)
    pool = itertools.cycle(subjects)
    refused: dict[str, int] = {}

    def enqueue(n: int) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """n service SMS queued through messaging.send_sms (untimed); their row ids and the request bodies a
        bare client posts for them (the phone read back through the repository)."""
        queued: list[tuple[str, str]] = []
        while len(queued) < n:
            if sum(refused.values()) > len(subjects) + need:
                raise SystemExit(f"outbox: ran out of subjects to message (refused: {refused})")
            sid = next(pool)
            try:
                queued.append((sid, messaging.send_sms(ctx, sid, "service", SMS_TEXT).outbox_id))
            except PersonvernError as exc:  # e.g. no mobile number: another subject is taken
                refused[type(exc).__name__] = refused.get(type(exc).__name__, 0) + 1
        with rt.uow() as uow:
            phones = {x.id: x.values["phone"] for x in uow.subjects.get_many([sid for sid, _ in queued])}
        bodies = {
            row: {
                "source": LINK_ENV["PERSONVERN_LINKMOBILITY_SENDER"],
                "sourceTON": "ALPHANUMERIC",
                "destination": phones[sid],
                "userData": SMS_TEXT,
                "platformId": LINK_ENV["PERSONVERN_LINKMOBILITY_PLATFORM_ID"],
                "platformPartnerId": LINK_ENV["PERSONVERN_LINKMOBILITY_PARTNER_ID"],
                "refId": row,
                "useDeliveryReport": True,
                "deliveryReportGates": [LINK_ENV["PERSONVERN_LINKMOBILITY_GATE"]],
                "ignoreResponse": False,
            }
            for sid, row in queued
        }
        return [row for _, row in queued], bodies

    before = bench.counts()
    rows: dict[str, list[str]] = {"op": [], "floor": [], "audit": []}
    times: dict[str, list[float]] = {"op": [], "floor": [], "audit": []}
    tallies: list[dict[str, int]] = []
    with _fake_link() as url, http_client() as client, httpx.Client() as bare:
        environ = {**LINK_ENV, "PERSONVERN_LINKMOBILITY_URL": url}
        # The worker as bootstrap.build_worker wires it, without its once-a-day retention duty (the sweep would
        # archive and erase in the cached register; bench.retention measures it).
        worker = Worker(rt.context(), build_connectors(rt, client, environ), retry_policy(environ), retention=False)
        raw = RawOutbox(rt, bare, url)
        try:
            # Warm-up, untimed: connections made, and anything a broken earlier run left due delivered.
            ids, _ = enqueue(warm)
            drained = worker.run_once()
            ids_f, bodies = enqueue(warm)
            raw.deliver_all(bodies, False)
            rows["warm"], rows["warm_floor"] = ids, ids_f
            for n in range(rounds):
                for key in ("op", "floor", "audit"):
                    ids, bodies = enqueue(per_round)  # each side's rows only once the other's are delivered
                    rows[key] += ids
                    if key == "op":
                        elapsed, tally = timed(worker.run_once)
                        if (tally.delivered, tally.handled, tally.errors) != (per_round, per_round, []):
                            raise SystemExit(f"outbox: a pass over {per_round} rows did {tally}")
                        tallies.append({"delivered": tally.delivered, "handled": tally.handled})
                    else:
                        elapsed, done = timed(lambda b=bodies, a=key == "audit": raw.deliver_all(b, a))
                        if done != per_round:
                            raise SystemExit(f"outbox floor: delivered {done} rows of {per_round}")
                    times[key].append(elapsed)
                bench.log(f"  outbox round {n + 1}: {per_round / times['op'][-1]:,.0f} messages/s"
                          f" (floor {per_round / times['floor'][-1]:,.0f}, floor+audit"
                          f" {per_round / times['audit'][-1]:,.0f})")  # fmt: skip
            # What every pass does first, whatever it delivers: the message texts past the policy's period
            # forgotten (an UPDATE over the old messages), timed alone.
            forget = sorted(timed(lambda: messaging.forget_old_texts(ctx))[0] for _ in range(3))[1]
            ids, _ = enqueue(traced)
            rows["traced"] = ids
            peak, tally = traced_peak(worker.run_once)
            if tally.delivered != traced:
                raise SystemExit(f"outbox: the traced pass delivered {tally.delivered} of {traced}")
        finally:
            raw.close()
        accepted = client.get(url.rsplit("/", 1)[0] + "/stats").json()["accepted"]
    checks = _check_outbox(bench, before, rows, accepted, refused)
    checks["warm_up_pass"] = {"delivered": drained.delivered, "waiting": drained.waiting, "errors": drained.errors}
    checks["passes"] = tallies
    checks["forget_old_texts_seconds"] = round(forget, 3)  # per pass, included in the worker's time

    fig = Figure("outbox delivery (SMS to a local fake)", "(no target yet); within 5× of the floor")
    fig.settle(
        [x / per_round for x in times["op"]],
        [x / per_round for x in times["floor"]],
        [x / per_round for x in times["audit"]],
    )
    _rates(fig, "messages", per_round, times["op"], times["floor"], times["audit"])
    fig.peak_memory = peak
    fig.checks = checks
    fig.notes = [
        f"service: Worker.run_once (connectors/worker.py) over {per_round} due SMS rows queued by"
        " services.messaging.send_sms (untimed) for subjects with an order or contract in force; the worker as"
        " bootstrap.build_worker wires it (build_connectors, retry_policy) but without the daily retention duty;"
        " LINK Mobility is bench/fake_link.py (the test suite's FakeLink, HTTP/1.1) in its own process on"
        " 127.0.0.1",
        f"floor: the same number of rows claimed {CLAIM} at a time (SELECT, lease UPDATE, COMMIT) and per row the"
        " POST of the same body with a bare httpx.Client to the same fake, then the row marked delivered (UPDATE"
        " to its public part, its key DELETEd, the message's status UPDATEd), COMMIT; floor+audit adds the"
        " outbox.deliver audit entry per row",
        "median, p99 and floor are seconds per message (a round's time / its messages); rate: messages/s",
        "every pass of the worker first forgets the message texts past the policy's period (an UPDATE over the old"
        " messages; checks.forget_old_texts_seconds, timed alone): a fixed cost per pass, in the worker's time",
        f"runs: {rounds} rounds of {per_round} messages for each of service, floor and floor+audit, interleaved;"
        " with fewer than 100 runs p99 is the slowest round",
    ]
    return [fig]


def _check_outbox(
    bench: Bench, before: dict[str, int], rows: dict[str, list[str]], accepted: list[str], refused: dict[str, int]
) -> dict[str, Any]:
    """Every row queued is delivered, once, with nothing personal left; the tables grew by what was sent."""
    rt = bench.runtime
    every = [row for ids in rows.values() for row in ids]
    o, m, k = t.outbox.c, t.messages.c, t.data_keys.c
    states: dict[str, int] = {}
    sealed = keys = queued = vendor = 0
    with rt.engine.connect() as conn:
        for i in range(0, len(every), 500):
            chunk = every[i : i + 500]
            for state, payload in conn.execute(select(o.state, o.payload).where(o.id.in_(chunk))):
                states[state] = states.get(state, 0) + 1
                sealed += "sealed" in json.loads(payload)
            keys += int(conn.scalar(select(func.count()).where(k.owner_id.in_(chunk))) or 0)
            for status, vendor_id in conn.execute(select(m.status, m.vendor_message_id).where(m.outbox_id.in_(chunk))):
                queued += status == MessageStatus.QUEUED.value
                vendor += vendor_id is not None
    if states != {"delivered": len(every)} or sealed or keys:
        raise SystemExit(f"outbox: rows {states} of {len(every)}, {sealed} still sealed, {keys} keys left")
    if queued != len(every) or vendor != len(every):
        raise SystemExit(f"outbox: {queued} of {len(every)} messages queued, {vendor} with the vendor's id")
    seen: dict[str, int] = {}
    for ref in accepted:
        seen[ref] = seen.get(ref, 0) + 1
    twice = [ref for ref, n in seen.items() if n > 1]
    missing = [row for row in every if row not in seen]
    if missing or twice or len(seen) != len(every):
        raise SystemExit(f"outbox: the fake accepted {len(seen)} refIds for {len(every)} rows; {len(missing)}"
                         f" missing, {len(twice)} twice")  # fmt: skip
    after = bench.counts()
    grown = {name: after[name] - before[name] for name in before}
    delivered_audited = len(every) - len(rows["floor"]) - len(rows["warm_floor"])  # the worker's, floor+audit's
    want = {"outbox": len(every), "messages": len(every), "audit_log": len(every) + delivered_audited}
    others = {name: n for name, n in grown.items() if name not in want and n}
    if any(grown[name] != n for name, n in want.items()) or others:
        raise SystemExit(f"outbox: the tables grew by {grown}, expected {want} and nothing else")
    return {
        "rows_delivered": len(every),
        "personal_parts_left": 0,
        "row_keys_left": 0,
        "messages_queued_with_vendor_id": queued,
        "fake_accepted_each_once": len(seen),
        "send_sms_refused": refused,
        "tables_grown": grown,
    }


# ---------------------------------------------------------------- the annual review


def _floor_review(rt: Runtime, report: bool = False) -> tuple[list[str], int]:
    """The bare SELECT of every subject's schedule (id, kind, retain_until, retain_action, retain_rule, hold_until,
    hold_fields) in id order, and of every archived record; (subject ids, archived records).

    With `report` (floor+report), also a dict per record with those columns, the whole as canonical JSON (as
    `review.canonical` renders it) and its sha256: the least a stored, hashed report of every record costs."""
    raw = rt.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "SELECT id, kind, retain_until, retain_action, retain_rule, hold_until, hold_fields FROM subjects"
            " ORDER BY id"
        )
        subjects = cur.fetchall()
        cur.execute("SELECT id, subject_id, kind, archived_at FROM archive_records ORDER BY id")
        archived = cur.fetchall()
        cur.close()
        raw.rollback()
    finally:
        raw.close()
    if report:
        names = ("id", "kind", "until", "action", "reason", "held_until", "scope")
        entries = [dict(zip(names, r, strict=True)) for r in subjects]
        kept = [dict(zip(("id", "subject_id", "kind", "archived_at"), r, strict=True)) for r in archived]
        text = json.dumps({"subjects": entries, "archived": kept}, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, default=str)  # fmt: skip
        hashlib.sha256(text.encode("utf-8")).hexdigest()
    return [r[0] for r in subjects], len(archived)


def _without_reason(rt: Runtime) -> int:
    """The oracle: subjects due on the day with no hold in force (archived records: none in the bench register)."""
    s = t.subjects.c
    day = today(rt.context())
    held = s.hold_fields.is_not(None) & (s.hold_until.is_(None) | (s.hold_until > day))
    with rt.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).where(s.retain_until <= day, ~held)) or 0)


def annual_review(bench: Bench) -> list[Figure]:
    rt = bench.runtime
    ctx = rt.context()
    runs = env_int("BENCH_REVIEW_RUNS", 3)
    # The loader writes no retention schedules (as a register upgraded from before retention existed): the
    # first review would compute all of them. That is done once here, untimed, and kept in the cached register.
    stale_seconds, stale = timed(lambda: refresh_stale(ctx))
    if stale:
        bench.log(f"  computed the retention schedules of {stale:,} subjects first ({stale_seconds:.1f} s, once)")
    year = today(ctx).year
    _floor_review(rt)  # once untimed: the first read of the table warms the cache for both
    before = bench.counts()
    op_t: list[float] = []
    floor_t: list[float] = []
    report_t: list[float] = []
    made: list[str] = []
    sizes: set[int] = set()
    summary: dict[str, Any] = {}
    try:
        for _ in range(runs):
            elapsed, (ids, archived) = timed(lambda: _floor_review(rt))
            floor_t.append(elapsed)
            report_t.append(timed(lambda: _floor_review(rt, report=True))[0])
            elapsed, done = timed(lambda: run_review(ctx, year))
            op_t.append(elapsed)
            made.append(done.record.id)
            summary = _check_review(rt, done, ids, archived)
            sizes.add(len(done.record.report.encode("utf-8")))
            del done
            bench.log(f"  annual review: {op_t[-1]:.2f} s for {len(ids):,} subjects (floor {floor_t[-1]:.2f} s,"
                      f" floor+report {report_t[-1]:.2f} s)")  # fmt: skip
        peak, done = traced_peak(lambda: run_review(ctx, year))
        made.append(done.record.id)
        del done
    finally:
        # Each review stores its report (the ids of every subject) in the register: the bench's are removed, so
        # the cached register does not grow by a report a run. Their `review.run` audit entries stay.
        with rt.engine.begin() as conn:
            gone = conn.execute(delete(t.reviews).where(t.reviews.c.id.in_(made))).rowcount
    after = bench.counts()
    grown = {name: after[name] - before[name] for name in before}
    if grown["audit_log"] != len(made) or any(n for name, n in grown.items() if name != "audit_log"):
        raise SystemExit(f"annual review: the tables grew by {grown}, expected {len(made)} audit entries")
    fig = Figure("annual review (run_review)", "(no target yet); within 5× of the floor")
    fig.settle(op_t, floor_t, report_t)  # the floor+audit column holds floor+report
    fig.peak_memory = peak
    fig.rate = {  # shown as seconds: the review is one long call
        "subjects_per_second_median": round(summary["subjects"] / median(op_t)),
        "floor_subjects_per_second": round(summary["subjects"] / median(floor_t)),
    }
    fig.checks = {
        **summary,
        "report_bytes": sorted(sizes),
        "schedules_computed_first": {"subjects": stale, "seconds": round(stale_seconds, 1)},
        "reviews_removed_after": gone,
        "tables_grown": grown,
    }
    fig.notes = [
        f"service: services.review.run_review(ctx, {year}) (pages of 10 000 subjects and archived records, each"
        " with its reason, the report canonical JSON, its sha256, stored with its audit entry); the files `review"
        " run --out` writes (JSON, HTML) are not rendered",
        "floor: the bare SELECT of every subject's id, kind, retain_until, retain_action, retain_rule, hold_until,"
        " hold_fields in id order, and of every archived record (id, subject id, kind, archived at), fetched",
        "floor+report (shown in the floor+audit column): the floor plus a dict per record of those columns, the"
        " whole as canonical JSON (sort_keys, compact, as review.canonical) and its sha256",
        "checks: every subject in the register listed once, in id order, as the floor found them; as many without"
        " a reason as the oracle query; the stored report matches its sha256; the reviews the bench made are"
        " deleted afterwards (a report is tens of MB at 1 000 000 subjects), their audit entries kept",
        f"runs: {runs}; with fewer than 100 runs p99 is the slowest run",
    ]
    return [fig]


def _check_review(rt: Runtime, done: Any, ids: list[str], archived: int) -> dict[str, Any]:
    report = done.report
    listed = [e["id"] for e in report["subjects"]]
    if listed != ids:
        raise SystemExit(f"annual review: {len(listed)} subjects listed, the register holds {len(ids)} (or in"
                         " another order)")  # fmt: skip
    if len(report["archived"]) != archived:
        raise SystemExit(f"annual review: {len(report['archived'])} archived records listed, {archived} held")
    none = sum(1 for e in report["subjects"] if e["reason"] == NONE)
    oracle = _without_reason(rt)
    if none != oracle or report["summary"]["without_reason"] != none:
        raise SystemExit(f"annual review: {none} subjects without a reason, the oracle counts {oracle}")
    with rt.engine.connect() as conn:
        stored = conn.execute(
            select(t.reviews.c.sha256, t.reviews.c.report).where(t.reviews.c.id == done.record.id)
        ).first()
    if stored is None or stored[0] != digest(stored[1]) or stored[0] != done.record.sha256:
        raise SystemExit(f"annual review: review {done.record.id} is not stored with its sha256")
    return {
        "subjects": len(listed),
        "archived": archived,
        "without_reason": none,
        "oracle_without_reason": oracle,
        "by_reason": report["summary"]["by_reason"],
    }


OPERATIONS: dict[str, Callable[[Bench], list[Figure]]] = {
    "audit": audit_verify,
    "outbox": outbox_delivery,
    "review": annual_review,
}
