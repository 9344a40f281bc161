"""Fixtures of the CLI end-to-end tests: which backend runs, and a guard that the database did not change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest

from tests.e2e.support import snapshot, sqlite_file


@pytest.fixture
def backend(pv: Any) -> str:
    """'sqlite' or 'postgresql': the database this run of the test uses."""
    return "sqlite" if sqlite_file(pv.db_url) is not None else "postgresql"


@pytest.fixture
def unchanged(pv: Any) -> Callable[[], AbstractContextManager[None]]:
    """`with unchanged(): ...` fails unless every row of every table is the same afterwards."""

    @contextmanager
    def guard() -> Iterator[None]:
        before = snapshot(pv.db_url)
        yield
        after = snapshot(pv.db_url)
        assert after == before, "the database changed"

    return guard
