"""Setting the system up and checking it: loading the policy into the database, verifying the audit chain."""

from __future__ import annotations

from dataclasses import dataclass

from personvern.domain.access import Actor, Permission
from personvern.domain.audit import AuditEvent, ChainReport
from personvern.policy.loader import LoadedPolicy
from personvern.services.ports import Clock, PolicyRecord, UnitOfWorkFactory


@dataclass(frozen=True)
class PolicyLoad:
    version: str
    sha256: str
    changed: bool
    previous: str | None


def load_policy_version(uow_factory: UnitOfWorkFactory, clock: Clock, actor: Actor, loaded: LoadedPolicy) -> PolicyLoad:
    """Record the policy in force; a new text is a new version, and the old ones stay for the record (Art. 5(2))."""
    actor.require(Permission.POLICY_MANAGE)
    with uow_factory() as uow:
        current = uow.policies.current()
        if current is not None and current.sha256 == loaded.sha256:
            return PolicyLoad(current.version, current.sha256, False, current.version)
        now = clock.now()
        uow.policies.record(PolicyRecord(loaded.policy.version, loaded.sha256, loaded.text, now))
        uow.audit.append(
            [
                AuditEvent(
                    "policy.load",
                    None,
                    None,
                    {"version": loaded.policy.version, "sha256": loaded.sha256, "source": loaded.source},
                )
            ],
            actor.name,
            actor.role,
            now,
        )
        uow.commit()
    return PolicyLoad(loaded.policy.version, loaded.sha256, True, current.version if current else None)


def verify_audit(uow_factory: UnitOfWorkFactory, actor: Actor) -> ChainReport:
    actor.require(Permission.AUDIT_VERIFY)
    with uow_factory() as uow:
        return uow.audit.verify()
