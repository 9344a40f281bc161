"""SQL implementations of the service ports; values are sealed on the way in and opened on the way out."""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, DateTime, Row, String, delete, false, func, insert, or_, select, type_coerce, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError

from personvern.domain.audit import (
    SWITCH_ACTION,
    AuditEntry,
    AuditEvent,
    AuditQuery,
    ChainReport,
    ChainStart,
    anchor,
    canonical_details,
    entry_hash,
    head_mac,
    verify_chain,
)
from personvern.domain.errors import Conflict, IntegrityBroken, NotFound, NotReady
from personvern.domain.retention import Schedule
from personvern.domain.subjects import Relationship, RelationshipType, Subject
from personvern.domain.values import lookup_key
from personvern.policy.schema import Policy
from personvern.services.ports import Lookup, PolicyRecord
from personvern.store import tables as t
from personvern.store.bulk import COPY_FROM, BulkInsert
from personvern.store.crypto import Vault, open_sealed, seal
from personvern.store.ids import among
from personvern.store.people import People, relationship_rows

CHUNK = 500  # bound on the number of parameters in one IN (...) list
INDEX_PAGE = 2000  # subjects per step when a field's blind index is built from the values held


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# The retention schedule's columns on `subjects` (besides `retention_at`, when it was computed). Both writers,
# the bulk insert of new subjects and `SqlRetention.save`, store a Schedule through `schedule_values`.
SCHEDULE_COLUMNS = ("retain_until", "retain_action", "retain_rule", "hold_until", "hold_fields")


def schedule_values(s: Schedule) -> tuple[Any, ...]:
    """A schedule as the values of SCHEDULE_COLUMNS (the held fields comma-separated, as `_schedule` reads them)."""
    held = ",".join(sorted(s.hold_fields)) if s.hold_fields is not None else None
    return (s.retain_until, s.action.value, s.rule, s.hold_until, held)


class KeyStore:
    """Per-subject data keys, wrapped by the master key. Deleting a key makes the subject's values unreadable."""

    def __init__(self, conn: Connection, vault: Vault, people: People | None = None) -> None:
        self._conn = conn
        self._vault = vault
        self._people = people

    def create(self, owners: Sequence[str], at: datetime) -> dict[str, bytes]:
        keys = {owner: self._vault.new_data_key() for owner in owners}
        bulk = BulkInsert(self._conn)
        stamp = bulk.instant(at)
        key_id = self._vault.key_id
        bulk(
            t.data_keys,
            ("owner_id", "wrapped", "master_key_id", "created_at"),
            [(o, self._vault.wrap(o, k), key_id, stamp) for o, k in keys.items()],
        )
        return keys

    def new(self, owner: str, at: datetime) -> tuple[bytes, dict[str, Any]]:
        """A fresh data key for `owner` and the `data_keys` row that stores it wrapped, for the caller to insert
        with its own row (one statement on PostgreSQL)."""
        key = self._vault.new_data_key()
        row = {"owner_id": owner, "wrapped": self._vault.wrap(owner, key), "master_key_id": self._vault.key_id,
               "created_at": at}  # fmt: skip
        return key, row

    def get(self, owners: Sequence[str]) -> dict[str, bytes]:
        one = self._people.one(owners) if self._people is not None else None
        if one is not None:
            person = self._people.cached(one)  # type: ignore[union-attr]
            if person is not None and person.wrapped is not None:
                return {one: self._vault.unwrap(one, person.wrapped)}
        found: dict[str, bytes] = {}
        for chunk in _chunks(list(owners)):
            rows = self._conn.execute(
                select(t.data_keys.c.owner_id, t.data_keys.c.wrapped).where(
                    among(self._conn, t.data_keys.c.owner_id, chunk)
                )
            )
            for owner, wrapped in rows:
                found[owner] = self._vault.unwrap(owner, wrapped)
        return found

    def cipher(self, owner: str) -> AESGCM:
        """The cipher of one owner's data key; a live owner without a key is damage, not a missing row."""
        key = self.get([owner]).get(owner)
        if key is None:
            raise IntegrityBroken(f"{owner} has no data key")
        return AESGCM(key)

    def delete(self, owner: str) -> None:
        self._conn.execute(delete(t.data_keys).where(t.data_keys.c.owner_id == owner))

    def delete_many(self, owners: Sequence[str]) -> None:
        for chunk in _chunks(list(owners)):
            self._conn.execute(delete(t.data_keys).where(among(self._conn, t.data_keys.c.owner_id, chunk)))

    def sweep_orphans(self) -> int:
        """Delete every key whose owner is nowhere in the register any more; how many went.

        A key is written before its owner's rows and deleted before them; on SQLite the key store is a file of
        its own, and a crash between the two files' commits can leave a key behind (store/engine.py). Owners:
        every kind that KeyStore's callers create a key for (OWNER_IDS).
        """
        k = t.data_keys
        owned = [select(column).where(column == k.c.owner_id).exists() for column in OWNER_IDS]
        return int(self._conn.execute(delete(k).where(~or_(*owned))).rowcount or 0)

    def keyless_subjects(self) -> int:
        """Subjects whose key is missing: their values open no more (erased in effect); counted, never guessed at."""
        k = t.data_keys
        has_key = select(k.c.owner_id).where(k.c.owner_id == t.subjects.c.id).exists()
        return int(self._conn.execute(select(func.count()).select_from(t.subjects).where(~has_key)).scalar_one())


# Every owner kind of a data key (grep KeyStore's callers): subjects; outbox rows with a personal part; requests
# with sealed parts; requests made on the public page; archived records.
OWNER_IDS = (t.subjects.c.id, t.outbox.c.id, t.requests.c.id, t.public_requests.c.id, t.archive_records.c.id)


class SqlSubjects:
    def __init__(self, conn: Connection, vault: Vault, keys: KeyStore, policy: Policy, people: People) -> None:
        self._conn = conn
        self._vault = vault
        self._keys = keys
        self._policy = policy
        self._people = people

    # -- writing
    def add(self, subjects: Sequence[Subject], schedules: Mapping[str, Schedule] | None = None) -> None:
        if not subjects:
            return
        at = subjects[0].created_at
        schedules = schedules or {}
        keys = self._keys.create([s.id for s in subjects], at)
        orgs = self._organisations([s for s in subjects], at)
        bulk = BulkInsert(self._conn)
        subject_rows, value_rows, lookup_rows = [], [], []
        unscheduled = (None,) * (len(SCHEDULE_COLUMNS) + 1)

        @cache  # subjects added together share a few schedules: each adapted once
        def stored(sch: Schedule) -> tuple[Any, ...]:
            until, action, rule, hold_until, held = schedule_values(sch)
            return (bulk.day(until), action, rule, bulk.day(hold_until), held, bulk.instant(at))

        for s in subjects:
            sch = schedules.get(s.id)
            subject_rows.append(
                (
                    s.id,
                    s.kind,
                    s.source,
                    bulk.instant(s.received_at),
                    bulk.instant(s.created_at),
                    bulk.instant(s.updated_at),
                    orgs.get(s.id),
                    *(unscheduled if sch is None else stored(sch)),
                )
            )
            cipher = AESGCM(keys[s.id])
            for name, value in s.values.items():
                value_rows.append((s.id, name, seal(cipher, f"{s.id}:{name}", value)))
            for row in self._lookup_rows(s.id, s.values):
                lookup_rows.append((s.id, row["field"], row["digest"], bulk.flag(row["is_unique"])))
        bulk(
            t.subjects,
            (
                "id",
                "kind",
                "source",
                "received_at",
                "created_at",
                "updated_at",
                "organisation_id",
                *SCHEDULE_COLUMNS,
                "retention_at",
            ),
            subject_rows,
        )
        bulk(t.subject_values, ("subject_id", "field", "ciphertext"), value_rows)
        # The first day the register holds data: the annual review is owed from that year on.
        i = t.installation.c
        self._conn.execute(
            update(t.installation)
            .where(i.id == 1, or_(i.first_data_at.is_(None), i.first_data_at > at))
            .values(first_data_at=at)
        )
        try:
            bulk(t.lookups, ("subject_id", "field", "digest", "is_unique"), lookup_rows)
        except IntegrityError:
            # The unique index: a value that identifies a person is already held by another subject.
            raise Conflict("a unique value (email, phone or national id) is already in the register") from None

    def _lookup_rows(self, subject_id: str, values: dict[str, str] | Any) -> list[dict[str, Any]]:
        rows = []
        for name, value in values.items():
            spec = self._policy.fields[name]
            if spec.lookup:
                digest = self._vault.blind(name, lookup_key(spec.type, value))
                rows.append({"field": name, "digest": digest, "subject_id": subject_id, "is_unique": spec.unique})
        return rows

    def _organisations(self, subjects: Sequence[Subject], at: datetime) -> dict[str, str]:
        """Link business subjects to their organisation (by organisation number), creating it when new."""
        wanted: dict[str, bytes] = {}
        for s in subjects:
            number = s.values.get("organisation_number")
            if number is not None and self._policy.kinds[s.kind].business:
                wanted[s.id] = self._vault.blind("organisation", number)
        if not wanted:
            return {}
        digests = sorted(set(wanted.values()))
        known: dict[bytes, str] = {}
        for chunk in _chunks(digests):
            rows = self._conn.execute(
                select(t.organisations.c.number_digest, t.organisations.c.id).where(
                    t.organisations.c.number_digest.in_(chunk)
                )
            )
            known.update({bytes(d): i for d, i in rows})
        new = [d for d in digests if d not in known]
        if new:
            created = {d: uuid.uuid4().hex for d in new}
            self._conn.execute(
                insert(t.organisations), [{"id": i, "number_digest": d, "created_at": at} for d, i in created.items()]
            )
            known.update(created)
        return {sid: known[d] for sid, d in wanted.items()}

    def update(self, subject: Subject, changed: Collection[str], removed: Collection[str]) -> None:
        touched = list(changed) + list(removed)
        if touched:
            self._conn.execute(
                delete(t.subject_values).where(
                    t.subject_values.c.subject_id == subject.id, t.subject_values.c.field.in_(touched)
                )
            )
            self._conn.execute(
                delete(t.lookups).where(t.lookups.c.subject_id == subject.id, t.lookups.c.field.in_(touched))
            )
        if changed:
            cipher = self._keys.cipher(subject.id)
            fresh = {name: subject.values[name] for name in changed}
            self._conn.execute(
                insert(t.subject_values),
                [
                    {"subject_id": subject.id, "field": n, "ciphertext": seal(cipher, f"{subject.id}:{n}", v)}
                    for n, v in fresh.items()
                ],
            )
            rows = self._lookup_rows(subject.id, fresh)
            if rows:
                self._conn.execute(insert(t.lookups), rows)
        values: dict[str, Any] = {"updated_at": subject.updated_at}
        if "organisation_number" in touched:
            values["organisation_id"] = self._organisations([subject], subject.updated_at).get(subject.id)
        self._conn.execute(update(t.subjects).where(t.subjects.c.id == subject.id).values(**values))
        if "organisation_number" in touched:
            self._drop_if_orphan(subject.organisation_id)

    def stored_fields(self) -> set[tuple[str, str]]:
        q = (
            select(t.subjects.c.kind, t.subject_values.c.field)
            .join(t.subject_values, t.subject_values.c.subject_id == t.subjects.c.id)
            .distinct()
        )
        return {(kind, field) for kind, field in self._conn.execute(q)}

    def erase(self, subject_id: str) -> None:
        self.erase_many([subject_id])

    def erase_many(self, subject_ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(subject_ids))
        organisations: set[str] = set()
        chunks = [list(chunk) for chunk in _chunks(ids)]
        one = self._people.one(ids)
        person = self._people.cached(one) if one is not None else None
        for chunk in chunks:
            if person is not None:  # read in this transaction already
                if person.subject is None:
                    raise NotFound(f"no subject with id {one} in the register")
                if person.subject.organisation_id is not None:
                    organisations.add(person.subject.organisation_id)
                continue
            found = dict(
                self._conn.execute(
                    select(t.subjects.c.id, t.subjects.c.organisation_id).where(
                        among(self._conn, t.subjects.c.id, chunk)
                    )
                ).all()
            )
            missing = [sid for sid in chunk if sid not in found]
            if missing:
                raise NotFound(f"no subject with id {missing[0]} in the register")
            organisations.update(org for org in found.values() if org is not None)
        if one is not None and self._conn.dialect.name == "postgresql":
            self._erase_one(one, organisations)
            return
        for chunk in chunks:
            # The data keys first: without them nothing of these people can be decrypted again (crypto-shredding),
            # and a key is deleted before its rows (the key store is apart: store/engine.py).
            self._keys.delete_many(chunk)
            # Belt and braces where a database ignores ON DELETE CASCADE: the values go explicitly too.
            # (Consent events, blocks and messages go by the cascade, as they always did.)
            for table in (t.subject_values, t.lookups, t.relationships):
                self._conn.execute(delete(table).where(among(self._conn, table.c.subject_id, chunk)))
            self._conn.execute(delete(t.subjects).where(among(self._conn, t.subjects.c.id, chunk)))
        self._drop_orphans(organisations)

    def _erase_one(self, subject_id: str, organisations: set[str]) -> None:
        """One person erased on PostgreSQL in one statement (one round trip): the subject row, whose foreign keys
        take its values, look-ups, relationships, consent events, messages and blocks with it (PostgreSQL always
        enforces them: a missing cascade would refuse the delete, not leave rows behind); its data key
        (crypto-shredding); its organisation if no one else belongs to it."""
        s, o = t.subjects, t.organisations
        gone = delete(s).where(s.c.id == subject_id).returning(s.c.id).cte("gone")
        key = delete(t.data_keys).where(t.data_keys.c.owner_id == subject_id).cte("gone_key")
        # The statement's reads see the register before it: the subject erased still counts as a member here.
        member = select(s.c.id).where(s.c.organisation_id == o.c.id, s.c.id != subject_id).exists()
        self._conn.execute(delete(o).where(o.c.id.in_(sorted(organisations)), ~member).add_cte(gone, key))

    def shred(self, subject_id: str, keep: Collection[str], at: datetime) -> None:
        subject = self.get(subject_id)
        if subject is None:
            raise NotFound(f"no subject with id {subject_id} in the register")
        kept = {name: value for name, value in subject.values.items() if name in keep}
        old = self._keys.cipher(subject_id)
        descriptions = {
            rid: open_sealed(old, f"{subject_id}:relationship:{rid}", blob)
            for rid, blob in self._conn.execute(
                select(t.relationships.c.id, t.relationships.c.description_ct).where(
                    t.relationships.c.subject_id == subject_id, t.relationships.c.description_ct.is_not(None)
                )
            )
        }
        # What the person's consent, messages and blocks said is not bookkeeping: it goes with the rest.
        for table in (t.consent_events, t.messages, t.subject_blocks):
            self._conn.execute(delete(table).where(table.c.subject_id == subject_id))
        self._conn.execute(delete(t.subject_values).where(t.subject_values.c.subject_id == subject_id))
        self._conn.execute(
            delete(t.lookups).where(t.lookups.c.subject_id == subject_id, t.lookups.c.field.not_in(kept))
        )
        # A fresh key for what stays: the old one goes from the database (not from backups taken before).
        self._keys.delete(subject_id)
        cipher = AESGCM(self._keys.create([subject_id], at)[subject_id])
        if kept:
            self._conn.execute(
                insert(t.subject_values),
                [
                    {"subject_id": subject_id, "field": n, "ciphertext": seal(cipher, f"{subject_id}:{n}", v)}
                    for n, v in kept.items()
                ],
            )
        for rid, text in descriptions.items():
            self._conn.execute(
                update(t.relationships)
                .where(t.relationships.c.id == rid)
                .values(description_ct=seal(cipher, f"{subject_id}:relationship:{rid}", text))
            )
        values: dict[str, Any] = {"updated_at": at}
        if "organisation_number" not in kept:
            values["organisation_id"] = None
        self._conn.execute(update(t.subjects).where(t.subjects.c.id == subject_id).values(**values))
        if "organisation_id" in values:
            self._drop_if_orphan(subject.organisation_id)

    def _drop_if_orphan(self, organisation_id: str | None) -> None:
        if organisation_id is not None:
            self._drop_orphans([organisation_id])

    def _drop_orphans(self, organisation_ids: Collection[str]) -> None:
        """Forget the organisations no subject belongs to any more; by their ids, so no walk over the register."""
        o = t.organisations.c
        member = select(t.subjects.c.id).where(t.subjects.c.organisation_id == o.id).exists()
        for chunk in _chunks(sorted(organisation_ids)):
            self._conn.execute(delete(t.organisations).where(among(self._conn, o.id, chunk), ~member))

    # -- reading
    def get(self, subject_id: str) -> Subject | None:
        found = self.get_many([subject_id])
        return found[0] if found else None

    def exists(self, subject_id: str) -> bool:
        # The whole person, read once: what follows a check that someone exists is reading or deciding on them.
        return self._people.get(subject_id).subject is not None

    def lock(self, subject_ids: Collection[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(subject_ids)):
            q = select(t.subjects.c.id).where(among(self._conn, t.subjects.c.id, chunk)).with_for_update()
            found.update(self._conn.scalars(q))
        return found

    def get_many(self, subject_ids: Sequence[str], fields: Collection[str] | None = None) -> list[Subject]:
        one = self._people.one(subject_ids)
        if one is not None:
            return self._one(one, fields)
        rows: dict[str, Any] = {}
        for chunk in _chunks(list(subject_ids)):
            for row in self._conn.execute(select(t.subjects).where(among(self._conn, t.subjects.c.id, chunk))):
                rows[row.id] = row
        if not rows:
            return []
        wanted = set(subject_ids)
        keys = self._keys.get(list(rows))
        values: dict[str, dict[str, str]] = {sid: {} for sid in rows}
        ciphers = {sid: AESGCM(key) for sid, key in keys.items()}
        for chunk in _chunks(list(rows)):
            q = select(t.subject_values).where(among(self._conn, t.subject_values.c.subject_id, chunk))
            if fields is not None:
                # Only what the caller needs is decrypted (Art. 5(1)(c), 32): an archive keeps a few fields.
                q = q.where(t.subject_values.c.field.in_(sorted(fields)))
            for sid, name, blob in self._conn.execute(q):
                values[sid][name] = open_sealed(ciphers[sid], f"{sid}:{name}", blob)
        return [
            Subject(
                r.id,
                r.kind,
                values[r.id],
                r.source,
                r.received_at,
                r.created_at,
                r.updated_at,
                r.organisation_id,
            )
            for sid, r in rows.items()
            if sid in wanted
        ]

    def _one(self, subject_id: str, fields: Collection[str] | None) -> list[Subject]:
        person = self._people.get(subject_id)
        r = person.subject
        if r is None:
            return []
        values: dict[str, str] = {}
        wanted = person.values if fields is None else {n: b for n, b in person.values.items() if n in fields}
        if wanted:
            if person.wrapped is None:
                raise IntegrityBroken(f"{subject_id} has no data key")
            cipher = AESGCM(self._vault.unwrap(subject_id, person.wrapped))
            values = {name: open_sealed(cipher, f"{subject_id}:{name}", blob) for name, blob in wanted.items()}
        return [Subject(r.id, r.kind, values, r.source, r.received_at, r.created_at, r.updated_at, r.organisation_id)]

    def find(self, lookup: Lookup) -> list[str]:
        digest = self._vault.blind(lookup.field, lookup.key)
        q = select(t.lookups.c.subject_id).where(
            t.lookups.c.field == lookup.field, t.lookups.c.digest == digest, self._index_of(lookup.field)
        )
        return list(self._conn.scalars(q))

    def _index_of(self, field: str) -> Any:
        """The partial index's condition, so the planner uses the index the field's digests are in."""
        return t.lookups.c.is_unique if self._policy.fields[field].unique else ~t.lookups.c.is_unique

    def find_many(self, field: str, keys: Collection[str]) -> dict[str, str]:
        by_digest = {self._vault.blind(field, k): k for k in keys}
        found: dict[str, str] = {}
        for chunk in _chunks(list(by_digest)):
            q = select(t.lookups.c.digest, t.lookups.c.subject_id).where(
                t.lookups.c.field == field, t.lookups.c.digest.in_(chunk), self._index_of(field)
            )
            for digest, sid in self._conn.execute(q):
                found[by_digest[bytes(digest)]] = sid
        return found

    def _filtered(self, kind: str | None, organisation: Lookup | None, only: Collection[str] | None) -> Any:
        q = select(t.subjects.c.id)
        if only is not None:
            # A name look-up's matches, as one bound list however many namesakes there are.
            q = q.where(among(self._conn, t.subjects.c.id, sorted(only))) if only else q.where(false())
        if kind is not None:
            q = q.where(t.subjects.c.kind == kind)
        if organisation is not None:
            digest = self._vault.blind("organisation", organisation.key)
            org = select(t.organisations.c.id).where(t.organisations.c.number_digest == digest)
            q = q.where(t.subjects.c.organisation_id.in_(org.scalar_subquery()))
        return q

    def list(
        self,
        kind: str | None,
        organisation: Lookup | None,
        limit: int,
        offset: int,
        among: Collection[str] | None = None,
    ) -> list[Subject]:
        q = self._filtered(kind, organisation, among).order_by(t.subjects.c.created_at, t.subjects.c.id)
        ids = list(self._conn.scalars(q.limit(limit).offset(offset)))
        by_id = {s.id: s for s in self.get_many(ids)}
        return [by_id[i] for i in ids]

    def count(self, kind: str | None, organisation: Lookup | None, among: Collection[str] | None = None) -> int:
        q = select(func.count()).select_from(self._filtered(kind, organisation, among).subquery())
        return int(self._conn.scalar(q) or 0)

    # -- the blind indexes, when the policy changes which fields are looked up
    def index_field(self, field: str) -> int:
        """Digest every held value of `field`: a page of subjects at a time, in id order, each value decrypted once.

        Only here, at `init` with a policy that newly looks the field up (an existing register learning to find
        people by name), is a whole column decrypted; the digests go in through the import's bulk path.
        """
        spec = self._policy.fields[field]
        sv = t.subject_values.c
        self.drop_index(field)  # a digest left over under another folding would never match again
        bulk = BulkInsert(self._conn)
        flag = bulk.flag(spec.unique)
        done, after = 0, ""
        while True:
            page = self._conn.execute(
                select(sv.subject_id, sv.ciphertext)
                .where(sv.field == field, sv.subject_id > after)
                .order_by(sv.subject_id)
                .limit(INDEX_PAGE)
            ).all()
            if not page:
                return done
            keys = self._keys.get([sid for sid, _ in page])
            rows = []
            for sid, blob in page:
                value = open_sealed(AESGCM(keys[sid]), f"{sid}:{field}", blob)
                rows.append((sid, field, self._vault.blind(field, lookup_key(spec.type, value)), flag))
            bulk(t.lookups, ("subject_id", "field", "digest", "is_unique"), rows)
            done += len(rows)
            after = page[-1][0]

    def drop_index(self, field: str) -> int:
        return int(self._conn.execute(delete(t.lookups).where(t.lookups.c.field == field)).rowcount or 0)


class SqlRelationships:
    def __init__(self, conn: Connection, keys: KeyStore, people: People) -> None:
        self._conn = conn
        self._keys = keys
        self._people = people

    def add(self, rel: Relationship) -> None:
        description = None
        if rel.description is not None:
            cipher = self._keys.cipher(rel.subject_id)
            description = seal(cipher, f"{rel.subject_id}:relationship:{rel.id}", rel.description)
        self._conn.execute(
            insert(t.relationships).values(
                id=rel.id,
                subject_id=rel.subject_id,
                type=rel.type.value,
                started_on=rel.started_on,
                ends_on=rel.ends_on,
                ended_on=rel.ended_on,
                description_ct=description,
            )
        )

    def add_many(self, rels: Sequence[Relationship]) -> None:
        """Many at once (an import's orders and contracts); descriptions sealed under each subject's key."""
        if not rels:
            return
        owners = sorted({r.subject_id for r in rels if r.description is not None})
        ciphers = {sid: AESGCM(key) for sid, key in self._keys.get(owners).items()} if owners else {}
        bulk = BulkInsert(self._conn)
        rows = [
            (
                r.id,
                r.subject_id,
                r.type.value,
                bulk.day(r.started_on),
                bulk.day(r.ends_on),
                bulk.day(r.ended_on),
                None
                if r.description is None
                else seal(ciphers[r.subject_id], f"{r.subject_id}:relationship:{r.id}", r.description),
            )
            for r in rels
        ]
        columns = ("id", "subject_id", "type", "started_on", "ends_on", "ended_on", "description_ct")
        bulk(t.relationships, columns, rows)

    def get(self, relationship_id: str) -> Relationship | None:
        row = self._conn.execute(
            select(t.relationships.c.subject_id).where(t.relationships.c.id == relationship_id)
        ).first()
        if row is None:
            return None
        return next(r for r in self.for_subject(row.subject_id) if r.id == relationship_id)

    def for_subject(self, subject_id: str) -> list[Relationship]:
        return self.for_subjects([subject_id])[subject_id]

    def for_subjects(self, subject_ids: Sequence[str]) -> dict[str, list[Relationship]]:
        """Each subject's relationships, oldest first: one query per chunk of subjects, keys fetched together."""
        one = self._people.one(subject_ids)
        if one is not None:
            return {one: self._of(one)}
        out: dict[str, list[Relationship]] = {sid: [] for sid in subject_ids}
        rows: list[Row[Any]] = []
        for chunk in _chunks(list(out)):
            rows.extend(
                self._conn.execute(
                    select(t.relationships)
                    .where(among(self._conn, t.relationships.c.subject_id, chunk))
                    .order_by(t.relationships.c.started_on, t.relationships.c.id)
                )
            )
        sealed = sorted({r.subject_id for r in rows if r.description_ct is not None})
        ciphers = {sid: AESGCM(key) for sid, key in self._keys.get(sealed).items()} if sealed else {}
        for r in rows:
            description = None
            if r.description_ct is not None:
                cipher = ciphers.get(r.subject_id)
                if cipher is None:
                    raise IntegrityBroken(f"{r.subject_id} has no data key")
                description = open_sealed(cipher, f"{r.subject_id}:relationship:{r.id}", r.description_ct)
            out[r.subject_id].append(
                Relationship(
                    r.id,
                    r.subject_id,
                    RelationshipType(r.type),
                    r.started_on,
                    r.ends_on,
                    r.ended_on,
                    description,
                )
            )
        return out

    def _of(self, subject_id: str) -> list[Relationship]:
        rows = relationship_rows(self._people.get(subject_id))
        cipher = self._keys.cipher(subject_id) if any(r[5] is not None for r in rows) else None
        out = []
        for rid, kind, started, ends, ended, blob in rows:
            text = None
            if blob is not None and cipher is not None:
                text = open_sealed(cipher, f"{subject_id}:relationship:{rid}", blob)
            out.append(Relationship(rid, subject_id, RelationshipType(kind), started, ends, ended, text))
        return out

    def end(self, relationship_id: str, ended_on: date) -> None:
        self._conn.execute(
            update(t.relationships).where(t.relationships.c.id == relationship_id).values(ended_on=ended_on)
        )


# Entries held back before the chain's head is locked and they are written (see SqlAuditLog.append).
FLUSH_AT = 5000


AUDIT_COLUMNS = ("seq", "at", "actor", "role", "action", "subject_id", "purpose", "details", "prev_hash", "hash")


class SqlAuditLog:
    """The chain in `audit_log`, its head in `audit_head`; entries are HMACs under the audit key (domain/audit.py).

    Appended entries are written when the unit of work commits (`flush`), all at once: the head, which every
    writer locks, is held from then to the commit rather than from the first entry, and a use case that records
    several entries locks and moves it once. Before any read of the chain in the same transaction, and when
    FLUSH_AT entries are waiting, they are written at once.
    """

    def __init__(self, conn: Connection, key: bytes) -> None:
        self._conn = conn
        self._key = key
        self._pending: list[tuple[Sequence[AuditEvent], str, str, datetime]] = []
        self._waiting = 0

    def _head(self, lock: bool) -> Any:
        h = t.audit_head.c
        q = select(h.seq, h.hash, h.chain_id, h.keyed_from, h.simulation, h.mac).where(h.id == 1)
        return self._conn.execute(q.with_for_update() if lock else q).one()

    def _seal(self, seq: int, digest: str, keyed_from: int, chain_id: str, simulation: bool) -> None:
        mac = head_mac(self._key, seq, digest, keyed_from, chain_id, simulation)
        self._conn.execute(update(t.audit_head).where(t.audit_head.c.id == 1).values(seq=seq, hash=digest, mac=mac))

    def start(self, actor: str, role: str, at: datetime, simulation: bool = False) -> bool:
        self.flush()
        return self._start(actor, role, at, simulation)

    def _start(self, actor: str, role: str, at: datetime, simulation: bool) -> bool:
        """Key the chain if it is not yet (once, by `init`); True when this call did it.

        A new register is keyed from its first entry, which links to an anchor made from a fresh chain id.
        A register with unkeyed entries keeps them as they are (re-hashing them would forge them) and records
        the switch as an `audit.keyed` entry, linked under the key to the last of them. `simulation` (a new
        register initialised with `--now`) is sealed with the head; an upgraded register counts as real.
        """
        head = self._head(lock=True)
        if head.keyed_from is not None:
            if simulation and not bool(head.simulation) and self._sealed(head):
                # `demo` on a register that holds nobody yet makes it a simulation (bootstrap.initialise): the
                # kind of register is sealed with the head, so the flag and the seal move together.
                self._conn.execute(update(t.audit_head).where(t.audit_head.c.id == 1).values(simulation=True))
                self._seal(int(head.seq), str(head.hash), int(head.keyed_from), str(head.chain_id), True)
            return False
        chain_id = uuid.uuid4().hex
        legacy = int(head.seq)
        first_prev = anchor(self._key, chain_id) if legacy == 0 else str(head.hash)
        simulation = simulation and legacy == 0
        self._conn.execute(
            update(t.audit_head)
            .where(t.audit_head.c.id == 1)
            .values(chain_id=chain_id, keyed_from=legacy + 1, simulation=simulation)
        )
        self._seal(legacy, first_prev, legacy + 1, chain_id, simulation)
        if legacy:
            details = {"chain": chain_id, "legacy_entries": legacy, "legacy_head": str(head.hash)}
            self.append([AuditEvent(SWITCH_ACTION, None, None, details)], actor, role, at)
        return True

    def append(self, events: Sequence[AuditEvent], actor: str, role: str, at: datetime) -> None:
        """Record the events; they are written to the chain by `flush` (at the latest when the unit of work
        commits, in the same transaction as what they record)."""
        if not events:
            return
        self._pending.append((list(events), actor, role, at))
        self._waiting += len(events)
        if self._waiting >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Write the entries waiting: the head locked, each entry hashed onto the chain, the head moved."""
        if not self._pending:
            return
        pending, self._pending, self._waiting = self._pending, [], 0
        head = self._head(lock=True)
        if head.keyed_from is None:
            raise NotReady("the audit chain is not keyed yet; run `personvern init`")
        key = self._key
        seq, prev = int(head.seq), str(head.hash)
        bulk = BulkInsert(self._conn)
        rows = []
        rendered: dict[int, str] = {}  # events of a batch often share one details mapping
        for events, actor, role, at in pending:
            stamp = bulk.instant(at)
            for event in events:
                seq += 1
                details = rendered.get(id(event.details))
                if details is None:
                    details = rendered[id(event.details)] = canonical_details(event.details)
                digest = entry_hash(
                    key, seq, at, actor, role, event.action, event.subject_id, event.purpose, details, prev
                )
                rows.append(
                    (seq, stamp, actor, role, event.action, event.subject_id, event.purpose, details, prev, digest)
                )
                prev = digest
        keyed_from, chain_id, simulation = int(head.keyed_from), str(head.chain_id), bool(head.simulation)
        if self._conn.dialect.name == "postgresql" and len(rows) < COPY_FROM:
            # The entries and the head's move in one statement: one round trip to the server, not two.
            mac = head_mac(key, seq, prev, keyed_from, chain_id, simulation)
            values = ", ".join(["(" + ", ".join(["%s"] * len(AUDIT_COLUMNS)) + ")"] * len(rows))
            self._conn.exec_driver_sql(
                f"WITH entries AS (INSERT INTO audit_log ({', '.join(AUDIT_COLUMNS)}) VALUES {values})"
                " UPDATE audit_head SET seq = %s, hash = %s, mac = %s WHERE id = 1",
                (*(v for row in rows for v in row), seq, prev, mac),
            )
            return
        bulk(t.audit_log, AUDIT_COLUMNS, rows)
        self._seal(seq, prev, keyed_from, chain_id, simulation)

    def chain_id(self) -> str | None:
        self.flush()
        return self._conn.execute(select(t.audit_head.c.chain_id).where(t.audit_head.c.id == 1)).scalar()

    def head(self) -> tuple[str, int, str] | None:
        """(chain id, seq, hash) of the head, if it is keyed and its seal holds; what a checkpoint records."""
        self.flush()
        head = self._head(lock=False)
        if head.keyed_from is None or not self._sealed(head):
            return None
        return str(head.chain_id), int(head.seq), str(head.hash)

    def _sealed(self, head: Any) -> bool:
        seal = head_mac(
            self._key, int(head.seq), str(head.hash), int(head.keyed_from), str(head.chain_id), bool(head.simulation)
        )
        return hmac.compare_digest(seal, str(head.mac))

    def simulation(self) -> bool:
        """Whether the chain was started as a simulation's (sealed with the head: False if the seal fails)."""
        self.flush()
        head = self._head(lock=False)
        return head.keyed_from is not None and bool(head.simulation) and self._sealed(head)

    def hash_at(self, seq: int) -> str | None:
        self.flush()
        return self._conn.execute(select(t.audit_log.c.hash).where(t.audit_log.c.seq == seq)).scalar()

    def verify(self, simulation: bool | None = None) -> ChainReport:
        self.flush()
        head = self._head(lock=False)
        if head.keyed_from is None or head.chain_id is None:
            return ChainReport(0, 1, "the chain is not keyed (its head row has no key id); run `personvern init`")
        if simulation is not None and simulation != bool(head.simulation):
            # The register's own flag (installation) and the one sealed with the head disagree: one was set
            # outside personvern, perhaps to hide a clock moved back (DESIGN.md §3 'Clock').
            sealed_as = "a simulation" if head.simulation else "a real register"
            return ChainReport(0, 1, f"the register's kind was changed: its audit chain was sealed as {sealed_as}'s")
        keyed_from, chain_id = int(head.keyed_from), str(head.chain_id)
        start = ChainStart(self._key, chain_id, keyed_from)
        c = t.audit_log.c
        sqlite = self._conn.dialect.name == "sqlite"
        # The time as UTCDateTime would give it, without its Python-level step per row (a fifth or more of the
        # whole-chain check): SQLite keeps UTC text, parsed here in one C call; PostgreSQL's driver gives an
        # aware datetime in the session's zone, which this transaction sets to UTC.
        if sqlite:
            at: Any = type_coerce(c.at, String)
        else:
            self._conn.execute(sql_text("SET LOCAL TIME ZONE 'UTC'"))
            at = type_coerce(c.at, DateTime(timezone=True))
        q = select(c.seq, at, c.actor, c.role, c.action, c.subject_id, c.purpose, c.details, c.prev_hash, c.hash)
        # Up to the head read above: entries are committed with their head, so all of these are there, and
        # writers appending meanwhile (not in this snapshot) are not mistaken for entries added behind its back.
        q = q.where(c.seq <= int(head.seq))
        result = self._conn.execution_options(yield_per=10_000).execute(q.order_by(c.seq))
        # The kind sealed with the head decides (its seal is checked below): a flag that anyone can write could
        # otherwise switch the clock check off.
        rows = _utc_rows(result) if sqlite else (tuple(row) for row in result)
        report = verify_chain(rows, start, bool(head.simulation))
        if not report.ok:
            return report
        checked = report.checked
        if int(head.seq) != checked:
            return ChainReport(checked, checked + 1, f"entries after {checked} were removed")
        if str(head.hash) != (report.head_hash or start.first_prev):
            return ChainReport(checked, checked, f"the head's hash is not entry {checked}'s: the head was altered")
        if not self._sealed(head):
            return ChainReport(checked, checked + 1, "the head row's seal does not hold: it was set back or altered")
        if checked < keyed_from:
            # Every initialised register holds its first keyed entry (the policy's load, or `audit.keyed`).
            return ChainReport(checked, checked + 1, f"entry {keyed_from}, the first keyed one, was removed")
        last = self._conn.execute(select(func.max(c.seq))).scalar() or 0
        if last > checked and int(self._head(lock=False).seq) < last:
            return ChainReport(checked, checked + 1, f"entries after {checked} were added past the chain's head")
        return report

    def entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching the query, newest first, at most `query.limit`; each as recorded (never a value)."""
        self.flush()
        c = t.audit_log.c
        q = select(t.audit_log).order_by(c.seq.desc()).limit(query.limit)
        if query.subject_id is not None:
            q = q.where(c.subject_id == query.subject_id)
        if query.actor is not None:
            q = q.where(c.actor == query.actor)
        if query.since is not None:
            q = q.where(c.at >= query.since)
        if query.action is not None:
            if "." in query.action:
                q = q.where(c.action == query.action)
            else:  # a family: `request` is request.open, request.verify, …
                q = q.where((c.action == query.action) | c.action.startswith(query.action + ".", autoescape=True))
        if query.before is not None:
            q = q.where(c.seq < query.before)
        return [
            AuditEntry(
                r.seq,
                r.at,
                r.actor,
                r.role,
                r.action,
                r.subject_id,
                r.purpose,
                json.loads(r.details),
                r.prev_hash,
                r.hash,
            )
            for r in self._conn.execute(q)
        ]

    def for_subject(self, subject_id: str) -> Iterator[tuple[datetime, str, str, str, str | None]]:
        self.flush()
        c = t.audit_log.c
        q = select(c.at, c.actor, c.role, c.action, c.purpose).where(c.subject_id == subject_id).order_by(c.seq)
        for row in self._conn.execute(q):
            yield (row.at, row.actor, row.role, row.action, row.purpose)


def _utc_rows(rows: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Audit rows whose `at` is SQLite's stored text, with `at` as the aware UTC time UTCDateTime would give."""
    parse = datetime.fromisoformat
    for seq, at, *rest in rows:
        try:
            when = parse(at + "+00:00")
        except (TypeError, ValueError):
            when = datetime.min.replace(tzinfo=UTC)  # not a time: altered, and the hash check will say so
        yield (seq, when, *rest)


class SqlPolicyVersions:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def current(self) -> PolicyRecord | None:
        c = t.policy_versions.c
        row = self._conn.execute(
            select(c.version, c.sha256, c.text, c.loaded_at).order_by(c.id.desc()).limit(1)
        ).first()
        return PolicyRecord(row.version, row.sha256, row.text, row.loaded_at) if row else None

    def record(self, record: PolicyRecord) -> None:
        self._conn.execute(
            insert(t.policy_versions).values(
                version=record.version, sha256=record.sha256, text=record.text, loaded_at=record.loaded_at
            )
        )
