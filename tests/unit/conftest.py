"""Fixtures for the database-free unit tests: the bundled policy, a fixed clock and the in-memory unit of work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from personvern.domain.access import Actor
from personvern.policy.loader import LoadedPolicy, load_policy
from personvern.policy.schema import Policy
from personvern.services.context import Context
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def loaded() -> LoadedPolicy:
    return load_policy()


@pytest.fixture(scope="session")
def policy(loaded: LoadedPolicy) -> Policy:
    return loaded.policy


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def factory(policy: Policy) -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(policy)


@pytest.fixture
def as_role(policy: Policy, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> Callable[[str], Context]:
    """A use-case context for a role, all sharing one register and one clock."""

    def make(role: str) -> Context:
        return Context(policy, factory, clock, Actor(f"{role}-user", role))

    return make


@pytest.fixture
def ceo(as_role: Callable[[str], Context]) -> Context:
    return as_role("ceo")


@pytest.fixture
def staff(as_role: Callable[[str], Context]) -> Context:
    return as_role("staff")
