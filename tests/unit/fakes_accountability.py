"""In-memory fakes of the notice, breach and record-figure ports (used through tests/unit/fakes.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from personvern.domain.breaches import Breach, Notification
from personvern.domain.outbox import OutboxState
from personvern.services.ports import Deliveries, NoticeVersion

if TYPE_CHECKING:
    from tests.unit.fakes import State


@dataclass
class AccountabilityState:
    notices: list[NoticeVersion] = field(default_factory=list)
    breaches: dict[str, Breach] = field(default_factory=dict)

    def copy(self) -> AccountabilityState:
        return AccountabilityState(list(self.notices), dict(self.breaches))


class FakeNotices:
    def __init__(self, state: AccountabilityState) -> None:
        self._state = state

    def add(self, notice: NoticeVersion) -> bool:
        if any(n.sha256 == notice.sha256 and n.policy_sha256 == notice.policy_sha256 for n in self._state.notices):
            return False
        self._state.notices.append(notice)
        return True

    def find(self, sha256_prefix: str) -> list[NoticeVersion]:
        return [n for n in self._state.notices if n.sha256.startswith(sha256_prefix)]

    def current(self, policy_sha256: str, language: str, format: str) -> NoticeVersion | None:
        found = [
            n
            for n in self._state.notices
            if (n.policy_sha256, n.language, n.format) == (policy_sha256, language, format)
        ]
        return max(found, key=lambda n: n.created_at) if found else None

    def all(self) -> list[NoticeVersion]:
        return sorted(self._state.notices, key=lambda n: n.created_at, reverse=True)


class FakeBreaches:
    """Breaches in a dict; notifications kept on the breach, as the SQL store returns them."""

    def __init__(self, state: AccountabilityState) -> None:
        self._state = state

    def add(self, breach: Breach) -> None:
        assert breach.id not in self._state.breaches, f"breach {breach.id} added twice"
        assert not breach.notifications, "a new breach has no notifications"
        self._state.breaches[breach.id] = breach

    def get(self, breach_id: str) -> Breach | None:
        return self._state.breaches.get(breach_id)

    def update(self, breach: Breach) -> None:
        held = self._state.breaches[breach.id]
        subjects = held.subject_ids + tuple(s for s in breach.subject_ids if s not in held.subject_ids)
        self._state.breaches[breach.id] = replace(breach, subject_ids=subjects, notifications=held.notifications)

    def all(self) -> list[Breach]:
        return sorted(self._state.breaches.values(), key=lambda b: (-b.discovered_at.timestamp(), b.id))

    def notify(self, notification: Notification) -> None:
        held = self._state.breaches[notification.breach_id]
        told = tuple(sorted((*held.notifications, notification), key=lambda n: (n.at, n.id)))
        self._state.breaches[held.id] = replace(held, notifications=told)


class FakeFigures:
    def __init__(self, state: State) -> None:
        self._state = state

    def subjects_per_kind(self) -> dict[str, int]:
        return dict(Counter(s.kind for s in self._state.subjects.values()))

    def deliveries(self) -> list[Deliveries]:
        delivered = [r for r in self._state.outbox.values() if r.state is OutboxState.DELIVERED]
        out = []
        for kind in sorted({r.kind for r in delivered}):
            rows = [r for r in delivered if r.kind == kind]
            last = max((r.delivered_at for r in rows if r.delivered_at is not None), default=None)
            out.append(Deliveries(kind, len(rows), last))
        return out
