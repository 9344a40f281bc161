"""Fixtures of the CLI end-to-end tests: which backend runs, and a guard that the database did not change."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import snapshot, sqlite_file

# Debian's Chromium (Playwright cannot download browsers here), with the flags DEVELOPERS.md gives.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Without Chromium the browser tests skip, saying so; CI sets PERSONVERN_REQUIRE_BROWSER, and then they run and
# fail at the launch instead of skipping unseen.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("PERSONVERN_REQUIRE_BROWSER"),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for a module's browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


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


# ---------------------------------------------------------------- the staff console (web/), through the app factory

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Page:
    """One browser's view of the console: its own cookies, the CSRF token of the page it last read."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.csrf: str | None = None
        self.last: Any = None

    def _seen(self, response: Any) -> Any:
        self.last = response
        found = CSRF.search(response.text) if "html" in response.headers.get("content-type", "") else None
        if found:
            self.csrf = found.group(1)
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self._seen(self.client.get(path, **kw))

    def post(self, path: str, data: dict[str, str] | None = None, csrf: bool = True, **kw: Any) -> Any:
        form = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/console/")
            form.setdefault("csrf", self.csrf or "")
        return self._seen(self.client.post(path, data=form, **kw))

    def follow(self, response: Any) -> Any:
        assert response.status_code in (302, 303, 307, 308), (response.status_code, response.text[:500])
        return self.get(response.headers["location"])


class Console:
    """The console through the app factory on the test's database; users per role, signed in through the forms."""

    def __init__(self, pv: Any) -> None:
        from personvern.api.app import create_app
        from personvern.bootstrap import Settings, open_runtime
        from tests.conftest import NOW

        self.pv = pv
        self.runtime = open_runtime(Settings.resolve(pv.db_url, NOW, "ceo"))
        self.app = create_app(self.runtime)
        self._clients: list[Any] = []
        self.passwords: dict[str, str] = {}

    def page(self, base_url: str = "http://127.0.0.1") -> Page:
        from fastapi.testclient import TestClient

        client = TestClient(self.app, base_url=base_url, follow_redirects=False, raise_server_exceptions=False)
        self._clients.append(client)
        return Page(client)

    def user(self, role: str = "ceo", name: str | None = None, language: str = "en", changed: bool = True) -> str:
        """A user of the role (added as the CEO would); `changed`: their own password chosen already."""
        from personvern.services import users

        name = name or f"{role}-user"
        issued = users.add_user(self.runtime.context(), name, role, language)
        password = issued.password or ""
        if changed:
            password = "correct horse battery staple"
            users.change_password(self.runtime.uow, self.runtime.clock, issued.user, issued.password or "", password)
        self.passwords[name] = password
        return name

    def sign_in(self, name: str, password: str | None = None, page: Page | None = None) -> Any:
        page = page or self.page()
        page.get("/console/sign-in")
        return page.post(
            "/console/sign-in", {"name": name, "password": password or self.passwords[name], "next": "/console/"}
        )

    def signed_in(self, role: str = "ceo", language: str = "en") -> Page:
        """A page signed in as a new user of the role, whose first password is changed already."""
        page = self.page()
        answer = self.sign_in(self.user(role, language=language), page=page)
        assert answer.status_code == 303, answer.text[:500]
        page.follow(answer)
        return page

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.runtime.close()


def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its lightest for tests that sign in often: the default costs 64 MiB and most of a second
    on a busy two-core machine, for every user added, sign-in and password change. Its strength is not tested here."""
    from argon2 import PasswordHasher

    from personvern.services import users

    light = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(users, "_hasher", lambda: light)


@pytest.fixture
def console(pv_ready: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """The console on an initialised simulation register of each backend, the clock at NOW."""
    cheap_passwords(monkeypatch)
    found = Console(pv_ready)
    try:
        yield found
    finally:
        found.close()
