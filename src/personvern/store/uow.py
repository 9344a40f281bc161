"""The SQL unit of work: one connection and one transaction per use case, holding every repository."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, exists, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from personvern.domain.audit import AuditEvent
from personvern.domain.errors import Conflict, NotReady
from personvern.policy.schema import Policy
from personvern.store import tables as t
from personvern.store.breach_repo import SqlBreaches
from personvern.store.consent_repo import SqlBlocks, SqlConsents
from personvern.store.cookies_repo import SqlCookieChoices
from personvern.store.crypto import Vault
from personvern.store.demo_repo import SqlDemoMessages
from personvern.store.notice_repo import SqlNoticeVersions
from personvern.store.outbox_repo import SqlMessages, SqlOutbox
from personvern.store.people import People
from personvern.store.people import forget as forget_people
from personvern.store.preview import PREVIEW
from personvern.store.public_repo import SqlAnswerLinks, SqlPublicRequests, SqlRateLimits
from personvern.store.recipients_repo import SqlConfirmations, SqlExports, SqlReconciliations
from personvern.store.record_repo import SqlFigures
from personvern.store.repositories import (
    KeyStore,
    SqlAuditLog,
    SqlPolicyVersions,
    SqlRelationships,
    SqlSubjects,
)
from personvern.store.retention_repo import SqlRetention, SqlReviews
from personvern.store.rights_repo import SqlArchive, SqlErasureReceipts, SqlRequests
from personvern.store.statistics_repo import SqlStatistics
from personvern.store.users_repo import SqlSessions, SqlThrottles, SqlUsers


class PreviewAudit(SqlAuditLog):
    """The audit log of a preview on a real register: entries stamped with the real time, noting the moved one.

    The chain's times must not run backwards or jump ahead on a real register; what was computed for
    which moment still shows, as `simulated_at` in the entry's details.
    """

    def __init__(self, conn: Connection, key: bytes, real_now: Callable[[], datetime]) -> None:
        super().__init__(conn, key)
        self._real_now = real_now

    def append(self, events: Sequence[AuditEvent], actor: str, role: str, at: datetime) -> None:
        noted: dict[int, dict[str, Any]] = {}  # events of a batch often share one details mapping; keep sharing
        marked = []
        for event in events:
            details = noted.get(id(event.details))
            if details is None:
                details = noted[id(event.details)] = {**event.details, "simulated_at": at.isoformat()}
            marked.append(replace(event, details=details))
        super().append(marked, actor, role, self._real_now())


class SqlUnitOfWork:
    """Used as `with factory() as uow: ...; uow.commit()`; leaving without commit rolls everything back.

    With `real_now` the clock is moved on a real register: the unit of work is a preview, in which any
    statement but an audit entry is refused (store/preview.py) and audit entries carry the real time.
    """

    keys: KeyStore
    subjects: SqlSubjects
    relationships: SqlRelationships
    audit: SqlAuditLog
    policies: SqlPolicyVersions
    consents: SqlConsents
    blocks: SqlBlocks
    outbox: SqlOutbox
    messages: SqlMessages
    requests: SqlRequests
    receipts: SqlErasureReceipts
    archive: SqlArchive
    notices: SqlNoticeVersions
    breaches: SqlBreaches
    figures: SqlFigures
    statistics: SqlStatistics
    retention: SqlRetention
    reviews: SqlReviews
    confirmations: SqlConfirmations
    exports: SqlExports
    reconciliations: SqlReconciliations
    users: SqlUsers
    sessions: SqlSessions
    throttles: SqlThrottles
    demo_messages: SqlDemoMessages
    cookie_choices: SqlCookieChoices
    public_requests: SqlPublicRequests
    answer_links: SqlAnswerLinks
    rate_limits: SqlRateLimits

    def __init__(
        self, engine: Engine, vault: Vault, policy: Policy, real_now: Callable[[], datetime] | None = None
    ) -> None:
        self._engine = engine
        self._vault = vault
        self._policy = policy
        self._real_now = real_now
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        try:
            self._conn = self._engine.connect()
            self._tx = self._conn.begin()
        except OperationalError as exc:
            raise NotReady(f"cannot open the database: {exc.orig}") from None
        self._after_commit: list[Callable[[], None]] = []
        if self._real_now is not None:
            self._conn.info[PREVIEW] = True
        forget_people(self._conn)
        people = People(self._conn, [k for k, spec in self._policy.kinds.items() if spec.business])
        keys = KeyStore(self._conn, self._vault, people)
        self.keys = keys
        self.subjects = SqlSubjects(self._conn, self._vault, keys, self._policy, people)
        self.relationships = SqlRelationships(self._conn, keys, people)
        audit_key = self._vault.audit_key
        self.audit = (
            SqlAuditLog(self._conn, audit_key)
            if self._real_now is None
            else PreviewAudit(self._conn, audit_key, self._real_now)
        )
        self.policies = SqlPolicyVersions(self._conn)
        self.consents = SqlConsents(self._conn, keys, people)
        self.blocks = SqlBlocks(self._conn, keys, people)
        self.outbox = SqlOutbox(self._conn, keys, people)
        self.messages = SqlMessages(self._conn, keys, people)
        self.retention = SqlRetention(self._conn, self._policy, people)
        self.reviews = SqlReviews(self._conn)
        self.requests = SqlRequests(self._conn, keys, people)
        self.receipts = SqlErasureReceipts(self._conn)
        self.archive = SqlArchive(self._conn, self._vault, keys, self._policy, people)
        self.notices = SqlNoticeVersions(self._conn)
        self.breaches = SqlBreaches(self._conn)
        self.figures = SqlFigures(self._conn)
        self.statistics = SqlStatistics(self._conn)
        self.confirmations = SqlConfirmations(self._conn)
        self.exports = SqlExports(self._conn)
        self.reconciliations = SqlReconciliations(self._conn)
        self.users = SqlUsers(self._conn)
        self.sessions = SqlSessions(self._conn)
        self.throttles = SqlThrottles(self._conn)
        self.demo_messages = SqlDemoMessages(self._conn)
        self.cookie_choices = SqlCookieChoices(self._conn)
        self.public_requests = SqlPublicRequests(self._conn, self._vault, keys)
        self.answer_links = SqlAnswerLinks(self._conn, self._vault)
        self.rate_limits = SqlRateLimits(self._conn)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            # The info travels with the pooled connection: the next unit of work on it may be no preview.
            self._conn.info.pop(PREVIEW, None)
            forget_people(self._conn)
            self._conn.close()
            self._conn = None
        if isinstance(exc, IntegrityError):
            # A unique index caught what the service's own check could not see (a concurrent writer).
            raise Conflict("the change conflicts with data stored at the same time; nothing was stored") from None

    def commit(self) -> None:
        try:
            self.audit.flush()  # the entries recorded, in the transaction they record
            self._tx.commit()
        except IntegrityError:
            raise Conflict("the change conflicts with data stored at the same time; nothing was stored") from None
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def after_commit(self, action: Callable[[], None]) -> None:
        """`action` runs once the transaction has committed (the erasure journal's marks); never on a rollback."""
        self._after_commit.append(action)


class SqlUnitOfWorkFactory:
    def __init__(
        self, engine: Engine, vault: Vault, policy: Policy, real_now: Callable[[], datetime] | None = None
    ) -> None:
        self.engine = engine
        self.vault = vault
        self.policy = policy
        self.real_now = real_now  # set: the clock is moved on a real register, every unit of work is a preview

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.vault, self.policy, self.real_now)


def stored_policy_text(engine: Engine) -> str | None:
    """The text of the policy version in force, read before a policy-aware unit of work can exist."""
    with engine.connect() as conn:
        c = t.policy_versions.c
        return conn.execute(select(c.text).order_by(c.id.desc()).limit(1)).scalar()


def installed_master_key(engine: Engine) -> str | None:
    """The id of the master key this database was initialised with, if it was."""
    with engine.connect() as conn:
        return conn.execute(select(t.installation.c.master_key_id).where(t.installation.c.id == 1)).scalar()


def record_master_key(engine: Engine, key_id: str, at: datetime, simulation: bool) -> None:
    """The first init: the key the database belongs to, and whether it is a simulation (made with --now)."""
    with engine.begin() as conn:
        conn.execute(insert(t.installation).values(id=1, master_key_id=key_id, created_at=at, simulation=simulation))


def is_simulation(engine: Engine) -> bool:
    """Whether the register was initialised as a simulation, whose clock any command may move."""
    with engine.connect() as conn:
        return bool(conn.execute(select(t.installation.c.simulation).where(t.installation.c.id == 1)).scalar())


def make_simulation_if_empty(engine: Engine) -> bool:
    """Mark a register that holds nobody a simulation (it is about to hold synthetic people); whether it is one."""
    with engine.begin() as conn:
        conn.execute(
            update(t.installation)
            .where(t.installation.c.id == 1, ~exists(select(t.subjects.c.id)))
            .values(simulation=True)
        )
    return is_simulation(engine)
