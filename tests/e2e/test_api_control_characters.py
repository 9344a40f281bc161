"""A NUL or other control character in an address or an id is bad input (422), never a 500 (PostgreSQL refuses NUL)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import error_of


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/subjects/abc%00def",
        "/api/v1/subjects/abc%00def/consents",
        "/api/v1/sms?subject_id=abc%00",
        "/api/v1/subjects?email=kari%00@example.no",
        "/api/v1/requests/x%0Ay",
    ],
)
def test_a_control_character_in_the_address_is_refused(api, path):
    answer = api.get(path)
    assert answer.status_code == 422, answer.text
    assert error_of(answer)["code"] == "invalid_input"


def test_a_nul_in_a_body_is_bad_input_and_nothing_is_stored(api):
    before = api.get("/api/v1/subjects").json()["items"]
    for path, body in [
        ("/api/v1/sms", {"subject_id": "abc\u0000", "purpose": "service", "text": "Hei"}),
        ("/api/v1/relationships", {"subject_id": "abc\u0000", "type": "order", "on": "2026-11-01"}),
        (
            "/api/v1/subjects",
            {"kind": "one_time_customer", "values": {"full_name": "Kari\u0000 Nordmann", "phone": "41234567"}},
        ),
    ]:
        answer = api.post(path, json=body)
        assert answer.status_code in (400, 422), (path, answer.status_code, answer.text)
    assert api.get("/api/v1/subjects").json()["items"] == before
    name = api.post("/api/v1/users/abc%00/disable")
    assert name.status_code == 422
