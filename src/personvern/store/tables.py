"""The database tables. Personal values live only as ciphertext (subject_values) or keyed digests (lookups)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and read back as aware datetimes, the same on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ID = String(32)

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(40), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("text", Text, nullable=False),
    Column("loaded_at", UTCDateTime, nullable=False),
)

# One row: which master key this database belongs to, so a wrong or regenerated key file is refused
# before it wraps a single data key.
installation = Table(
    "installation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("master_key_id", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Initialised with --now: a simulation, whose clock may be moved by every command (bootstrap.py).
    Column("simulation", Boolean, nullable=False, server_default=false()),
    # When the first subject was added: the annual review is owed only for years the register held data.
    Column("first_data_at", UTCDateTime, nullable=True),
    # Set while `personvern keys rotate` re-wraps the key store under a new master key (this key's id): a register
    # half re-wrapped is not served (store/rotation.py).
    Column("rotating_to", String(16), nullable=True),
)

# The key store: one wrapped data key per owner (a subject, an outbox row with a personal part, a request with
# sealed parts, a web request, an archived record). It lives apart from the data it protects (issue 17): on
# SQLite in the file FILE.keys beside the register, ATTACHed to every connection as `keystore`; on PostgreSQL in
# the schema `keystore` (store/engine.py). Joins across the two still run in one statement, and the two are
# backed up apart: data backups kept long, key-store backups kept short. No foreign key, by design.
KEYSTORE = "keystore"

data_keys = Table(
    "data_keys",
    metadata,
    Column("owner_id", ID, primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("master_key_id", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    schema=KEYSTORE,
)

# The register's own secrets, wrapped under the master key like the data keys: today one, the derivation secret
# the blind-index, audit-chain, link and one-time-code keys come from (store/crypto.py). Kept here, not derived
# from the master key, so a rotation re-wraps this row instead of changing every blind index and the chain.
keystore_secrets = Table(
    "secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("master_key_id", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    schema=KEYSTORE,
)

organisations = Table(
    "organisations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("number_digest", LargeBinary(32), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(64), nullable=False, index=True),
    Column("source", String(100), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("organisation_id", ID, ForeignKey("organisations.id"), nullable=True, index=True),
    # The retention schedule (domain.retention.Schedule), recomputed in the transaction that changes the
    # subject's facts, so a sweep is an index range scan on retain_until (Art. 5(1)(e)). NULL: kept open-ended.
    Column("retain_until", Date, nullable=True),
    Column("retain_action", String(8), nullable=True),  # archive | erase
    Column("retain_rule", String(64), nullable=True),  # the reason whose end makes the record due
    Column("hold_until", Date, nullable=True),  # held field group (e.g. bokføringsloven § 13) released then
    Column("hold_fields", Text, nullable=True),  # the held fields, comma-separated; NULL: no hold
    Column("retention_at", UTCDateTime, nullable=True, index=True),  # when computed; NULL: never (or stale)
    Index("ix_subjects_retain_until", "retain_until", "id"),
    Index("ix_subjects_hold_until", "hold_until"),
)

subject_values = Table(
    "subject_values",
    metadata,
    Column("subject_id", ID, ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
)

# Keyed digests of the values looked up exactly. The primary key follows the (time-ordered) subject id, so
# new rows append; each digest sits in one of two partial indexes, so a row costs one random-order insert.
lookups = Table(
    "lookups",
    metadata,
    Column("subject_id", ID, ForeignKey("subjects.id", ondelete="CASCADE"), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("digest", LargeBinary(16), nullable=False),
    Column("is_unique", Boolean, nullable=False),
    # The database itself refuses the same person twice, even if two writers race past the service's check.
    Index(
        "uq_lookups_unique_value",
        "field",
        "digest",
        unique=True,
        sqlite_where=text("is_unique = 1"),
        postgresql_where=text("is_unique"),
    ),
    Index(
        "ix_lookups_shared_value",
        "field",
        "digest",
        sqlite_where=text("is_unique = 0"),
        postgresql_where=text("NOT is_unique"),
    ),
)

relationships = Table(
    "relationships",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject_id", ID, ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("type", String(16), nullable=False),
    Column("started_on", Date, nullable=False),
    Column("ends_on", Date, nullable=True),
    Column("ended_on", Date, nullable=True),
    Column("description_ct", LargeBinary, nullable=True),
)

# No foreign key to subjects: the trail of what was done outlives the person's erasure, and holds no values.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject_id", ID, nullable=True, index=True),
    Column("purpose", String(64), nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row: the chain's head. Locking it serialises appends, so concurrent writers cannot fork the chain.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    # Set by `init` once the master key is at hand (migration 0007): the chain's random id, the first entry
    # hashed under the audit key (1, or the `audit.keyed` entry after the legacy ones), and an HMAC over the
    # whole row, so the head cannot be set back to hide entries removed after it.
    Column("chain_id", String(32), nullable=True),
    Column("keyed_from", BigInteger, nullable=True),
    Column("simulation", Boolean, nullable=True),  # a register initialised with --now: its clock may go back
    Column("mac", String(64), nullable=True),
)


# ---------------------------------------------------------------- retention: the annual review and the daily sweep

# The annual review (the seed policy: each year, is there a legitimate reason to keep every record?). The
# report holds record ids and reasons, never a personal value; its sha256 goes into the audit chain when signed.
reviews = Table(
    "reviews",
    metadata,
    Column("id", ID, primary_key=True),
    Column("year", Integer, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("signed_at", UTCDateTime, nullable=True),
    Column("signed_by", String(100), nullable=True),
    Column("report", Text, nullable=False),  # JSON: ids, kinds, rules and dates only
)

# One row per retention sweep: when it started and finished, so the worker sweeps once a day.
retention_sweeps = Table(
    "retention_sweeps",
    metadata,
    Column("id", ID, primary_key=True),
    Column("day", Date, nullable=False, index=True),  # the controller's day the sweep acted on
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("archived", Integer, nullable=False),
    Column("erased", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    # Run by the CEO (`retention run`): the confirmation the worker's unattended sweep waits for.
    Column("confirmed", Boolean, nullable=False, server_default=false()),
    # The worker did not sweep: more was due than the policy's [unattended] limit lets it do alone, or no
    # sweep was confirmed yet. `due` and `allowed` say by how much.
    Column("held", Boolean, nullable=False, server_default=false()),
    Column("due", Integer, nullable=True),
    Column("allowed", Integer, nullable=True),
)

# ---------------------------------------------------------------- consent, objection and restriction

# The consent ledger: append-only. The current state of a (subject, purpose, channel) is its latest event;
# it is never stored beside the ledger (Art. 7(1): the controller must be able to show the consent).
consent_events = Table(
    "consent_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject_id", ID, ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("action", String(16), nullable=False),  # given | withdrawn
    Column("at", UTCDateTime, nullable=False),
    Column("method", String(16), nullable=False),  # web | phone | paper | import | sms_reply
    Column("recorded_by", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    # The privacy notice (or policy) the person saw; NULL when unknown (a consent imported from before this
    # register), and then `proof_ct` says where the proof lives (Art. 7(1)), sealed under the subject's key.
    Column("notice_sha256", String(64), nullable=True),
    Column("proof_ct", LargeBinary, nullable=True),
    Index("ix_consent_events_subject", "subject_id", "purpose", "channel", "at"),
    # The audience query reads only this index: each subject's events in time order, with id and action to
    # tell the latest one and whether it is a consent (covering: no table look-up per event).
    Index("ix_consent_events_audience", "purpose", "channel", "subject_id", "at", "id", "action"),
)

# What the statistics still count of consent events deleted with their person (erased or archived): the hour,
# purpose, channel, action and method, and how many; no subject, no id. Written only by the trigger of migration
# 0016 on `consent_events` (a deletion of any kind, the cascade from `subjects` included).
consent_tallies = Table(
    "consent_tallies",
    metadata,
    Column("hour", UTCDateTime, primary_key=True),
    Column("purpose", String(64), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("action", String(16), primary_key=True),
    Column("method", String(16), primary_key=True),
    Column("events", Integer, nullable=False),
)

# Objections (Art. 21) and restrictions (Art. 18): set, and later lifted; both kept for the record.
subject_blocks = Table(
    "subject_blocks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject_id", ID, ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # objection | restriction
    Column("purpose", String(64), nullable=True),  # an objection's purpose; a restriction covers all
    Column("set_at", UTCDateTime, nullable=False),
    Column("set_by", String(100), nullable=False),
    Column("reason", Text, nullable=True),
    Column("lifted_at", UTCDateTime, nullable=True),
    Column("lifted_by", String(100), nullable=True),
    Column("lift_reason", Text, nullable=True),
)

# ---------------------------------------------------------------- the transactional outbox

# Every side effect outside the database, written in the transaction that causes it. No foreign key to
# subjects: a row that tells a processor to erase a person must outlive the person's own rows.
outbox = Table(
    "outbox",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(32), nullable=False),  # e.g. sms
    Column("subject_id", ID, nullable=True, index=True),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("payload", Text, nullable=True),  # JSON; personal data removed once delivered
    Column("state", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),  # claimed by a worker until then
    Column("last_error", Text, nullable=True),  # never personal data
    Column("result", Text, nullable=True),  # JSON from the receiver, e.g. its message id
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index("ix_outbox_due", "state", "next_attempt_at"),
)

# Messages sent to subjects: metadata for access requests, content encrypted and kept only as long as allowed.
messages = Table(
    "messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject_id", ID, ForeignKey("subjects.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("outbox_id", ID, nullable=False, index=True),
    Column("channel", String(16), nullable=False),  # sms
    Column("purpose", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),  # content is dropped by age
    Column("segments", Integer, nullable=False),
    Column("encoding", String(8), nullable=False),  # GSM-7 | UCS-2
    Column("text_ct", LargeBinary, nullable=True),  # sealed under the subject's key; dropped after retention
    Column("vendor_message_id", String(64), nullable=True, index=True),
    Column("status", String(16), nullable=False),  # pending | queued | sent | delivered | failed | unknown
    Column("result_code", Integer, nullable=True),
    Column("status_text", String(200), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    # The texts still held, by age: the worker drops each text once the policy's period ends (Art. 5(1)(e))
    # on every pass, and this keeps that a scan of the few texts held, not of every message ever sent.
    Index(
        "ix_messages_text_held",
        "created_at",
        sqlite_where=text("text_ct IS NOT NULL"),
        postgresql_where=text("text_ct IS NOT NULL"),
    ),
)

# ---------------------------------------------------------------- data subject requests (Art. 12-22)

# A request outlives the subject it concerns (the controller must show it answered, Art. 5(2)), so there is
# no foreign key. The identity the person gave, and any values they asked for, are sealed under a key of
# the request's own, which is destroyed when an erasure is carried out.
requests = Table(
    "requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("type", String(16), nullable=False),  # access | portability | rectification | erasure | ...
    Column("state", String(16), nullable=False),  # received | verified | in_progress | completed | rejected
    Column("subject_id", ID, nullable=True, index=True),  # None: the identity matched nobody
    Column("channel", String(16), nullable=False),  # how it came in: email | phone | letter | web | in_person
    Column("language", String(2), nullable=False),
    Column("purpose", String(64), nullable=True),  # an objection's purpose
    Column("received_at", UTCDateTime, nullable=False),
    Column("received_on", Date, nullable=False),  # the day of receipt where the controller is
    Column("due_on", Date, nullable=False),  # one month from receipt, or three once extended (Art. 12(3))
    Column("extended_at", UTCDateTime, nullable=True),
    Column("extension_reason", Text, nullable=True),
    Column("verified_at", UTCDateTime, nullable=True),
    Column("verified_by", String(100), nullable=True),
    Column("verification_method", String(32), nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", String(100), nullable=True),
    Column("rejection_reason", Text, nullable=True),
    Column("outcome", Text, nullable=True),  # JSON: what was done, without personal values
    Column("identity_ct", LargeBinary, nullable=True),  # sealed: how the person identified themselves
    Column("details_ct", LargeBinary, nullable=True),  # sealed: e.g. the values a rectification asks for
    Column("opened_by", String(100), nullable=False),
    Index("ix_requests_open_due", "state", "due_on"),
)

# What an erasure did, kept as proof that it was done (Art. 5(2), 17): names of fields and processors, dates;
# never a value.
erasure_receipts = Table(
    "erasure_receipts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject_id", ID, nullable=False, index=True),
    Column("request_id", ID, nullable=True, index=True),
    Column("erased_at", UTCDateTime, nullable=False),
    Column("cause", String(32), nullable=False),  # request | retention | review
    Column("held_until", Date, nullable=True),  # data kept under a legal obligation until then (Art. 17(3)(b))
    Column("details", Text, nullable=False),  # JSON: fields erased and held, processors told, policy version
)

# ---------------------------------------------------------------- the CEO's archive

# Records whose reasons have ended but which the policy archives rather than erases: minimised to the
# archive's fields, sealed under a key of the record's own, reachable only by the roles the policy names.
archive_records = Table(
    "archive_records",
    metadata,
    Column("id", ID, primary_key=True),
    Column("subject_id", ID, nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("archived_at", UTCDateTime, nullable=False),
    Column("reason", String(200), nullable=False),
    Column("values_ct", LargeBinary, nullable=False),
)

# Blind indexes of an archived record's look-up fields, so that a request by email or phone reaches it.
archive_lookups = Table(
    "archive_lookups",
    metadata,
    Column("record_id", ID, ForeignKey("archive_records.id", ondelete="CASCADE"), primary_key=True),
    Column("field", String(64), primary_key=True),
    Column("digest", LargeBinary(16), nullable=False),
    Index("ix_archive_lookups_value", "field", "digest"),
)


# ---------------------------------------------------------------- accountability

# Every rendering of the privacy notice, kept so that the version a consent event refers to can be shown later
# (Art. 7(1)): one row per text and the policy it was rendered from. A notice holds no personal data.
notice_versions = Table(
    "notice_versions",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("policy_sha256", String(64), primary_key=True),
    Column("language", String(2), nullable=False),
    Column("format", String(8), nullable=False),  # md | html
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_notice_versions_current", "policy_sha256", "language", "format", "created_at"),
)

# The breach register (Art. 33(5)): every breach, notified or not. Its free text is the controller's own
# record of what happened, not customer data; the people affected are listed by register id only.
breaches = Table(
    "breaches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("description", Text, nullable=False),
    Column("cause", Text, nullable=True),
    Column("occurred_at", UTCDateTime, nullable=True),
    Column("occurred_until", UTCDateTime, nullable=True),
    Column("discovered_at", UTCDateTime, nullable=False),
    Column("deadline_at", UTCDateTime, nullable=False, index=True),  # discovered + 72 hours (Art. 33(1))
    Column("categories", Text, nullable=False),  # JSON list: the types of personal data concerned
    Column("relation", Text, nullable=True),  # the people's relation to the company (customers, staff, ...)
    Column("people", Integer, nullable=True),  # approximate number of people affected
    Column("records", Integer, nullable=True),  # approximate number of records affected
    Column("consequences", Text, nullable=True),
    Column("measures_taken", Text, nullable=True),
    Column("measures_planned", Text, nullable=True),
    Column("data_location", Text, nullable=True),  # where the data is now
    Column("contact", Text, nullable=True),
    Column("risk", String(16), nullable=True),  # unlikely | likely | high; NULL: not yet assessed
    Column("risk_reason", Text, nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# The people a breach affected, by id. No foreign key to subjects: the register outlives their erasure.
breach_subjects = Table(
    "breach_subjects",
    metadata,
    Column("breach_id", ID, ForeignKey("breaches.id", ondelete="CASCADE"), primary_key=True),
    Column("subject_id", ID, primary_key=True),
)

# Each notification: to the authority, in phases (Art. 33(4)), or to the people affected (Art. 34).
breach_notifications = Table(
    "breach_notifications",
    metadata,
    Column("id", ID, primary_key=True),
    Column("breach_id", ID, ForeignKey("breaches.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("recipient", String(16), nullable=False),  # authority | subjects
    Column("phase", String(16), nullable=True),  # initial | follow_up | final (to the authority)
    Column("at", UTCDateTime, nullable=False),  # when the notification was made
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("reference", String(100), nullable=True),  # the authority's reference (Altinn)
    Column("late_reason", Text, nullable=True),  # why after 72 hours (Art. 33(1))
    Column("content", Text, nullable=True),  # what was told: the report, or the message's text
    Column("outcome", Text, nullable=True),  # JSON: messages queued, and who could not be reached and why
)


# Staff users of the console and the API. Passwords only as argon2id hashes, tokens only as SHA-256 digests
# (with a short visible prefix to tell them apart): a copy of the database signs nobody in.
users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("language", String(5), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("token_prefix", String(16), nullable=False),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

# Console sessions, shared by every `serve` process on the database: the cookie's value only as a digest.
sessions = Table(
    "sessions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
)

# Failed sign-ins per key (a user name's or a client address's digest), shared by every process.
throttles = Table(
    "throttles",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failed_at", UTCDateTime, nullable=False),
)


# ---------------------------------------------------------------- every recipient covered (Art. 17(2), 19, 28)

# What each recipient must do for a request carried out (erase, correct, restrict, stop marketing) and how it
# is confirmed: by the delivery of an outbox row, or by a manual task the CEO closes with a note. A request is
# answered as completed only once every one of its rows is confirmed (or was never needed). Field names and
# ids only; the note is the CEO's own record of how it was done.
recipient_confirmations = Table(
    "recipient_confirmations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("request_id", ID, nullable=False, index=True),
    Column("subject_id", ID, nullable=True),
    Column("recipient", String(64), nullable=False),
    Column("action", String(200), nullable=False),
    Column("detail", String(300), nullable=False),
    Column("fields", Text, nullable=False),  # JSON list of field names
    Column("confirm_by", String(16), nullable=False),  # outbox | task | nothing
    Column("state", String(16), nullable=False),  # pending | confirmed | not_needed
    Column("outbox_id", ID, nullable=True, index=True),
    Column("due_on", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("confirmed_by", String(100), nullable=True),
    Column("note", Text, nullable=True),
    Index("ix_recipient_confirmations_open", "state", "due_on"),
)

# Each export of customers' master data for the accounts (SAF-T, CSV): who took it, for which recipient, which
# fields, and the file's hash. Each person in it is a disclosure to that recipient (Art. 15(1)(c), 30(1)(d)).
exports = Table(
    "exports",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),  # saft | csv
    Column("recipient", String(64), nullable=False),  # finago | auditor
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(32), nullable=False),
    Column("subjects", Integer, nullable=False),
    Column("fields", Text, nullable=False),  # JSON list of field names
    Column("sha256", String(64), nullable=False),
)

# The people in each export, by id: the recipient holds them since (an erasure or correction must reach it).
export_subjects = Table(
    "export_subjects",
    metadata,
    Column("export_id", ID, ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True),
    Column("subject_id", ID, primary_key=True),
    Column("fields", Text, nullable=False),  # JSON list: the fields this person had in it (Art. 15(1)(c))
    Index("ix_export_subjects_subject", "subject_id"),
)

# Each reconciliation of a processor with the register (HubSpot): counts, and the first findings by id only.
reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("recipient", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("actor", String(100), nullable=False),
    Column("fix", Boolean, nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("pages", Integer, nullable=False),
    Column("contacts", Integer, nullable=False),
    Column("fixed", Integer, nullable=False),
    Column("counts", Text, nullable=False),  # JSON: finding -> how many
    Column("findings", Text, nullable=False),  # JSON list: finding, external id, subject id, pending, fixed by
    Column("error", Text, nullable=True),
    Index("ix_reconciliations_recipient", "recipient", "started_at"),
)


# ---------------------------------------------------------------- the public privacy page (Art. 12(2): facilitate)

# A request made on the public page, waiting for its one-time code. The identity the visitor typed and any
# corrections are sealed under the row's own data key (owner: the row's id), dropped when the row is
# confirmed or expires; the code only as a keyed digest (a copy of the database cannot try the million
# codes offline without the master key). Becomes a request in `requests` once the code is confirmed.
public_requests = Table(
    "public_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("type", String(16), nullable=False),
    Column("language", String(2), nullable=False),
    Column("via", String(8), nullable=False),  # where the code went: sms | email
    Column("identity_ct", LargeBinary, nullable=True),  # sealed: {"email"|"phone": value}
    Column("details_ct", LargeBinary, nullable=True),  # sealed: a rectification's corrections
    Column("code_digest", String(64), nullable=True),  # None once used up (confirmed, or too many tries)
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("request_id", ID, nullable=True),  # the request it opened
    Index("ix_public_requests_expires_at", "expires_at"),
)

# A single-use link to an answer (access, portability) for a request that came from the web. The link's
# secret only as a SHA-256 digest; the zip is served only after a fresh one-time code, sent like the first.
answer_links = Table(
    "answer_links",
    metadata,
    Column("id", ID, primary_key=True),
    Column("request_id", ID, nullable=False, index=True),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("code_digest", String(64), nullable=True),  # the fresh code asked for before the download
    Column("code_expires_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("fetched_at", UTCDateTime, nullable=True),  # once: a second download is refused
    Column("closed_at", UTCDateTime, nullable=True),  # fetched, expired or used up: the kept answer is deleted
)

# Rate limits of the public endpoints, per key (a digest of an identity or a client address, or "all"), in
# fixed windows: kept in the database so that every `serve` process counts the same visitor together.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(80), primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("hits", Integer, nullable=False),
)

# The company website's cookie choices (ekomloven § 2-7b): one row per choice, by a pseudonymous visitor id
# the banner makes up (random, not derived from anything about the visitor), with the banner's version.
cookie_consents = Table(
    "cookie_consents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("visitor", String(64), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("banner_version", String(64), nullable=False),
    Column("choices", Text, nullable=False),  # JSON: category -> true | false
    Column("method", String(16), nullable=False),  # accept_all | reject_all | custom | gpc
    Column("gpc", Boolean, nullable=False),  # the browser sent Global Privacy Control
)

# The demo's stand-in for LINK Mobility and SMTP (`make run` without vendor accounts): what would have been
# sent, shown in the console marked as a demo. Never used where a connector has credentials.
demo_messages = Table(
    "demo_messages",
    metadata,
    Column("id", ID, primary_key=True),
    Column("outbox_id", ID, nullable=False),
    Column("kind", String(16), nullable=False),  # sms | email
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("destination", Text, nullable=False),
    Column("subject_line", Text, nullable=True),
    Column("body", Text, nullable=False),
)
