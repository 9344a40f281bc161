"""The website banner's public endpoints through the app (no server), on SQLite and PostgreSQL.

POST /api/v1/public/cookie-consents records a choice (201), refuses a stale banner (409) and bad bodies (422)
storing nothing, and turns `Sec-GPC: 1` into a refusal of everything optional; GET cookie-categories gives the
banner its texts and version; /consent.js and the example page are served.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personvern.api.app import create_app
from personvern.bootstrap import Runtime
from personvern.domain.cookies import banner_version

CONSENTS = "/api/v1/public/cookie-consents"
CATEGORIES = "/api/v1/public/cookie-categories"
VISITOR = "Vb8k2QmX0pLr7TzN4wYcHa"  # 22 characters of base64url, as the banner makes them


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        yield c


def _version(runtime: Runtime) -> str:
    assert runtime.policy.policy.cookies is not None
    return banner_version(runtime.policy.policy.cookies)


def _stored(runtime: Runtime) -> list[Any]:
    from sqlalchemy import select

    from personvern.store import tables as t

    with runtime.engine.connect() as conn:
        return list(conn.execute(select(t.cookie_consents)))


def _body(runtime: Runtime, **changes: Any) -> dict[str, Any]:
    body = {
        "visitor": VISITOR,
        "choices": {"necessary": True, "statistics": True, "marketing": False},
        "banner_version": _version(runtime),
        "method": "custom",
    }
    return body | changes


def test_a_choice_is_recorded_with_time_categories_version_method_and_visitor(
    client: TestClient, runtime: Runtime
) -> None:
    answer = client.post(CONSENTS, json=_body(runtime))
    assert answer.status_code == 201, answer.text
    out = answer.json()
    assert out["choices"] == {"necessary": True, "statistics": True, "marketing": False}
    assert out["banner_version"] == _version(runtime) and out["method"] == "custom"
    (row,) = _stored(runtime)
    assert (row.id, row.visitor, row.method, row.gpc) == (out["id"], VISITOR, "custom", False)
    assert row.at.isoformat() == "2026-11-25T12:00:00+00:00"  # the runtime's clock
    # A category left out is refused (consent needs a clear act); necessary ones are always on.
    answer = client.post(CONSENTS, json=_body(runtime, choices={"statistics": True}))
    assert answer.json()["choices"] == {"necessary": True, "statistics": True, "marketing": False}
    # The audit log says a choice was made, and how, without the visitor's id.
    from sqlalchemy import select

    from personvern.store import tables as t

    a = t.audit_log.c
    with runtime.engine.connect() as conn:
        logged = list(conn.execute(select(a.actor, a.role, a.details).where(a.action == "cookie.choice")))
    assert len(logged) == 2 and logged[0].role == "subject"
    assert all(VISITOR not in row.details for row in logged)
    assert '"given":["statistics"]' in logged[0].details


def test_sec_gpc_refuses_every_optional_category_whatever_the_body_says(client: TestClient, runtime: Runtime) -> None:
    body = _body(runtime, choices={"necessary": True, "statistics": True, "marketing": True}, method="accept_all")
    answer = client.post(CONSENTS, json=body, headers={"Sec-GPC": "1"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["choices"] == {"necessary": True, "statistics": False, "marketing": False}
    assert answer.json()["method"] == "gpc"
    (row,) = _stored(runtime)
    assert row.method == "gpc" and row.gpc is True
    # Any other value of the header is no signal (the GPC specification: "1").
    assert client.post(CONSENTS, json=body, headers={"Sec-GPC": "0"}).json()["method"] == "accept_all"


def test_a_stale_banner_version_is_a_conflict_and_nothing_is_stored(client: TestClient, runtime: Runtime) -> None:
    answer = client.post(CONSENTS, json=_body(runtime, banner_version="0123456789abcdef"))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "conflict"
    assert _version(runtime) in answer.json()["error"]["message"]  # what to ask again with
    assert _stored(runtime) == []


BAD: list[tuple[dict[str, Any], str]] = [
    ({"visitor": "short"}, "visitor"),
    ({"visitor": "x" * 21 + "!"}, "visitor"),
    ({"visitor": "a" * 65}, "visitor"),
    ({"choices": {"tracking": True}}, "choices.tracking"),
    ({"choices": {"statistics": "yes"}}, "choices.statistics"),
    ({"choices": {"necessary": False}}, "choices.necessary"),
    ({"choices": []}, "choices"),
    ({"banner_version": "not-a-version!!!"}, "banner_version"),
    ({"method": "maybe"}, "method"),
    ({"method": "accept_all"}, "choices"),  # accept_all with marketing false
    ({"method": "reject_all"}, "choices"),  # reject_all with statistics true
    ({"extra": 1}, "extra"),
]


def test_each_bad_or_missing_field_is_refused_naming_it_and_nothing_is_stored(
    client: TestClient, runtime: Runtime
) -> None:
    # One register for every case (a register per case would cost a second each, for the same check).
    for changes, field in BAD:
        answer = client.post(CONSENTS, json=_body(runtime, **changes))
        assert answer.status_code == 422, (changes, answer.text)
        assert answer.json()["error"]["field"] == field, (changes, answer.text)
    for missing in ("visitor", "choices", "banner_version", "method"):
        body = _body(runtime)
        del body[missing]
        answer = client.post(CONSENTS, json=body)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == missing
    assert client.post(CONSENTS, content=b"not json", headers={"Content-Type": "application/json"}).status_code == 422
    assert _stored(runtime) == []


def test_the_categories_come_in_either_language_with_the_version(client: TestClient, runtime: Runtime) -> None:
    nb = client.get(CATEGORIES, params={"lang": "nb"}).json()
    en = client.get(CATEGORIES, params={"lang": "en"}).json()
    assert nb["version"] == en["version"] == _version(runtime)
    assert [c["name"] for c in nb["categories"]] == ["necessary", "statistics", "marketing"]
    assert nb["categories"][0]["necessary"] is True and nb["categories"][0]["label"] == "Nødvendige"
    assert en["categories"][1]["label"] == "Statistics"
    assert "pv_consent" in [k["name"] for k in nb["categories"][0]["cookies"]]
    assert nb["remember_days"] == 365
    assert client.get(CATEGORIES, params={"lang": "de"}).status_code == 422


def test_the_company_origins_may_call_from_their_pages_and_others_not(client: TestClient, runtime: Runtime) -> None:
    site = {"Origin": "https://24center.no"}
    preflight = client.options(CONSENTS, headers=site | {"Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://24center.no"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    stale = client.post(CONSENTS, json=_body(runtime, banner_version="0" * 16), headers=site)
    assert stale.status_code == 409 and stale.headers["Access-Control-Allow-Origin"] == "https://24center.no"
    other = client.get(CATEGORIES, headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers


def test_the_script_and_the_example_page_are_served(client: TestClient) -> None:
    script = client.get("/consent.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "personvernConsent" in script.text
    page = client.get("/personvern/nettsted-eksempel")
    assert page.status_code == 200
    assert '<script src="/consent.js" defer></script>' in page.text
    assert 'type="text/plain" data-cookie-category="statistics"' in page.text
    assert "Endre cookievalg" in page.text and "pv_consent" in page.text
    assert "set-cookie" not in page.headers  # the page itself stores nothing


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["visitor", "choices", "banner_version", "method", "x"]),
        st.one_of(
            JSON,
            st.sampled_from([VISITOR, "accept_all", "reject_all", "custom", "gpc"]),
            st.dictionaries(
                st.sampled_from(["necessary", "statistics", "marketing", "other", ""]), st.booleans() | JSON, max_size=4
            ),
        ),
        max_size=5,
    ),
    gpc=st.booleans(),
    current=st.booleans(),
)
def test_no_body_gets_a_server_error_and_a_refused_body_stores_nothing(
    client: TestClient, runtime: Runtime, body: dict[str, Any], gpc: bool, current: bool
) -> None:
    if current and "banner_version" in body:
        body["banner_version"] = _version(runtime)
    before = len(_stored(runtime))
    answer = client.post(CONSENTS, json=body, headers={"Sec-GPC": "1"} if gpc else {})
    assert answer.status_code < 500, answer.text
    after = _stored(runtime)
    if answer.status_code != 201:
        assert answer.status_code in (409, 422), answer.text
        assert len(after) == before
        return
    assert len(after) == before + 1
    choices = answer.json()["choices"]
    assert choices["necessary"] is True
    if gpc or body.get("method") == "gpc":
        assert choices == {"necessary": True, "statistics": False, "marketing": False}


def test_one_client_address_is_limited_and_told_when_to_come_back(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from personvern.domain.otp import Limit
    from personvern.services import cookies

    monkeypatch.setattr(cookies, "CHOICES_PER_CLIENT", Limit("cookie-choice", 2, cookies.CHOICES_PER_CLIENT.window))
    assert [client.post(CONSENTS, json=_body(runtime)).status_code for _ in range(3)] == [201, 201, 429]
    refused = client.post(CONSENTS, json=_body(runtime))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert len(_stored(runtime)) == 2
