"""Connectors to the outside world (LINK Mobility for SMS) and the outbox worker that drives them."""

from __future__ import annotations

from typing import Any, Protocol

from personvern.domain.outbox import OutboxRow


class Connector(Protocol):
    """Hands one outbox row to its receiver and returns what the receiver said (ids and codes, never personal data).

    Raises one of `connectors.errors`; the row's id is the idempotency key, sent along so that the receiver
    can recognise a row it has seen before (a worker killed after sending, before recording).
    """

    kind: str

    def deliver(self, row: OutboxRow) -> dict[str, Any]: ...
