"""Setting the system up and checking it: loading the policy, keying, verifying and reading the audit chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from personvern.domain.access import Actor, Permission
from personvern.domain.audit import AuditEntry, AuditEvent, AuditQuery, ChainReport, Checkpoint, against_checkpoint
from personvern.domain.errors import PolicyRejected, invalid
from personvern.policy.loader import LoadedPolicy, PolicyInvalid, parse_policy
from personvern.policy.schema import FieldSpec
from personvern.services.ports import AuditCheckpoints, Clock, PolicyRecord, UnitOfWorkFactory


@dataclass(frozen=True)
class PolicyLoad:
    version: str
    sha256: str
    changed: bool
    previous: str | None
    indexed: tuple[str, ...] = ()  # fields the new policy looks up that the old one did not: their index was built


def load_policy_version(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, loaded: LoadedPolicy) -> PolicyLoad:
    """Record the policy in force; a new text is a new version, and the old ones stay for the record (Art. 5(2))."""
    actor.require(Permission.POLICY_MANAGE)
    with uow_factory() as uow:
        current = uow.policies.current()
        if current is not None and current.sha256 == loaded.sha256:
            return PolicyLoad(current.version, current.sha256, False, current.version)
        if current is not None:
            _refuse_orphans(uow.subjects.stored_fields(), loaded)
        now = clock.now()
        uow.policies.record(PolicyRecord(loaded.policy.version, loaded.sha256, loaded.text, now))
        events = [
            AuditEvent(
                "policy.load",
                None,
                None,
                {"version": loaded.policy.version, "sha256": loaded.sha256, "source": loaded.source},
            )
        ]
        built: list[str] = []
        if current is not None:
            # New rules, new schedules: each is recomputed before the next retention plan, run or review.
            uow.retention.mark_stale()
            built, dropped = _index_changes(_lookups_of(current.text), loaded.policy.lookup_fields())
            counts = {field: uow.subjects.index_field(field) for field in built}
            for field in dropped:
                uow.subjects.drop_index(field)  # a digest nobody may look up is data kept for nothing
            if built or dropped:
                events.append(AuditEvent("subject.index", None, None, {"built": counts, "dropped": dropped}))
        uow.audit.append(events, actor.name, actor.role, now)
        uow.commit()
    previous = current.version if current else None
    return PolicyLoad(loaded.policy.version, loaded.sha256, True, previous, tuple(built))


def _lookups_of(text: str) -> dict[str, FieldSpec] | None:
    """The fields the stored policy looked up; None when its text no longer reads (then every index is rebuilt)."""
    try:
        return parse_policy(text, "policy in force").policy.lookup_fields()
    except PolicyInvalid:
        return None


def _index_changes(old: dict[str, FieldSpec] | None, new: dict[str, FieldSpec]) -> tuple[list[str], list[str]]:
    """Fields whose blind index must be built (newly looked up, or looked up another way) and those to drop.

    A register that learns to find people by name (a field now of type `name`) gets its existing people
    indexed here, in the transaction that loads the policy; the key to compute the digests is only here, in
    the code, never in a migration's SQL.
    """
    if old is None:
        return sorted(new), []
    built = sorted(f for f, spec in new.items() if f not in old or old[f].type is not spec.type)
    dropped = sorted(f for f in old if f not in new)
    return built, dropped


def _refuse_orphans(stored: set[tuple[str, str]], loaded: LoadedPolicy) -> None:
    """A new policy must still declare every kind and field the register holds data for.

    Otherwise data would sit in the register that no declared purpose covers (Art. 5(1)(b)-(c)); it must
    be erased or the policy kept until then, which is a decision for a person, not a side effect of init.
    """
    policy = loaded.policy
    problems = []
    for kind, field in sorted(stored):
        if kind not in policy.kinds:
            problems.append(f"subjects of kind {kind!r} are stored, but the new policy does not declare the kind")
        elif field not in policy.fields_for(kind):
            problems.append(
                f"field {field!r} is stored for kind {kind!r}, but the new policy does not declare it there"
            )
    if problems:
        raise PolicyRejected(
            "\n".join([f"{loaded.source}: the new policy does not cover data already stored:", *sorted(set(problems))])
        )


def start_audit_chain(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, simulation: bool) -> bool:
    """Key the audit chain if it is not yet (run by `init`, which has the master key); True when it was done now."""
    actor.require(Permission.POLICY_MANAGE)
    with uow_factory() as uow:
        started = uow.audit.start(actor.name, actor.role, clock.now(), simulation)
        uow.commit()
    return started


def verify_audit(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    checkpoints: AuditCheckpoints | None = None,
    clock: Clock | None = None,
    simulation: bool | None = None,
) -> ChainReport:
    """Walk the chain; it must still hold the last checkpoint's entry. When it verifies, its head is checkpointed.

    `simulation`: what the register says it is (a simulation's clock may go back; on a real one that is a
    break); it must agree with the kind sealed with the chain's head. None: take the sealed kind as it is.
    """
    actor.require(Permission.AUDIT_VERIFY)
    with uow_factory() as uow:
        report = uow.audit.verify(simulation)
        chain_id = uow.audit.chain_id()
        if not report.ok or checkpoints is None or chain_id is None:
            return report
        last = checkpoints.last(chain_id)
        stored = uow.audit.hash_at(last.seq) if last is not None else None
    report = against_checkpoint(report, last, stored)
    fresh = last is None or (last.seq, last.hash) != (report.checked, report.head_hash)
    if report.ok and clock is not None and report.head_hash is not None and fresh:
        checkpoints.add(Checkpoint(chain_id, report.checked, report.head_hash, clock.now()))
    return report


def checkpoint_audit(
    uow_factory: UnitOfWorkFactory, checkpoints: AuditCheckpoints, clock: Clock, every: timedelta
) -> str | None:
    """Checkpoint the chain's head unless the last checkpoint is younger than `every` (the worker's daily duty).

    A checkpoint does not vouch for the chain (`audit verify` still walks all of it); it records that the
    chain reached this entry, so a later cut or a restored older copy of the database shows. A head whose
    seal does not hold is not checkpointed. Returns the signed line written, for the worker's output.
    """
    now = clock.now()
    head = _head(uow_factory, now)
    if head is None or head.seq == 0:
        return None
    last = checkpoints.last(head.chain_id)
    if last is not None and (now - last.at < every or (last.seq, last.hash) == (head.seq, head.hash)):
        return None
    return checkpoints.add(head)


def _head(uow_factory: UnitOfWorkFactory, at: datetime) -> Checkpoint | None:
    """The chain's head as a checkpoint taken at `at`; None before the chain is keyed."""
    with uow_factory() as uow:
        head = uow.audit.head()
    return None if head is None else Checkpoint(*head, at)


def mark_restored(
    uow_factory: UnitOfWorkFactory, checkpoints: AuditCheckpoints, clock: Clock, actor: Actor
) -> Checkpoint | None:
    """After `personvern restore` put a database back on purpose: its chain's head becomes the checkpoints' new
    reference (a restore mark), so `audit verify` no longer reports the entries the restore removed as cut.

    Only after the restored chain verified whole; the mark is signed apart, and only the master key's holder (who
    restores) can write one, so a copy restored behind the CEO's back still shows.
    """
    actor.require(Permission.KEYS_MANAGE)
    mark = _head(uow_factory, clock.now())
    if mark is not None:
        checkpoints.restored(mark)
    return mark


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_before: int | None  # pass as `before` for the next page; None when this page is the last


def read_audit_log(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, query: AuditQuery) -> AuditPage:
    """Who read or changed what, when and why (Art. 5(2), the controller's accountability): the CEO.

    Entries hold ids, field names, purposes and reasons, never a personal value. Reading them is itself
    recorded (`audit.read`, with the filters): the log says who looked at whom, and is as much a read of a
    person's trail as `subject show` is of their data.
    """
    actor.require(Permission.AUDIT_READ)
    if not 1 <= query.limit <= 10_000:
        raise invalid("limit", "must be between 1 and 10000")
    if query.before is not None and query.before < 1:
        raise invalid("before", "must be an entry number of 1 or more")
    with uow_factory() as uow:
        entries = uow.audit.entries(query)
        filters = {
            "actor": query.actor,
            "since": query.since.isoformat() if query.since else None,
            "action": query.action,
            "limit": query.limit,
            "before": query.before,
            "shown": len(entries),
        }
        details = {k: v for k, v in filters.items() if v is not None}
        event = AuditEvent("audit.read", query.subject_id, None, details)
        uow.audit.append([event], actor.name, actor.role, clock.now())
        uow.commit()
    more = len(entries) == query.limit and entries[-1].seq > 1
    return AuditPage(entries, entries[-1].seq if more else None)
