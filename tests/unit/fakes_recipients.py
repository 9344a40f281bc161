"""In-memory fakes of the confirmation, export and reconciliation ports (used through tests/unit/fakes.py)."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from personvern.domain.confirmations import Confirmation, ConfirmationState
from personvern.domain.reconcile import Reconciliation
from personvern.services.ports import Disclosed, ExportRecord


@dataclass
class RecipientsState:
    confirmations: dict[str, Confirmation] = field(default_factory=dict)
    exports: dict[str, tuple[ExportRecord, dict[str, tuple[str, ...]]]] = field(default_factory=dict)
    reconciliations: dict[str, Reconciliation] = field(default_factory=dict)

    def copy(self) -> RecipientsState:
        return RecipientsState(
            dict(self.confirmations),
            dict(self.exports),
            {k: copy.deepcopy(v) for k, v in self.reconciliations.items()},
        )


class FakeConfirmations:
    def __init__(self, state: RecipientsState) -> None:
        self._state = state

    def add(self, confirmations: Sequence[Confirmation]) -> None:
        for c in confirmations:
            assert c.id not in self._state.confirmations, f"confirmation {c.id} added twice"
            self._state.confirmations[c.id] = c

    def get(self, confirmation_id: str, lock: bool = False) -> Confirmation | None:
        return self._state.confirmations.get(confirmation_id)

    def save(self, confirmation: Confirmation) -> None:
        assert confirmation.id in self._state.confirmations
        self._state.confirmations[confirmation.id] = confirmation

    def for_request(self, request_id: str) -> list[Confirmation]:
        found = [c for c in self._state.confirmations.values() if c.request_id == request_id]
        return sorted(found, key=lambda c: (c.recipient, c.id))

    def for_outbox(self, outbox_id: str) -> list[Confirmation]:
        return sorted((c for c in self._state.confirmations.values() if c.outbox_id == outbox_id), key=lambda c: c.id)

    def in_states(self, states: Collection[ConfirmationState], limit: int) -> list[Confirmation]:
        found = [c for c in self._state.confirmations.values() if c.state in states]
        found.sort(key=lambda c: (c.due_on is None, c.due_on or c.created_at.date(), c.created_at, c.id))
        return found[:limit]


class FakeExports:
    def __init__(self, state: RecipientsState) -> None:
        self._state = state

    def add(self, export: ExportRecord, people: Mapping[str, Sequence[str]]) -> None:
        assert export.id not in self._state.exports
        self._state.exports[export.id] = (export, {sid: tuple(f) for sid, f in people.items()})

    def for_subject(self, subject_id: str) -> list[ExportRecord]:
        found = [replace(e, fields=ids[subject_id]) for e, ids in self._state.exports.values() if subject_id in ids]
        return sorted(found, key=lambda e: (e.at, e.id))

    def recipients_of(self, subject_ids: Collection[str]) -> dict[str, set[str]]:
        wanted = set(subject_ids)
        out: dict[str, set[str]] = {}
        for export, ids in self._state.exports.values():
            for sid in wanted.intersection(ids):
                out.setdefault(sid, set()).add(export.recipient)
        return out

    def figures(self) -> list[Disclosed]:
        out = []
        for kind, to in sorted({(e.kind, e.recipient) for e, _ in self._state.exports.values()}):
            done = [e for e, _ in self._state.exports.values() if (e.kind, e.recipient) == (kind, to)]
            out.append(Disclosed(kind, to, sum(e.subjects for e in done), max(e.at for e in done)))
        return out


class FakeReconciliations:
    def __init__(self, state: RecipientsState) -> None:
        self._state = state

    def save(self, run: Reconciliation) -> None:
        self._state.reconciliations[run.id] = copy.deepcopy(run)

    def last(self, recipient: str) -> Reconciliation | None:
        runs = [r for r in self._state.reconciliations.values() if r.recipient == recipient]
        if not runs:
            return None
        return copy.deepcopy(max(runs, key=lambda r: (r.started_at, r.id)))
