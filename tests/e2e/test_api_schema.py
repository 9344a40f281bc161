"""schemathesis over /openapi.json, signed in as the CEO: no 5xx, and no answer that breaks its own schema.

Every route the app has is generated for from its documented schema (valid and invalid input alike) on a
simulation register in SQLite; each answer must be a documented status, with a documented content type and
a body matching its documented schema. Bounded to a few examples per operation, to run in about a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from personvern.api.app import create_app
from personvern.bootstrap import Runtime, Settings, initialise
from personvern.services import users
from tests.conftest import NOW
from tests.fakes_hubspot import FakeHubSpot, pointed_at

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 5  # per operation: about 60 operations, each request a few milliseconds on SQLite


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app on a fresh simulation register, and the header of a signed-in CEO. HubSpot is a local fake: a
    reconciliation reads it (without one configured, the API answers 503, as documented)."""
    folder: Path = tmp_path_factory.mktemp("schema")
    runtime, _ = initialise(Settings.resolve(f"sqlite:///{folder / 'pv.db'}", NOW, "ceo", environ={}))
    token = users.add_user(runtime.context(), "ceo-user", "ceo").token
    app = create_app(runtime)
    try:
        with pytest.MonkeyPatch.context() as mp, pointed_at(FakeHubSpot(), mp):
            yield app, {"Authorization": f"Bearer {token}"}
    finally:
        runtime.close()


def _document() -> dict[str, Any]:
    """/openapi.json as the app serves it. It depends on the routes only, so it is read from an app that no
    request reaches; the cases go to the app of the `signed_in` register."""
    return create_app(cast(Runtime, None)).openapi()


# The CEO's own user is left alone: disabling it or replacing its token would sign the run out. (The schema is
# loaded here rather than from a fixture: schemathesis' lazy loader does not run under pytest 9.)
schema = schemathesis.openapi.from_dict(_document()).exclude(path_regex=r"^/api/v1/users/\{name\}/")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_the_api_keeps_its_own_contract(case: Any, signed_in: tuple[Any, dict[str, str]]) -> None:
    app, headers = signed_in
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)
