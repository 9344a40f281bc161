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


class Api:
    """The HTTP API through the app factory (no server), on the test's database, with a user per role."""

    def __init__(self, pv: Any) -> None:
        from fastapi.testclient import TestClient

        from personvern.api.app import create_app
        from personvern.bootstrap import Settings, open_runtime
        from tests.conftest import NOW

        self.pv = pv
        self.runtime = open_runtime(Settings.resolve(pv.db_url, NOW, "ceo"))
        self.client = TestClient(create_app(self.runtime), raise_server_exceptions=False)
        self._tokens: dict[str, str] = {}

    def token(self, role: str = "ceo") -> str:
        """The token of a user named after the role (added on first use, as the CEO would)."""
        if role not in self._tokens:
            from personvern.services import users

            issued = users.add_user(self.runtime.context(), f"{role}-user", role)
            self._tokens[role] = issued.token
        return self._tokens[role]

    def headers(self, role: str | None = "ceo") -> dict[str, str]:
        return {} if role is None else {"Authorization": f"Bearer {self.token(role)}"}

    def get(self, path: str, role: str | None = "ceo", **kw: Any) -> Any:
        return self.client.get(path, headers=self.headers(role), **kw)

    def post(self, path: str, role: str | None = "ceo", **kw: Any) -> Any:
        return self.client.post(path, headers=self.headers(role), **kw)

    def put(self, path: str, role: str | None = "ceo", **kw: Any) -> Any:
        return self.client.put(path, headers=self.headers(role), **kw)

    def patch(self, path: str, role: str | None = "ceo", **kw: Any) -> Any:
        return self.client.patch(path, headers=self.headers(role), **kw)

    def delete(self, path: str, role: str | None = "ceo", **kw: Any) -> Any:
        return self.client.delete(path, headers=self.headers(role), **kw)

    def close(self) -> None:
        self.client.close()
        self.runtime.close()


@pytest.fixture
def api(pv_ready: Any) -> Iterator[Api]:
    """The API on an initialised simulation register of each backend; `api.get(path, role=...)`."""
    client = Api(pv_ready)
    try:
        yield client
    finally:
        client.close()


def error_of(response: Any) -> dict[str, Any]:
    """The error object of an API answer, checked to have the contract's shape (DESIGN.md §4b)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "field"} <= set(body["error"]), body
    return body["error"]
