"""Builds (or reuses) a synthetic register of N subjects through the store's real write path.

Subjects come from `personvern.demo.generate` and are written in batches with `SqlSubjects.add` inside a unit
of work, with the audit entries the import writes. Values are normalised by a fast path instead of the
import's validators (phonenumbers and email-validator cost ~70 µs a subject); every SAMPLE_EVERY-th subject is
also run through the import's own `check_values`, and the loader stops if the two disagree. After loading, a
sample is read back through the real read path and compared with what the import would have stored.

Relationships, consent events (about 40 % of subjects; some withdrawn, some given again), objections and
restrictions are written straight into their tables with BulkInsert, each with an audit entry; so are the SMS
sent (message log and delivered outbox rows) and what HubSpot was sent (delivered `hubspot.upsert` /
`hubspot.unsubscribe` rows), in the formats the store writes them. A few subjects have an answered access request,
written through SqlRequests.add (its identity sealed under a key of its own). The register is
cached per size: bench/.data/pv_bench_N.db on SQLite, database pv_bench_N on PostgreSQL; a table bench_meta
in it records how it was built and how long that took.

Run alone: python -m bench.load --subjects 100000 [--postgres URL] [--rebuild]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from importlib import resources
from itertools import islice
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, create_engine, func, select, text

from bench.common import NOW, TODAY, Backend, register_name
from personvern.bootstrap import Runtime, initialise, open_runtime
from personvern.demo import SyntheticSubject, generate
from personvern.domain import requests as rq
from personvern.domain.audit import AuditEvent
from personvern.domain.requests import Channel, Request, RequestState, RequestType, Verification
from personvern.domain.subjects import Subject, check_values
from personvern.domain.values import lookup_key
from personvern.policy.schema import FieldType
from personvern.services.ports import Lookup
from personvern.services.register import _created, new_id
from personvern.store import tables as t
from personvern.store.bulk import BulkInsert
from personvern.store.crypto import seal

LOADER_VERSION = 3  # bump when the data written changes: cached registers of another version are rebuilt
SEED = 24
BATCH = 5_000  # subjects per SqlSubjects.add, as the import's batches
COMMIT_EVERY = 50_000  # subjects per transaction
SAMPLE_EVERY = 97  # every 97th subject is also validated by the import's own check_values
READ_BACK = 2_000  # at most this many sampled subjects are read back and compared after loading

CONSENT_SHARE = 0.40
WITHDRAWN_SHARE = 0.15  # of given consents, later withdrawn
REGIVEN_SHARE = 0.20  # of withdrawn consents, given again later
OBJECTION_SHARE = 0.015  # of consenting subjects: objected to marketing after consenting (blocked)
OBJECTION_LIFTED_SHARE = 0.005  # of consenting subjects: objected, then gave a fresh consent (lifted)
OBJECTION_ONLY_SHARE = 0.003  # of other subjects: objected without ever consenting
RESTRICTED_SHARE = 0.004  # of all subjects: processing restricted now
RESTRICTION_LIFTED_SHARE = 0.002  # of all subjects: restricted once, lifted since
METHODS = ("web", "web", "web", "phone", "paper", "import")
CHANNEL_SETS = ((0.45, ("sms",)), (0.70, ("email",)), (1.0, ("sms", "email")))
SERVICE_SMS_SHARE = 0.30  # of subjects with an order or contract: 1-3 service SMS
MARKETING_SMS_SHARE = 0.30  # of subjects with SMS marketing consent in force: 1-2 marketing SMS
REQUEST_SHARE = 0.005  # of all subjects: one access request, answered
KEEP_TEXT = timedelta(days=90)  # the bundled policy's [messages] keep_text: older texts are forgotten
SERVICE_TEXTS = ("Nøkkelkortet ditt er klart i resepsjonen.", "Møterommet ditt er booket i morgen kl. 14.")
MARKETING_TEXT = "Kontorplass ledig fra 1. mars! Svar STOPP for å melde deg av"

# ---------------------------------------------------------------- fast normalisation

_NOT_DIGIT = re.compile(r"\D")


def _phone(value: str) -> str:
    digits = _NOT_DIGIT.sub("", value)
    if digits.startswith("0047"):
        digits = digits[4:]
    elif len(digits) == 10 and digits.startswith("47"):
        digits = digits[2:]
    return "+47" + digits


def _email(value: str) -> str:
    local, _, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def _digits(value: str) -> str:
    return _NOT_DIGIT.sub("", value)


def _address(value: str) -> str:
    return unicodedata.normalize("NFC", value).strip()


def _text(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


FAST: dict[FieldType, Callable[[str], str]] = {
    FieldType.PHONE: _phone,
    FieldType.EMAIL: _email,
    FieldType.ORGANISATION_NUMBER: _digits,
    FieldType.NATIONAL_ID: _digits,
    FieldType.ADDRESS: _address,
}

# ---------------------------------------------------------------- the loader


@dataclass
class Expected:
    """What the loader wrote, counted as it went: the checks afterwards compare the database with it."""

    subjects: int = 0
    relationships: int = 0
    relationship_ends: int = 0
    consent_events: int = 0
    blocks: int = 0
    audit_entries: int = 0
    lookups: int = 0
    messages: int = 0
    outbox: int = 0
    requests: int = 0
    audience: dict[str, int] = field(default_factory=lambda: {"sms": 0, "email": 0})
    sampled: int = 0


@dataclass
class Sample:
    kind: str
    values: dict[str, str]
    relationships: list[tuple[str, Any, Any, Any, str]]  # type, started_on, ends_on, ended_on, description
    messages: int = 0
    outbox: int = 0
    requests: int = 0
    texts: dict[str, str | None] = field(default_factory=dict)  # message id -> its text, None once forgotten


MESSAGE_COLUMNS = (
    "id",
    "subject_id",
    "outbox_id",
    "channel",
    "purpose",
    "created_at",
    "segments",
    "encoding",
    "text_ct",
    "vendor_message_id",
    "status",
    "result_code",
    "status_text",
    "updated_at",
)
OUTBOX_COLUMNS = (
    "id",
    "kind",
    "subject_id",
    "idempotency_key",
    "payload",
    "state",
    "attempts",
    "next_attempt_at",
    "lease_until",
    "last_error",
    "result",
    "created_at",
    "delivered_at",
)


@dataclass
class Traffic:
    """One batch's message log and outbox rows, written in bulk."""

    messages: list[tuple[Any, ...]] = field(default_factory=list)
    outbox: list[tuple[Any, ...]] = field(default_factory=list)


def _delivered_row(
    oid: str,
    kind: str,
    sid: str,
    public: dict[str, Any],
    result: dict[str, Any],
    at: datetime,
    done: datetime,
    bulk: BulkInsert,
) -> tuple[Any, ...]:
    """An outbox row as SqlOutbox.mark_delivered leaves it: public part only (its key is gone), the answer kept."""
    payload = json.dumps({"public": public}, ensure_ascii=False)
    result_json = json.dumps(result, ensure_ascii=False)
    return (oid, kind, sid, oid, payload, "delivered", 1, bulk.instant(at), None, None, result_json,
            bulk.instant(at), bulk.instant(done))  # fmt: skip


class Loader:
    def __init__(self, runtime: Runtime, seed: int) -> None:
        self.runtime = runtime
        self.policy = runtime.policy.policy
        self.notice = runtime.policy.sha256
        self.rng = random.Random(seed * 7919 + 1)  # consent histories: apart from the generator's own stream
        self.expected = Expected()
        self.samples: dict[str, Sample] = {}
        self.types = {name: spec.type for name, spec in self.policy.fields.items()}
        self.lookup_fields = [name for name, spec in self.policy.fields.items() if spec.lookup]
        self.details: dict[tuple[Any, ...], Any] = {}
        self.index = 0
        self.traffic_rng = random.Random(seed * 104_729 + 3)  # SMS and requests: a stream of their own
        hubspot = self.policy.recipients.get("hubspot")
        self.hubspot_fields = list(hubspot.fields) if hubspot is not None else []
        self.hubspot_ids = 0

    def write(self, uow: Any, conn: Connection, fakes: list[SyntheticSubject]) -> None:
        """One batch: subjects through SqlSubjects.add, then relationships, consents and blocks in bulk."""
        subjects: list[Subject] = []
        events: list[AuditEvent] = []
        for fake in fakes:
            types = self.types
            values = {name: FAST.get(types[name], _text)(raw) for name, raw in fake.values.items()}
            sid = new_id()
            if self.index % SAMPLE_EVERY == 0:
                self._check_normalisation(fake, values)
                self.samples[sid] = Sample(fake.kind, values, [])
            self.index += 1
            at = fake.received_at
            subject = Subject(sid, fake.kind, values, "import", at, at, at)
            subjects.append(subject)
            reasons = {k: v for k, v in fake.reasons.items() if k in values}
            key = (fake.kind, tuple(sorted(values)), tuple(sorted(reasons.items())))
            details = self.details.get(key)
            if details is None:
                details = self.details[key] = _created(subject, reasons).details
            events.append(AuditEvent("subject.create", sid, "service", details))
            self.expected.lookups += sum(1 for name in self.lookup_fields if name in values)
        uow.subjects.add(subjects)
        self.expected.subjects += len(subjects)

        bulk = BulkInsert(conn)
        sqlite = conn.dialect.name == "sqlite"
        rel_rows: list[tuple[Any, ...]] = []
        consent_rows: list[tuple[Any, ...]] = []
        block_rows: list[tuple[Any, ...]] = []
        plans = []
        for subject, fake in zip(subjects, fakes, strict=True):
            history, objected, active = self._consents(
                subject.id, fake.received_at, bulk, consent_rows, block_rows, events
            )
            plans.append((subject, fake, history, objected, self._plan_sms(fake, history, active)))
        # Keys for what is sealed under the subject's own: relationship descriptions, texts not yet forgotten.
        need = [s.id for s, f, _, _, sms in plans if f.relationships or any(NOW - at <= KEEP_TEXT for _, at in sms)]
        keys = uow.keys.get(need)
        traffic = Traffic()
        for subject, fake, history, objected, sms in plans:
            sid = subject.id
            if fake.relationships:
                rel_rows.extend(self._relationships(sid, fake, keys[sid], events, sqlite))
            if sms:
                self._sms(sid, sms, keys.get(sid), bulk, traffic, events)
            if "email" in subject.values:
                self._hubspot(sid, subject.values, history, objected, bulk, traffic, events)
            if self.traffic_rng.random() < REQUEST_SHARE:
                self._request(uow, sid, fake.received_at, events)
        bulk(t.messages, MESSAGE_COLUMNS, traffic.messages)
        bulk(t.outbox, OUTBOX_COLUMNS, traffic.outbox)
        self.expected.messages += len(traffic.messages)
        self.expected.outbox += len(traffic.outbox)
        bulk(
            t.relationships,
            ("id", "subject_id", "type", "started_on", "ends_on", "ended_on", "description_ct"),
            rel_rows,
        )
        bulk(
            t.consent_events,
            (
                "id",
                "subject_id",
                "purpose",
                "channel",
                "action",
                "at",
                "method",
                "recorded_by",
                "role",
                "notice_sha256",
            ),
            consent_rows,
        )
        bulk(
            t.subject_blocks,
            (
                "id",
                "subject_id",
                "kind",
                "purpose",
                "set_at",
                "set_by",
                "reason",
                "lifted_at",
                "lifted_by",
                "lift_reason",
            ),
            block_rows,
        )
        self.expected.relationships += len(rel_rows)
        self.expected.consent_events += len(consent_rows)
        self.expected.blocks += len(block_rows)
        actor = self.runtime.actor
        uow.audit.append(events, actor.name, actor.role, NOW)
        self.expected.audit_entries += len(events)

    def _check_normalisation(self, fake: SyntheticSubject, values: dict[str, str]) -> None:
        checked = check_values(self.policy, fake.kind, fake.values, fake.reasons, complete=True)
        if checked.problems or checked.values != values:
            raise SystemExit(
                f"the fast normalisation differs from the import's for subject #{self.index}: "
                f"{checked.values} (import) vs {values} (loader); problems: {checked.problems}"
            )
        self.expected.sampled += 1

    def _plan_sms(
        self, fake: SyntheticSubject, history: list[tuple[str, str, datetime]], active: dict[str, bool]
    ) -> list[tuple[str, datetime]]:
        """(purpose, sent at) of the SMS this subject was sent: service SMS in the month after an order or a
        contract started; marketing SMS after the latest SMS consent, while it is in force."""
        rnd = self.traffic_rng.random
        limit = NOW - timedelta(minutes=1)
        sent: list[tuple[str, datetime]] = []
        if fake.relationships and rnd() < SERVICE_SMS_SHARE:
            for _ in range(1 + int(rnd() * 3)):
                rel = fake.relationships[int(rnd() * len(fake.relationships))]
                start = max(datetime.combine(rel.started_on, clock_time(9), UTC), fake.received_at)
                end = min(limit, start + timedelta(days=30))
                if end > start:
                    sent.append(("service", start + (end - start) * rnd()))
        if active.get("sms") and rnd() < MARKETING_SMS_SHARE:
            given = max(at for channel, action, at in history if channel == "sms" and action == "given")
            for _ in range(1 + int(rnd() * 2)):
                sent.append(("marketing", given + (limit - given) * rnd()))
        return sorted(sent, key=lambda x: x[1])

    def _sms(
        self,
        sid: str,
        sms: list[tuple[str, datetime]],
        key: bytes | None,
        bulk: BulkInsert,
        traffic: Traffic,
        events: list[AuditEvent],
    ) -> None:
        """Sent and delivered SMS: the message log (text sealed as SqlMessages seals it, or already forgotten)
        and its outbox row as delivery leaves it (public part only, the operator's answer)."""
        cipher = AESGCM(key) if key is not None else None
        sample = self.samples.get(sid)
        for purpose, at in sms:
            mid, oid = new_id(), new_id()
            vendor = f"lm-{oid[-12:]}"
            pick = int(self.traffic_rng.random() * len(SERVICE_TEXTS))
            text = MARKETING_TEXT if purpose == "marketing" else SERVICE_TEXTS[pick]
            kept = NOW - at <= KEEP_TEXT
            sealed = None
            if kept:
                assert cipher is not None
                sealed = seal(cipher, f"{sid}:message:{mid}", text)
            done = at + timedelta(seconds=3)
            traffic.messages.append(
                (mid, sid, oid, "sms", purpose, bulk.instant(at), 1, "GSM-7", sealed, vendor, "delivered", 1001,
                 None, bulk.instant(done))
            )  # fmt: skip
            public = {"message_id": mid, "purpose": purpose, "channel": "sms"}
            result = {"messageId": vendor, "resultCode": 1005}
            traffic.outbox.append(_delivered_row(oid, "sms", sid, public, result, at, done, bulk))
            events.append(
                AuditEvent("sms.send", sid, purpose, {"message": mid, "row": oid, "recipient": "linkmobility",
                           "fields": ["phone"], "encoding": "GSM-7", "segments": 1})
            )  # fmt: skip
            events.append(
                AuditEvent("outbox.deliver", sid, purpose, {"row": oid, "kind": "sms", "recipient": "linkmobility",
                           "attempt": 1})
            )  # fmt: skip
            if sample is not None:
                sample.messages += 1
                sample.outbox += 1
                sample.texts[mid] = text if kept else None

    def _hubspot(
        self,
        sid: str,
        values: dict[str, str],
        history: list[tuple[str, str, datetime]],
        objected: list[datetime],
        bulk: BulkInsert,
        traffic: Traffic,
        events: list[AuditEvent],
    ) -> None:
        """What services.processors queues for HubSpot, delivered: a share on each email marketing consent,
        an unsubscribe on each withdrawal and on an objection after it."""
        shares = [at for channel, action, at in history if channel == "email" and action == "given"]
        if not shares:
            return
        stops = [(at, "consent withdrawn") for channel, action, at in history
                 if channel == "email" and action == "withdrawn"]  # fmt: skip
        stops += [(at, "objection") for at in objected]
        contact = f"{self.hubspot_ids + 10_000_001}"
        self.hubspot_ids += 1
        fields = [f for f in self.hubspot_fields if f in values]
        sample = self.samples.get(sid)
        rows = [(at, "hubspot.upsert", "share") for at in shares] + [
            (at, "hubspot.unsubscribe", why) for at, why in stops
        ]
        for n, (at, kind, why) in enumerate(sorted(rows)):
            oid = new_id()
            if kind == "hubspot.upsert":
                public: dict[str, Any] = {"purpose": "marketing", "legal_basis": "consent", "fields": fields,
                                          "reason": why}  # fmt: skip
                if n:
                    public["hubspot_id"] = contact
                action = "processor.share"
                result: dict[str, Any] = {"hubspot_id": contact, "created": n == 0}
            else:
                public = {"purpose": "marketing", "fields": ["email"], "reason": why}
                action = "processor.unsubscribe"
                result = {"unsubscribed": True}
            done = at + timedelta(seconds=5)
            traffic.outbox.append(_delivered_row(oid, kind, sid, public, result, at, done, bulk))
            details = {"recipient": "hubspot", "row": oid, "kind": kind, "fields": list(public["fields"])}
            events.append(AuditEvent(action, sid, "marketing", details))
            events.append(
                AuditEvent("outbox.deliver", sid, "marketing", {"row": oid, "kind": kind, "recipient": "hubspot",
                           "attempt": 1})
            )  # fmt: skip
            if sample is not None:
                sample.outbox += 1

    def _request(self, uow: Any, sid: str, received_at: datetime, events: list[AuditEvent]) -> None:
        """An access request answered in the past, through SqlRequests.add (identity sealed under its own key)."""
        rnd = self.traffic_rng.random
        latest = NOW - timedelta(days=40)
        if latest <= received_at:
            return
        at = received_at + (latest - received_at) * rnd()
        tz = self.policy.controller.timezone
        day = rq.received_on(at, tz)
        done = at + timedelta(days=1 + int(rnd() * 20))
        request = Request(
            id=new_id(),
            type=RequestType.ACCESS,
            state=RequestState.COMPLETED,
            subject_id=sid,
            channel=Channel.EMAIL,
            language="nb",
            received_at=at,
            received_date=day,
            due_on=rq.answer_due(day),
            opened_by="bench",
            verified_at=at + timedelta(hours=2),
            verified_by="bench",
            verification_method=Verification.BANKID,
            closed_at=done,
            closed_by="bench",
            outcome={"held": True, "files": {"data.json": "0" * 64, "letter.html": "0" * 64}},
        )
        uow.requests.add(request, {"subject": sid}, None)
        audit = {"request": request.id, "type": "access"}
        events.append(AuditEvent("request.open", sid, None, {**audit, "channel": "email"}))
        events.append(AuditEvent("request.verify", sid, None, {"request": request.id, "method": "bankid"}))
        events.append(AuditEvent("request.fulfil", sid, None, {**audit, "held": True}))
        self.expected.requests += 1
        if sid in self.samples:
            self.samples[sid].requests += 1

    def _relationships(
        self, sid: str, fake: SyntheticSubject, key: bytes, events: list[AuditEvent], sqlite: bool
    ) -> Iterator[tuple[Any, ...]]:
        cipher = AESGCM(key)
        orders = [r.started_on for r in fake.relationships if r.type == "order"]
        # As the demo does: a one-time customer whose last order is over two years old asked a year after it.
        order_end = max(orders) + timedelta(days=365) if orders and (TODAY - max(orders)).days > 730 else None
        ended_ids = []
        for rel in fake.relationships:
            rid = new_id()
            ended_on = order_end if rel.type == "order" else None
            details = {"relationship": rid, "type": rel.type, "started_on": rel.started_on.isoformat()}
            if rel.ends_on:
                details["ends_on"] = rel.ends_on.isoformat()
            events.append(AuditEvent("relationship.start", sid, "service", details))
            if ended_on is not None:
                ended_ids.append(rid)
            if sid in self.samples:
                self.samples[sid].relationships.append(
                    (rel.type, rel.started_on, rel.ends_on, ended_on, rel.description)
                )
            yield (
                rid,
                sid,
                rel.type,
                _day(rel.started_on, sqlite),
                _day(rel.ends_on, sqlite),
                _day(ended_on, sqlite),
                seal(cipher, f"{sid}:relationship:{rid}", rel.description),
            )
        if ended_ids and order_end is not None:
            events.append(
                AuditEvent(
                    "relationship.end", sid, "service", {"relationships": ended_ids, "ended_on": order_end.isoformat()}
                )
            )
            self.expected.relationship_ends += 1

    def _consents(
        self,
        sid: str,
        received_at: datetime,
        bulk: BulkInsert,
        consent_rows: list[tuple[Any, ...]],
        block_rows: list[tuple[Any, ...]],
        events: list[AuditEvent],
    ) -> tuple[list[tuple[str, str, datetime]], list[datetime], dict[str, bool]]:
        """The subject's consent ledger and blocks; returns the events (channel, action, at), the times of
        objections after a consent, and the channels with marketing consent in force now."""
        rnd = self.rng.random
        limit = NOW - timedelta(minutes=1)
        history: list[tuple[str, str, datetime]] = []
        objections: list[datetime] = []

        def after(start: datetime, span: timedelta | None = None) -> datetime:
            end = limit if span is None else min(limit, start + span)
            room = max(0.0, (end - start).total_seconds() - 1)
            return start + timedelta(seconds=1 + int(rnd() * room))

        def consent(channel: str, action: str, at: datetime) -> None:
            method = METHODS[int(rnd() * len(METHODS))]
            row = (new_id(), sid, "marketing", channel, action, bulk.instant(at), method, "bench", "staff", self.notice)
            consent_rows.append(row)
            history.append((channel, action, at))
            what = "consent.give" if action == "given" else "consent.withdraw"
            events.append(AuditEvent(what, sid, "marketing", {"channel": channel, "method": method}))

        def block(kind: str, purpose: str | None, set_at: datetime, lifted_at: datetime | None) -> None:
            reason = "kunden protesterte på markedsføring" if kind == "objection" else "kunden bestrider opplysningene"
            lifted = None if lifted_at is None else bulk.instant(lifted_at)
            lift_by = None if lifted_at is None else "bench"
            lift_reason = None if lifted_at is None else "løftet etter ny avklaring med kunden"
            row = (new_id(), sid, kind, purpose, bulk.instant(set_at), "bench", reason, lifted, lift_by, lift_reason)
            block_rows.append(row)
            events.append(AuditEvent(f"{kind}.set", sid, purpose, {"kind": kind}))
            if lifted_at is not None:
                events.append(AuditEvent(f"{kind}.lift", sid, purpose, {"kind": kind}))

        active: dict[str, bool] = {}
        if rnd() < CONSENT_SHARE:
            u = rnd()
            channels = next(chosen for share, chosen in CHANNEL_SETS if u < share)
            last = received_at
            for channel in channels:
                given = after(received_at, timedelta(days=30))
                consent(channel, "given", given)
                state, last_at = True, given
                if rnd() < WITHDRAWN_SHARE:
                    last_at = after(given)
                    consent(channel, "withdrawn", last_at)
                    state = False
                    if rnd() < REGIVEN_SHARE:
                        last_at = after(last_at)
                        consent(channel, "given", last_at)
                        state = True
                active[channel] = state
                last = max(last, last_at)
            r = rnd()
            if r < OBJECTION_SHARE:
                objected = after(last)
                block("objection", "marketing", objected, None)
                objections.append(objected)
                active = {}
            elif r < OBJECTION_SHARE + OBJECTION_LIFTED_SHARE:
                objected = after(last)
                objections.append(objected)
                fresh = after(objected)
                block("objection", "marketing", objected, fresh)
                for channel in channels:  # the fresh consent, after the objection, for every channel
                    consent(channel, "given", fresh)
                    active[channel] = True
        elif rnd() < OBJECTION_ONLY_SHARE:
            block("objection", "marketing", after(received_at), None)
        r = rnd()
        if r < RESTRICTED_SHARE:
            block("restriction", None, after(received_at), None)
            active = {}
        elif r < RESTRICTED_SHARE + RESTRICTION_LIFTED_SHARE:
            set_at = after(received_at)
            block("restriction", None, set_at, after(set_at))
        for channel, state in active.items():
            if state:
                self.expected.audience[channel] += 1
        return history, objections, active


def _day(value: Any, sqlite: bool) -> Any:
    if value is None:
        return None
    return value.isoformat() if sqlite else value  # SQLAlchemy's Date type stores ISO text on SQLite


def _connection(uow: Any) -> Connection:
    # The unit of work's own connection: the bulk rows must join its transaction (SQLite has one writer).
    conn = uow._conn
    assert isinstance(conn, Connection)
    return conn


# ---------------------------------------------------------------- checks


def oracle_audience(conn: Connection, channel: str, among: list[str] | None = None) -> int:
    """The marketing audience counted the plain way, subject by subject, with correlated subqueries.

    `among`: count only these subjects (how many of them the audience holds).

    A subject is in it when its latest marketing event on the channel is 'given', no restriction is in force,
    and no objection to marketing is in force or was set at or after that latest event (issue 3's rule).
    """
    e, b, s = t.consent_events.c, t.subject_blocks.c, t.subjects.c
    latest = (
        select(e.action, e.at)
        .where(e.subject_id == s.id, e.purpose == "marketing", e.channel == channel)
        .order_by(e.at.desc(), e.id.desc())
        .limit(1)
    )
    latest_action = latest.with_only_columns(e.action).scalar_subquery()
    latest_at = latest.with_only_columns(e.at).scalar_subquery()
    blocked = (
        select(b.id)
        .where(
            b.subject_id == s.id,
            ((b.kind == "restriction") & b.lifted_at.is_(None))
            | (
                (b.kind == "objection") & (b.purpose == "marketing") & (b.lifted_at.is_(None) | (b.set_at >= latest_at))
            ),
        )
        .exists()
    )
    q = select(func.count()).select_from(t.subjects).where(latest_action == "given", ~blocked)
    if among is not None:
        return sum(int(conn.scalar(q.where(s.id.in_(among[i : i + 500]))) or 0) for i in range(0, len(among), 500))
    return int(conn.scalar(q) or 0)


def table_counts(conn: Connection) -> dict[str, int]:
    tables = (
        t.subjects,
        t.subject_values,
        t.lookups,
        t.data_keys,
        t.organisations,
        t.relationships,
        t.consent_events,
        t.subject_blocks,
        t.messages,
        t.outbox,
        t.requests,
        t.erasure_receipts,
        t.audit_log,
    )
    return {tab.name: int(conn.scalar(select(func.count()).select_from(tab)) or 0) for tab in tables}


def _check(runtime: Runtime, loader: Loader, before: dict[str, int], log: Callable[[str], None]) -> dict[str, Any]:
    """Compare the database with what was written, and a sample with what the real import would store."""
    exp = loader.expected
    with runtime.engine.connect() as conn:
        counts = table_counts(conn)
        oracle = {channel: oracle_audience(conn, channel) for channel in ("sms", "email")}
    wanted = {
        "subjects": exp.subjects,
        "lookups": exp.lookups,
        "data_keys": exp.subjects + exp.requests,  # a request's identity is sealed under a key of its own
        "relationships": exp.relationships,
        "messages": exp.messages,
        "outbox": exp.outbox,
        "requests": exp.requests,
        "consent_events": exp.consent_events,
        "subject_blocks": exp.blocks,
        "audit_log": before["audit_log"] + exp.audit_entries,
    }
    wrong = {name: (counts[name], n) for name, n in wanted.items() if counts[name] != n}
    if wrong:
        raise SystemExit(f"the loaded register does not hold what was written (found, expected): {wrong}")
    if oracle != exp.audience:
        raise SystemExit(f"the oracle audience {oracle} is not the one generated {exp.audience}")
    ids = list(loader.samples)
    step = max(1, len(ids) // READ_BACK)
    read = ids[::step]
    with runtime.uow() as uow:
        for sid in read:
            want = loader.samples[sid]
            got = uow.subjects.get(sid)
            if got is None or got.kind != want.kind or dict(got.values) != want.values:
                raise SystemExit(f"subject {sid} reads back as {got}, the import would store {want.values}")
            for name in ("email", "phone"):
                found = uow.subjects.find(Lookup(name, lookup_key(loader.types[name], want.values[name])))
                if found != [sid]:
                    raise SystemExit(f"subject {sid} is not found by its {name} ({found})")
            stored = uow.relationships.for_subject(sid)
            rels = [(r.type.value, r.started_on, r.ends_on, r.ended_on, r.description) for r in stored]
            if sorted(rels, key=repr) != sorted(want.relationships, key=repr):
                raise SystemExit(f"subject {sid}'s relationships read back as {rels}, written {want.relationships}")
            traffic = (
                len(uow.messages.for_subject(sid)),
                len(uow.outbox.for_subject(sid)),
                len(uow.requests.for_subject(sid)),
            )
            texts = {mid: uow.messages.text(mid) for mid in want.texts}
            if traffic != (want.messages, want.outbox, want.requests) or texts != want.texts:
                raise SystemExit(
                    f"subject {sid} reads back {traffic} messages, outbox rows, requests and texts {texts};"
                    f" written {(want.messages, want.outbox, want.requests)} and {want.texts}"
                )
    log(f"  checked: table counts, audience oracle {oracle}, {exp.sampled} normalised samples, {len(read)} read back")
    return {"counts": counts, "oracle_audience": oracle, "normalisation_samples": exp.sampled, "read_back": len(read)}


# ---------------------------------------------------------------- cache


META = "bench_meta"


def schema_fingerprint(up_to: str | None = None) -> str:
    """A hash of the migrations up to revision `up_to` (default: all); a migration edited in place (same
    revision id) changes it and forces a rebuild, while a migration added later is applied in place."""
    folder = resources.files("personvern.store.migrations") / "versions"
    digest = hashlib.sha256()
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py"):
            if up_to is not None and entry.name[:1].isdigit() and entry.name.split("_", 1)[0] > up_to:
                continue
            digest.update(entry.name.encode() + b"\0" + entry.read_bytes())
    return digest.hexdigest()[:16]


def read_meta(backend: Backend, database: str) -> dict[str, Any] | None:
    if not backend.exists(database) or not backend.key_file(database).exists():
        return None
    engine = create_engine(backend.url(database))
    try:
        with engine.connect() as conn:
            row = conn.execute(text(f"SELECT value FROM {META} WHERE key = 'load'")).first()
    except Exception:
        return None
    finally:
        engine.dispose()
    return json.loads(row[0]) if row else None


def _write_meta(runtime: Runtime, meta: dict[str, Any]) -> None:
    with runtime.engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE IF NOT EXISTS {META} (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)"))
        conn.execute(text(f"DELETE FROM {META} WHERE key = 'load'"))
        conn.execute(text(f"INSERT INTO {META} (key, value) VALUES ('load', :v)"), {"v": json.dumps(meta)})


def note_erasures(runtime: Runtime, meta: dict[str, Any], erased: int, left_audience: dict[str, int]) -> None:
    """The benchmark erased `erased` subjects, `left_audience[channel]` of them in the marketing audience:
    the cached register's record of what it holds follows, so the audience check stays exact on later runs."""
    audience = dict(meta.get("expected_audience", {}))
    for channel, n in left_audience.items():
        audience[channel] = audience.get(channel, 0) - n
    meta["expected_audience"] = audience
    meta["erased_by_bench"] = int(meta.get("erased_by_bench", 0)) + erased
    stored = {k: v for k, v in meta.items() if k != "reused"}
    _write_meta(runtime, stored)


def ensure_register(
    backend: Backend, subjects: int, seed: int = SEED, rebuild: bool = False, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """The cached register of this size, built first if it is missing, incomplete or of an older loader."""
    database = register_name(subjects)
    meta = None if rebuild else read_meta(backend, database)
    fresh = meta is not None and meta.get("loader_version") == LOADER_VERSION and meta.get("subjects") == subjects
    if meta and fresh and meta.get("schema") != schema_fingerprint(meta.get("schema_revision")):
        log(f"{backend.name}: the migrations changed since {database} was built; building it again")
        fresh = False
    if meta and fresh:
        # Bring the schema up to date in place (a migration added since the register was built).
        runtime, report = initialise(backend.settings(database))
        # Synthetic people, measured on a moved clock: a simulation register, also if built before the flag was.
        with runtime.engine.begin() as conn:
            conn.execute(t.installation.update().values(simulation=True))
        runtime.close()
        log(f"{backend.name}: reusing {database} (loaded in {meta['load_seconds']:.1f} s on {meta['loaded_on']})")
        # Recorded as now upgraded (note_erasures writes it back), so the next run checks the new migrations too.
        upgraded = {"schema_revision": report.revision, "schema": schema_fingerprint(report.revision)}
        return {**meta, "reused": True, **upgraded}
    return build_register(backend, subjects, seed, log)


def build_register(backend: Backend, subjects: int, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    database = register_name(subjects)
    log(f"{backend.name}: building {database} ({subjects} subjects, seed {seed})")
    backend.create(database)
    started = time.perf_counter()
    runtime, report = initialise(backend.settings(database))
    try:
        with runtime.engine.connect() as conn:
            before = table_counts(conn)
        loader = Loader(runtime, seed)
        fakes = generate(subjects, seed=seed, today=TODAY)
        done = 0
        while done < subjects:
            with runtime.uow() as uow:
                conn = _connection(uow)
                for _ in range(COMMIT_EVERY // BATCH):
                    batch = list(islice(fakes, BATCH))
                    if not batch:
                        break
                    loader.write(uow, conn, batch)
                    done += len(batch)
                uow.commit()
            rate = done / (time.perf_counter() - started)
            log(f"  {done:>9} subjects, {rate:,.0f} subjects/s")
        write_seconds = time.perf_counter() - started
        _settle(runtime)
        load_seconds = time.perf_counter() - started
    finally:
        runtime.close()
    runtime = open_runtime(backend.settings(database))
    try:
        checks = _check(runtime, loader, before, log)
        meta = {
            "loader_version": LOADER_VERSION,
            "subjects": subjects,
            "seed": seed,
            "load_seconds": round(load_seconds, 2),
            "write_seconds": round(write_seconds, 2),
            "subjects_per_second": round(subjects / load_seconds),
            "loaded_on": datetime.now(UTC).isoformat(timespec="seconds"),
            "schema_revision": report.revision,
            "schema": schema_fingerprint(report.revision),
            "expected_audience": loader.expected.audience,
            "relationship_ends": loader.expected.relationship_ends,
            **checks,
        }
        _write_meta(runtime, meta)
    finally:
        runtime.close()
    log(f"  loaded in {load_seconds:.1f} s ({subjects / load_seconds:,.0f} subjects/s)")
    return {**meta, "reused": False}


def _settle(runtime: Runtime) -> None:
    """What a loaded database gets anyway: PostgreSQL's autovacuum analyses it; SQLite folds its WAL back."""
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        raw = runtime.engine.raw_connection()  # outside a transaction: the engine begins each one IMMEDIATE
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL: build pv_bench_N there instead of SQLite")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--rebuild", action="store_true", help="build even if a cached register exists")
    args = parser.parse_args(argv)
    backend = Backend("postgresql", args.postgres) if args.postgres else Backend("sqlite")
    meta = ensure_register(backend, args.subjects, args.seed, args.rebuild)
    print(json.dumps(meta, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
