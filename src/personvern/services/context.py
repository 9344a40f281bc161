"""What every use case is given: the policy in force, storage, the clock and who acts; and how ids are made."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from personvern.domain.access import Actor
from personvern.domain.audit import AuditEvent
from personvern.domain.errors import invalid
from personvern.policy.schema import Policy
from personvern.services.ports import Clock, ErasureJournal, Mapper, UnitOfWork, UnitOfWorkFactory, serial_map


@dataclass(frozen=True)
class Context:
    """What every use case needs: the policy in force, storage, the clock and who is acting."""

    policy: Policy
    uow: UnitOfWorkFactory
    clock: Clock
    actor: Actor
    map: Mapper = serial_map  # how CPU-bound batches (import validation) are spread over cores
    policy_sha256: str = ""  # the policy text in force: what a person was shown when it had no rendered notice
    notice_sha256: str = ""  # the privacy notice in force (default language, Markdown), as published by init
    # Where the public privacy page is reached from outside (PERSONVERN_PUBLIC_URL): links in messages to people
    # (an answer to fetch, consent to manage) point there.
    public_url: str = "http://127.0.0.1:8000"
    # The self-service links' key (store/crypto.py Vault.link_key); None: no personal links are made.
    link_key: bytes | None = None
    # Where every erasure is also written down outside the database (store/erasure_journal.py); None: nowhere.
    erasures: ErasureJournal | None = None

    def default_purpose(self) -> str:
        return "bookkeeping" if self.actor.role == "auditor" else "service"

    def check_purpose(self, purpose: str | None) -> str:
        chosen = purpose or self.default_purpose()
        if chosen not in self.policy.purposes:
            raise invalid("purpose", f"unknown purpose {chosen!r}; purposes: {', '.join(self.policy.purposes)}")
        return chosen

    def record(self, uow: UnitOfWork, *events: AuditEvent) -> None:
        uow.audit.append(events, self.actor.name, self.actor.role, self.clock.now())


def new_id() -> str:
    """A random id whose first 48 bits are the millisecond, so new rows land at the end of every index."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"
