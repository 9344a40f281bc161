"""Hostile bodies to the API, the console and the hooks: refused as they arrive, never a 5xx, nothing partly stored.

Issue 17, item 4: a 10 MB JSON body is refused (413) without being read whole; a CSV line of a million characters
is refused naming its line; LINK Mobility's hooks answer any body with a result or a 4xx.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from personvern.api.bodies import MAX_BODY
from tests.e2e.conftest import error_of
from tests.e2e.support import ONE_TIME, count

STORED = ("subjects", "consent_events", "messages", "outbox", "requests", "audit_log")
USER, PASSWORD = "linkmobility", "a-long-hook-password-0123"
CHUNK = 64 * 1024
TEN_MB = 10 * 1000 * 1000  # bytes


def stored(api: Any) -> dict[str, int]:
    return {table: count(api.pv.db_url, table) for table in STORED}


def asgi_post(app: Any, path: str, kind: str, headers: dict[str, str], size: int) -> tuple[int, bytes, int]:
    """POST a body of `size` bytes in chunks straight to the ASGI app, no Content-Length: (status, body, bytes
    the app pulled). TestClient would read a streamed body whole before the app saw it."""
    pulled = 0
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled >= size:
            return {"type": "http.disconnect"}
        pulled += CHUNK
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled < size}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", kind.encode())]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return answer["status"], answer["body"], pulled


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/api/v1/subjects", "application/json"),
        ("/privacy/request", "application/x-www-form-urlencoded"),
        ("/console/sign-in", "application/x-www-form-urlencoded"),
    ],
)
def test_a_10_mb_body_is_refused_before_it_is_read(api: Any, path: str, kind: str) -> None:
    headers = api.headers()
    before = stored(api)
    declared = api.client.post(path, content=b"x" * TEN_MB, headers={**headers, "Content-Type": kind})
    assert declared.status_code == 413, declared.text[:300]
    assert error_of(declared)["code"] == "too_large"
    assert declared.headers["x-frame-options"] == "DENY"  # the refusal is an answer like any other
    status, body, pulled = asgi_post(api.client.app, path, kind, headers, TEN_MB)
    if kind == "application/json":
        assert status == 413, body[:300]
        assert "larger than 4 MiB; nothing was read or stored" in json.loads(body)["error"]["message"]
    else:  # Starlette's own bound on a form field (1 MiB) comes first: 400
        assert status in (400, 413), body[:300]
    assert pulled <= MAX_BODY + CHUNK, f"the app read {pulled:,} bytes of a body over {MAX_BODY:,}"
    assert stored(api) == before


def test_a_csv_line_of_a_million_characters_is_refused_naming_it(api: Any) -> None:
    api.token()  # the user first (adding one is audited)
    before = stored(api)
    content = ("full_name,email\nKari Nordmann,kari@example.no\n" + "x" * 1_000_000 + ",ola@example.no\n").encode()
    answer = api.post(
        "/api/v1/subjects/import", data={"kind": ONE_TIME}, files={"file": ("people.csv", content, "text/csv")}
    )
    assert answer.status_code == 422, answer.text[:300]
    assert "line 3" in json.dumps(answer.json()) and "longer than 100,000 characters" in answer.text
    assert stored(api) == before


@pytest.mark.parametrize("path", ["/console/outbox?offset=²", "/console/subjects?offset=" + "9" * 5000])
def test_a_console_page_reads_any_number_it_is_given(console: Any, path: str) -> None:
    # Found by this suite: "²".isdigit() is true, int("²") raises; int() of 5 000 digits raises too (a 500).
    page = console.signed_in("ceo")
    answer = page.get(path)
    assert answer.status_code == 200, answer.text[:300]


# ---------------------------------------------------------------- LINK Mobility's hooks

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
REPORT = st.dictionaries(st.sampled_from(["refId", "resultCode", "id", "segments"]), JSON, max_size=4)
INBOUND = st.fixed_dictionaries(
    {}, optional={"source": JSON | st.just("+4741234567"), "content": JSON | st.builds(lambda t: {"userData": t}, JSON)}
)
BODIES = (
    (JSON | REPORT | st.lists(REPORT, max_size=3) | INBOUND).map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=60)
    | st.sampled_from([b"1" * 5000, b'{"refId": "x", "resultCode": "\xc2\xb2"}', b"[" * 5000, b"\xef\xbb\xbf{}"])
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/hooks/linkmobility/reports", "/hooks/linkmobility/inbound"]), body=BODIES)
@example(path="/hooks/linkmobility/reports", body=b"[" + b"1" * 5000 + b"]")  # found: a ValueError, a 500
@example(path="/hooks/linkmobility/inbound", body=b"[" * 5000)  # found: a RecursionError, a 500
def test_any_hook_body_is_answered_without_a_5xx_and_a_refusal_stores_nothing(
    api: Any, monkeypatch: pytest.MonkeyPatch, path: str, body: bytes
) -> None:
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_USER", USER)
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_HOOK_PASSWORD", PASSWORD)
    before = stored(api)
    answer = api.client.post(path, content=body, auth=(USER, PASSWORD), headers={"Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text[:300]
    if answer.status_code >= 400:
        error_of(answer)
        assert stored(api) == before
