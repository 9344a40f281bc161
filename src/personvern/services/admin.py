"""Setting the system up and checking it: loading the policy into the database, verifying the audit chain."""

from __future__ import annotations

from dataclasses import dataclass

from personvern.domain.access import Actor, Permission
from personvern.domain.audit import AuditEvent, ChainReport
from personvern.domain.errors import PolicyRejected
from personvern.policy.loader import LoadedPolicy, PolicyInvalid, parse_policy
from personvern.policy.schema import FieldSpec
from personvern.services.ports import Clock, PolicyRecord, UnitOfWorkFactory


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


def verify_audit(uow_factory: UnitOfWorkFactory, actor: Actor) -> ChainReport:
    actor.require(Permission.AUDIT_VERIFY)
    with uow_factory() as uow:
        return uow.audit.verify()
