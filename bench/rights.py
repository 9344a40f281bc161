"""Data subject rights: building one access package and erasing one person, each beside its floor.

Every call is on another subject. Requests are opened and verified through the services before the timed
loop (untimed); what is timed is `services.rights.fulfil_request` (and `services.erasure.erase_subject` in a
unit of work). Erasures remove subjects from the cached register for good: each run erases a fresh random
sample of the subjects still there, and records in `bench_meta` how many left the marketing audience, so the
audience check of this and later runs stays exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select

from bench import supply
from bench.common import ACTOR, NOW, statement_summary, statements, timed, traced_peak
from bench.load import note_erasures, oracle_audience
from bench.ops import MEMORY_RUNS, Bench, Figure, RawReads
from personvern.bootstrap import Runtime
from personvern.domain.erasure import ErasureCause
from personvern.services import rights
from personvern.services.erasure import erase_subject
from personvern.services.register import new_id
from personvern.store import tables as t
from personvern.store.crypto import open_sealed

ACCESS_TARGET = "≤ 50 ms at 1 000 000 subjects; within 5× of the floor"
ERASURE_TARGET = "≤ 20 ms at 1 000 000 subjects; within 5× of the floor"

# What an access package reads by the subject's id, and what a full erasure deletes by it.
ACCESS_READS = ("relationships", "consent_events", "subject_blocks", "messages", "requests", "outbox")
ERASE_DELETES = ("subject_values", "lookups", "relationships", "consent_events", "messages", "subject_blocks")


class RawRights(RawReads):
    """The bare statements of an access package and of a full erasure, on one DBAPI connection."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.vault = runtime.uow.vault
        self.at = NOW if self.pg else NOW.strftime("%Y-%m-%d %H:%M:%S.%f")

    def access(self, sid: str, request_id: str | None) -> dict[str, int]:
        """SELECTs by subject id on every table the package reads, the data key unwrapped, the values (and
        relationship descriptions) opened; with `request_id`, the request completed and the audit entry written,
        in one transaction. Returns the rows read per table."""
        p = self.p
        cur = self.raw.cursor()
        write = request_id is not None
        if write and not self.pg:
            cur.execute("BEGIN IMMEDIATE")
        cur.execute(f"SELECT * FROM subjects WHERE id = {p}", (sid,))
        found = cur.fetchall()
        cur.execute(f"SELECT field, ciphertext FROM subject_values WHERE subject_id = {p}", (sid,))
        values = cur.fetchall()
        cur.execute(f"SELECT wrapped FROM keystore.data_keys WHERE owner_id = {p}", (sid,))
        wrapped = cur.fetchone()[0]
        rows: dict[str, list[Any]] = {}
        for table in ACCESS_READS:
            cur.execute(f"SELECT * FROM {table} WHERE subject_id = {p}", (sid,))
            rows[table] = cur.fetchall()
        cipher = AESGCM(self.vault.unwrap(sid, bytes(wrapped)))
        opened = {name: open_sealed(cipher, f"{sid}:{name}", bytes(blob)) for name, blob in values}
        for rel in rows["relationships"]:
            if rel[-1] is not None:  # description_ct, the table's last column
                open_sealed(cipher, f"{sid}:relationship:{rel[0]}", bytes(rel[-1]))
        if write:
            outcome = json.dumps({"held": True, "floor": True})
            cur.execute(
                f"UPDATE requests SET state = 'completed', closed_at = {p}, closed_by = {p}, outcome = {p}"
                f" WHERE id = {p}",
                (self.at, ACTOR, outcome, request_id),
            )
            self._audit(cur, sid, "request.fulfil", {"request": request_id, "type": "access"})
        if self.pg or write:
            self.raw.commit()
        cur.close()
        return {"subjects": len(found), "values": len(opened), **{k: len(v) for k, v in rows.items()}}

    def erase(self, sid: str) -> None:
        """DELETE by subject id from every table holding the person, the subject row, its data key; INSERT the
        receipt and the audit entry; COMMIT."""
        p = self.p
        cur = self.raw.cursor()
        if not self.pg:
            cur.execute("BEGIN IMMEDIATE")
        for table in ERASE_DELETES:
            cur.execute(f"DELETE FROM {table} WHERE subject_id = {p}", (sid,))
        cur.execute(f"DELETE FROM subjects WHERE id = {p}", (sid,))
        cur.execute(f"DELETE FROM keystore.data_keys WHERE owner_id = {p}", (sid,))
        receipt = new_id()
        details = json.dumps({"fields_erased": ["bench-floor"]})
        cur.execute(
            "INSERT INTO erasure_receipts (id, subject_id, request_id, erased_at, cause, held_until, details)"
            f" VALUES ({p}, {p}, NULL, {p}, 'request', NULL, {p})",
            (receipt, sid, self.at, details),
        )
        self._audit(cur, sid, "subject.erase", {"receipt": receipt, "cause": "request"})
        self.raw.commit()
        cur.close()


def _sample(bench: Bench, count: int, where: Any, exclude: set[str]) -> list[str]:
    """`count` subject ids drawn uniformly among those `where` selects, none of `exclude` (`where` leaves out
    those erased before: see bench.supply)."""
    s = t.subjects.c
    q = select(s.id).where(where).order_by(func.random()).limit(count + len(exclude))
    with bench.runtime.engine.connect() as conn:
        picked = list(conn.scalars(q))
    picked = [sid for sid in picked if sid not in exclude][:count]
    if len(picked) < count:
        raise SystemExit(f"rights: the register holds {len(picked)} suitable subjects, the benchmark needs {count}")
    return picked


def _count_where(conn: Any, table: Any, column: str, ids: list[str], extra: Any = None) -> int:
    total = 0
    for i in range(0, len(ids), 500):
        q = select(func.count()).select_from(table).where(table.c[column].in_(ids[i : i + 500]))
        if extra is not None:
            q = q.where(extra)
        total += int(conn.scalar(q) or 0)
    return total


def _with_keys(conn: Any, owners: list[str]) -> list[str]:
    """Those of `owners` that have a data key, 500 at a time."""
    dk = t.data_keys.c
    return [
        o
        for i in range(0, len(owners), 500)
        for o in conn.scalars(select(dk.owner_id).where(dk.owner_id.in_(owners[i : i + 500])))
    ]


def rights_ops(bench: Bench, meta: dict[str, Any]) -> list[Figure]:
    rt = bench.runtime
    ctx = rt.context()
    # As many rounds as a share of the register's suitable subjects allows (bench.supply): a small register, or
    # one earlier runs have erased from, gives fewer runs rather than a failure.
    wanted = supply.rounds(bench.warmup, bench.runs)
    with rt.engine.connect() as conn:
        reps_held = supply.available(conn, "full_erasure", 3 * wanted * supply.SHARE)
        orders_held = supply.available(conn, "with_order", wanted * supply.SHARE)
    per = min(supply.fit(wanted, reps_held, 3), supply.fit(wanted, orders_held))
    warmup, runs = supply.split(per, bench.warmup, bench.runs)
    if runs < 1:
        raise SystemExit(
            f"rights: the register holds {reps_held} representatives to erase in full and {orders_held} customers"
            " with an order: too few for one timed run (a larger BENCH_SUBJECTS, or BENCH_REBUILD=1)"
        )
    if runs < bench.runs:
        bench.log(
            f"  {runs} timed runs (of {bench.runs}): the register holds {reps_held} representatives to erase in"
            f" full and {orders_held} customers with an order; a run takes at most 1/{supply.SHARE} of them"
        )
    rounds = warmup + runs
    per = rounds + MEMORY_RUNS

    # Three disjoint samples: representatives (no relationship, nor their organisation: a full erasure), one-time
    # customers with an order (the bookkeeping hold keeps some fields), and any subject for the access packages.
    reps = _sample(bench, 3 * per, supply.full_erasure(), set())
    orders = _sample(bench, per, supply.with_order(), set(reps))
    access_ids = _sample(bench, 3 * per, supply.not_erased(), set(reps) | set(orders))
    erase_fulfil, erase_direct, erase_floor = reps[:per], reps[per : 2 * per], reps[2 * per : 3 * per]
    access_svc, access_floor, access_audit = access_ids[:per], access_ids[per : 2 * per], access_ids[2 * per :]
    with rt.uow() as uow:
        expected = {x.id: dict(x.values) for x in uow.subjects.get_many(access_svc)}
    erased_all = erase_fulfil + erase_direct + erase_floor + orders

    bench.log(f"  opening and verifying {3 * per} requests (untimed)")
    requests: dict[str, str] = {}
    for kind, ids in (("access", access_svc + access_audit), ("erasure", erase_fulfil + orders)):
        for sid in ids:
            opened = rights.open_request(ctx, kind, subject_id=sid, channel="web")
            rights.verify_request(ctx, opened.request.id, "bankid")
            requests[sid] = opened.request.id

    with rt.engine.connect() as conn:
        in_audience = {ch: oracle_audience(conn, ch, erased_all) for ch in ("sms", "email")}
        old_keys = dict(conn.execute(select(t.data_keys.c.owner_id, t.data_keys.c.wrapped).where(
            t.data_keys.c.owner_id.in_(orders))).all())  # fmt: skip
        # Keys the services' erasures destroy besides the subjects' own: their requests' (forget_personal) and
        # their undelivered outbox rows' (forget_subject; e.g. HubSpot shares the consent benchmark called off).
        req, ob = t.requests.c, t.outbox.c
        by_service = erase_fulfil + erase_direct + orders
        owners = list(conn.scalars(select(req.id).where(req.subject_id.in_(by_service))))
        owners += conn.scalars(select(ob.id).where(ob.subject_id.in_(by_service), ob.state != "delivered"))
        erased_keys = _with_keys(conn, owners)
    before = bench.counts()
    hubspot_before = _hubspot_deletes(rt)

    raw = RawRights(rt)
    packages: dict[str, dict[str, Any]] = {}
    floor_reads: list[dict[str, int]] = []

    def access(sid: str) -> None:
        done = rights.fulfil_request(ctx, requests[sid])
        packages[sid] = json.loads(done.files["data.json"])
        if done.request.state.value != "completed" or "letter.html" not in done.files:
            raise SystemExit(f"access: request {done.request.id} ended {done.request.state.value}")

    def fulfil_erasure(sid: str) -> None:
        done = rights.fulfil_request(ctx, requests[sid])
        # Carried out and waiting for HubSpot's deletion (a person it was given) is as done as this step gets.
        ended = done.request.state.value == "completed" or done.request.carried_out
        if not ended or "receipt" not in done.request.outcome:
            raise SystemExit(f"erasure: request {done.request.id} ended {done.request.state.value}")

    def direct(sid: str) -> None:
        with ctx.uow() as uow:
            erase_subject(ctx, uow, sid, cause=ErasureCause.REQUEST)
            uow.commit()

    names = ("access", "access_floor", "access_audit", "erase", "erase_direct", "erase_floor", "erase_order")
    times: dict[str, list[float]] = {k: [] for k in names}
    try:
        for n in range(rounds):
            steps: list[tuple[str, Callable[[], Any]]] = [
                ("access", lambda i=access_svc[n]: access(i)),
                ("access_floor", lambda i=access_floor[n]: floor_reads.append(raw.access(i, None))),
                ("access_audit", lambda i=access_audit[n]: raw.access(i, requests[i])),
                ("erase", lambda i=erase_fulfil[n]: fulfil_erasure(i)),
                ("erase_direct", lambda i=erase_direct[n]: direct(i)),
                ("erase_floor", lambda i=erase_floor[n]: raw.erase(i)),
                ("erase_order", lambda i=orders[n]: fulfil_erasure(i)),
            ]
            for key, step in steps:
                elapsed, _ = timed(step)
                if n >= warmup:
                    times[key].append(elapsed)
        # Peak memory and statement counts: calls apart from the timed ones (tracing slows them).
        peaks: dict[str, int] = {}
        counted: dict[str, list[str]] = {}
        for key, fn, ids in (
            ("access", access, access_svc),
            ("erase", fulfil_erasure, erase_fulfil),
            ("erase_direct", direct, erase_direct),
            ("erase_order", fulfil_erasure, orders),
        ):
            peaks[key] = max(traced_peak(lambda i=sid, f=fn: f(i))[0] for sid in ids[rounds + 1 :])  # type: ignore[misc]
            with statements(rt.engine) as seen:
                fn(ids[rounds])
            counted[key] = seen
        for sid in erase_floor[rounds:]:
            raw.erase(sid)
        for sid in access_audit[rounds:]:
            raw.access(sid, requests[sid])
        for sid in access_floor[rounds:]:
            raw.access(sid, None)
    finally:
        raw.close()
        # However far the loop got, the cached register's record of its audience follows what left it.
        with rt.engine.connect() as conn:
            still = {ch: oracle_audience(conn, ch, erased_all) for ch in ("sms", "email")}
            gone = len(erased_all) - _count_where(conn, t.subjects, "id", erased_all)
        left_audience = {ch: in_audience[ch] - still[ch] for ch in in_audience}
        note_erasures(rt, meta, gone, left_audience)
    after = bench.counts()

    checks = _check_access(bench, access_svc, expected, packages, requests, access_audit)
    empty = [r for r in floor_reads if r["subjects"] != 1 or not r["values"]]
    if empty:
        raise SystemExit(f"access floor: {len(empty)} reads found no subject or no values, e.g. {empty[0]}")
    checks_erasure = _check_erasures(
        bench, before, after, erase_fulfil + erase_direct, erase_floor, orders, old_keys, erased_keys,
        hubspot_before, left_audience,
    )  # fmt: skip

    figures = []
    fig = Figure("access package (fulfil)", ACCESS_TARGET)
    fig.settle(times["access"], times["access_floor"], times["access_audit"])
    fig.peak_memory = peaks["access"]
    fig.meets_target = fig.median is not None and fig.median <= 0.050
    fig.checks = {**checks, "statements_per_call": statement_summary(counted["access"])}
    fig.statements = len(counted["access"])
    fig.notes = [
        "service: services.rights.fulfil_request of a verified access request (the package read by subject id,"
        " data.json and the HTML letter rendered, the request completed, audited), one transaction",
        "floor: SELECT by subject id on subjects, subject_values, data_keys, relationships, consent_events,"
        " subject_blocks, messages, requests and outbox; the data key unwrapped and the values and relationship"
        " descriptions opened (AES-GCM); floor+audit also completes the request (UPDATE) and writes the audit entry,"
        " in one transaction",
    ]
    figures.append(fig)

    for key, name, note in (
        ("erase", "erasure (fulfil)", "services.rights.fulfil_request of a verified erasure request"),
        ("erase_direct", "erasure (erase_subject)", "services.erasure.erase_subject in a unit of work, committed"),
        (
            "erase_order",
            "erasure with an order (fulfil)",
            "fulfil_request of an erasure request of a one-time customer with an order (no contract): open orders"
            " ended, the bookkeeping hold keeps the fields bokføringsloven requires, re-keyed under a fresh key"
            " (shred), restricted; one whose hold has ended is erased in full (checks: with_order_*)",
        ),
    ):
        fig = Figure(name, ERASURE_TARGET)
        fig.settle(times[key], times["erase_floor"])
        fig.peak_memory = peaks[key]
        fig.meets_target = fig.median is not None and fig.median <= 0.020
        fig.checks = {**checks_erasure, "statements_per_call": statement_summary(counted[key])}
        fig.statements = len(counted[key])
        subjects = (
            "representatives (no order or contract, nor their organisation: a full erasure)"
            if key != "erase_order"
            else "see above"
        )
        fig.notes = [
            f"service: {note}; subjects: {subjects}",
            "floor: DELETE by subject id from subject_values, lookups, relationships, consent_events, messages,"
            " subject_blocks, subjects and data_keys, INSERT the receipt, the audit entry, COMMIT (a full erasure)",
        ]
        figures.append(fig)
    for fig in figures:
        bench.log(f"  {fig.operation}: median {fig.median * 1e3:.2f} ms, floor {fig.floor * 1e3:.3f} ms")
    return figures


def _hubspot_deletes(rt: Runtime) -> int:
    with rt.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).where(t.outbox.c.kind == "hubspot.delete")) or 0)


def _check_access(
    bench: Bench,
    ids: list[str],
    expected: dict[str, dict[str, str]],
    packages: dict[str, dict[str, Any]],
    requests: dict[str, str],
    floor_ids: list[str],
) -> dict[str, Any]:
    """Every package holds its subject's values and as many rows of each kind as the tables hold; every
    request the service (or the floor) fulfilled is completed."""
    rt = bench.runtime
    check = RawRights(rt)
    wrong: list[str] = []
    try:
        for sid in ids:
            data = packages.get(sid)
            if data is None or data.get("subject") != sid or data.get("values") != expected[sid]:
                wrong.append(f"{sid}: values")
                continue
            rows = check.access(sid, None)
            listed = {
                "relationships": len(data["relationships"]),
                "consent_events": len(data["consent_events"]),
                "subject_blocks": len(data["objections_and_restrictions"]),
                "messages": len(data["messages"]),
                "requests": len(data["requests"]),
            }
            if any(rows[k] != n for k, n in listed.items()):
                wrong.append(f"{sid}: package {listed}, tables {rows}")
    finally:
        check.close()
    if wrong:
        raise SystemExit(f"access: {len(wrong)} packages differ from the register, e.g. {wrong[:3]}")
    with rt.engine.connect() as conn:
        done = _count_where(
            conn, t.requests, "id", [requests[s] for s in ids + floor_ids], t.requests.c.state == "completed"
        )
    if done != len(ids) + len(floor_ids):
        raise SystemExit(f"access: {done} of {len(ids) + len(floor_ids)} requests are completed")
    return {"packages_checked": len(ids), "requests_completed": done}


def _check_erasures(
    bench: Bench,
    before: dict[str, int],
    after: dict[str, int],
    service_full: list[str],
    floor_full: list[str],
    orders: list[str],
    old_keys: dict[str, bytes],
    erased_keys: list[str],
    hubspot_before: int,
    left_audience: dict[str, int],
) -> dict[str, Any]:
    """The erased are gone with their keys; those with an order keep only the held fields, under a new key.

    `erased_keys`: the keys of the requests and undelivered outbox rows of the subjects the services erased.
    """
    rt = bench.runtime
    receipts: dict[str, dict[str, Any]] = {}
    with rt.engine.connect() as conn:
        rc = t.erasure_receipts.c
        for i in range(0, len(service_full + orders), 500):
            chunk = (service_full + orders)[i : i + 500]
            for sid, details in conn.execute(select(rc.subject_id, rc.details).where(rc.subject_id.in_(chunk))):
                receipts[sid] = json.loads(details)
    missing = [sid for sid in service_full + orders if sid not in receipts]
    if missing:
        raise SystemExit(f"erasure: {len(missing)} subjects erased by the services have no receipt")
    held = [sid for sid in orders if receipts[sid].get("held_until")]
    gone_orders = [sid for sid in orders if sid not in held]
    full = service_full + floor_full + gone_orders
    not_full = [sid for sid in service_full if receipts[sid].get("fields_held")]
    if not_full:
        raise SystemExit(f"erasure: {len(not_full)} representatives kept fields, e.g. {receipts[not_full[0]]}")
    with rt.engine.connect() as conn:
        left = {table: _count_where(conn, t.metadata.tables[table], "subject_id", full) for table in ERASE_DELETES}
        left["subjects"] = _count_where(conn, t.subjects, "id", full)
        left["data_keys"] = _count_where(conn, t.data_keys, "owner_id", full)
        left = {k: v for k, v in left.items() if v}
        if left:
            raise SystemExit(f"erasure: rows of erased subjects remain: {left}")
        # An erasure's answer (its letter) is sealed again under a new key of its request, kept `[requests]
        # keep_answer` to be fetched and forgotten after: such a key may seal that answer and nothing else.
        kept = _with_keys(conn, erased_keys)
    with rt.uow() as uow:
        not_answers = [rid for rid in kept if uow.requests.details(rid) or uow.requests.answer(rid) is None]
    if not_answers:
        raise SystemExit(
            f"erasure: {len(not_answers)} keys of the erased subjects' requests and outbox rows remain, sealing"
            " more than a kept answer"
        )
    with rt.engine.connect() as conn:
        receipts_found = _count_where(conn, t.erasure_receipts, "subject_id", full + held)
        audited = _count_where(conn, t.audit_log, "subject_id", full + held, t.audit_log.c.action == "subject.erase")
        if receipts_found != len(full) + len(held) or audited != len(full) + len(held):
            raise SystemExit(
                f"erasure: {receipts_found} receipts and {audited} audit entries for {len(full) + len(held)}"
            )
        in_audience = {ch: oracle_audience(conn, ch, full + held) for ch in ("sms", "email")}
        if any(in_audience.values()):
            raise SystemExit(f"erasure: erased subjects are still in the marketing audience: {in_audience}")
        v, k = t.subject_values.c, t.data_keys.c
        for sid in held:
            fields = sorted(conn.scalars(select(v.field).where(v.subject_id == sid)))
            key = conn.scalar(select(k.wrapped).where(k.owner_id == sid))
            blocked = conn.scalar(
                select(func.count()).where(
                    t.subject_blocks.c.subject_id == sid, t.subject_blocks.c.kind == "restriction"
                )
            )
            personal = sum(
                int(conn.scalar(select(func.count()).select_from(tab).where(tab.c.subject_id == sid)) or 0)
                for tab in (t.consent_events, t.messages)
            )
            if (
                fields != sorted(receipts[sid]["fields_held"])
                or key is None
                or key == old_keys[sid]
                or not blocked
                or personal
            ):
                raise SystemExit(f"erasure with an order: subject {sid} holds {fields}, receipt {receipts[sid]}")
    hubspot = _hubspot_deletes(rt) - hubspot_before
    grown = {name: after[name] - before[name] for name in before}
    want_subjects = -len(full)
    want_keys = -len(full) - len(erased_keys) + len(kept) + hubspot
    if grown["subjects"] != want_subjects or grown["data_keys"] != want_keys:
        raise SystemExit(
            f"erasure: subjects changed by {grown['subjects']} (expected {want_subjects}), data keys by"
            f" {grown['data_keys']} (expected {want_keys}: erased subjects, their requests' keys, answers kept,"
            " HubSpot deletions)"
        )
    return {
        "fully_erased": len(full),
        "erased_by_floor": len(floor_full),
        "with_order_held": len(held),
        "erasure_answers_kept": len(kept),
        "with_order_fully_erased": len(gone_orders),
        "hubspot_deletions_queued": hubspot,
        "left_marketing_audience": left_audience,
        "tables_grown": grown,
    }
