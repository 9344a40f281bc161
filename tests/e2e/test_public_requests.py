"""The public requests through the app factory, on SQLite and PostgreSQL: a code, a confirmation, a receipt."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personvern.services import public
from personvern.services import register as reg
from personvern.web import public_pages
from tests.e2e.conftest import error_of
from tests.e2e.support import snapshot

PHONE = "+4741234567"
STRANGER = "+4799887766"


@pytest.fixture(autouse=True)
def _no_padding(monkeypatch: pytest.MonkeyPatch) -> None:
    # The floor that hides customers from strangers in time is measured by the bench, not waited out here.
    monkeypatch.setattr(public_pages, "FLOOR", 0.0)


class Outbox:
    """What the outbox sends, as a receiver would see it: each test's rows, claimed (and so opened) once."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.seen: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, kind: str = "sms") -> list[dict[str, Any]]:
        from datetime import timedelta

        from personvern.services import outbox

        rows = outbox.claim_due(self.api.runtime.context(), 100, timedelta(hours=1))
        for row in rows:
            self.seen.setdefault(row.kind, []).append(dict(row.personal or {}))
        return self.seen.get(kind, [])


@pytest.fixture
def messages(api: Any) -> Outbox:
    return Outbox(api)


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)


def customer(api: Any, phone: str = PHONE) -> str:
    ctx = api.runtime.context()
    added = reg.add_subject(
        ctx, "one_time_customer", {"full_name": "Kari Nordmann", "phone": phone, "email": "kari@example.no"}, {}
    )
    return added.id


def ask(api: Any, **body: Any) -> Any:
    return api.client.post("/api/v1/public/requests", json=body)


def test_a_customer_asks_confirms_and_the_request_is_open_verified_from_the_web(api: Any, messages: Outbox) -> None:
    sid = customer(api)
    asked = ask(api, type="access", phone="41 23 45 67", lang="nb")
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["via"] == "sms" and set(body) == {"id", "via", "expires_at", "message"}
    sent = messages()[-1]
    assert sent["destination"] == PHONE and "10 minutter" in sent["text"]
    code = code_in(sent["text"])

    done = api.client.post(f"/api/v1/public/requests/{body['id']}/confirm", json={"code": code})
    assert done.status_code == 200, done.text
    receipt = done.json()
    assert receipt["type"] == "access" and receipt["due_on"] == "2026-12-25"
    shown = api.get(f"/api/v1/requests/{receipt['request']}").json()
    assert shown["channel"] == "web" and shown["subject_id"] == sid
    assert shown["verification_method"] == "otp_sms" and shown["state"] == "verified"
    # The receipt went to the same number, with the due date.
    assert "25. desember 2026" in messages()[-1]["text"]
    # The code is used: a second confirmation is refused.
    again = api.client.post(f"/api/v1/public/requests/{body['id']}/confirm", json={"code": code})
    assert again.status_code == 409


def test_a_stranger_gets_the_same_answers_and_messages(api: Any, messages: Outbox) -> None:
    customer(api)
    answers = []
    for phone in (PHONE, STRANGER):
        asked = ask(api, type="access", phone=phone, lang="en")
        sent = messages()[-1]["text"]
        done = api.client.post(f"/api/v1/public/requests/{asked.json()['id']}/confirm", json={"code": code_in(sent)})
        answers.append((asked.status_code, set(asked.json()), done.status_code, done.json()["message"]))
        answers.append(re.sub(r"\d{6}", "CODE", sent))
        answers.append(re.sub(r"Reference: \w+", "Reference: REF", messages()[-1]["text"]))
    assert answers[:3] == answers[3:]


def test_the_code_is_stored_only_as_a_keyed_digest_and_never_in_the_audit_log(api: Any, messages: Outbox) -> None:
    asked = ask(api, type="erasure", email="kari@example.no", lang="nb")
    code = code_in(messages("email")[-1]["body"])
    dump = repr(snapshot(api.pv.db_url))
    assert code not in dump.replace(asked.json()["id"], "")
    assert "kari@example.no" not in dump


def test_a_wrong_code_counts_down_five_tries_then_the_request_is_gone(api: Any, messages: Outbox) -> None:
    asked = ask(api, type="access", phone=PHONE).json()
    right = code_in(messages()[-1]["text"])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    path = f"/api/v1/public/requests/{asked['id']}/confirm"
    for left in (4, 3, 2, 1):
        refused = api.client.post(path, json={"code": wrong})
        assert refused.status_code == 422
        assert error_of(refused)["field"] == "code" and f"{left} tr" in error_of(refused)["message"]
    assert api.client.post(path, json={"code": wrong}).status_code == 409
    assert api.client.post(path, json={"code": right}).status_code == 409  # used up, even for the right one
    assert api.get("/api/v1/requests").json()["items"] == []


def test_an_expired_code_is_refused(api: Any, messages: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    asked = ask(api, type="access", phone=PHONE).json()
    code = code_in(messages()[-1]["text"])
    clock = api.runtime.clock
    later = clock.now() + timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    expired = api.client.post(f"/api/v1/public/requests/{asked['id']}/confirm", json={"code": code})
    assert expired.status_code == 409 and "expired" in error_of(expired)["message"]


BAD_BODIES = [
    ({"type": "access"}, "email"),
    ({"type": "access", "phone": PHONE, "email": "kari@example.no"}, "email"),
    ({"type": "access", "phone": "12"}, "phone"),
    ({"type": "access", "email": "not-an-address"}, "email"),
    ({"type": "party", "phone": PHONE}, "type"),
    ({"type": "access", "phone": PHONE, "lang": "de"}, "lang"),
    ({"type": "rectification", "phone": PHONE}, "set"),
    ({"type": "rectification", "phone": PHONE, "set": {"shoe_size": "44"}}, "shoe_size"),
    ({"type": "rectification", "phone": PHONE, "set": {"email": "nope"}}, "set.email"),
    ({"type": "access", "phone": PHONE, "set": {"full_name": "X"}}, "set"),
    ({"type": "access", "phone": PHONE, "extra": 1}, "extra"),
]


def test_bad_input_names_the_field_and_stores_nothing(api: Any) -> None:
    # One register for every case (each case would otherwise pay for a fresh register on each database).
    before = snapshot(api.pv.db_url)
    for body, field in BAD_BODIES:
        refused = ask(api, **body)
        assert refused.status_code == 422, (body, refused.text)
        assert error_of(refused)["field"] == field, body
    assert snapshot(api.pv.db_url) == before


def test_a_rectification_carries_its_checked_values_into_the_request(api: Any, messages: Outbox) -> None:
    customer(api)
    asked = ask(api, type="rectification", phone=PHONE, set={"email": " Kari@Example.NO "}).json()
    code = code_in(messages()[-1]["text"])
    rid = api.client.post(f"/api/v1/public/requests/{asked['id']}/confirm", json={"code": code}).json()["request"]
    with api.runtime.uow() as uow:
        assert uow.requests.details(rid) == {"set": {"email": "Kari@example.no"}, "unset": []}


def test_codes_for_one_number_are_limited_with_retry_after(api: Any, messages: Outbox) -> None:
    for _ in range(5):
        assert ask(api, type="access", phone=PHONE).status_code == 202
    limited = ask(api, type="access", phone=PHONE)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert error_of(limited)["code"] == "too_many_requests"
    assert ask(api, type="access", phone=STRANGER).status_code == 202  # another number is not held back


def test_an_unknown_pending_id_and_a_malformed_code_are_refused(api: Any, messages: Outbox) -> None:
    assert api.client.post("/api/v1/public/requests/abc123/confirm", json={"code": "123456"}).status_code == 404
    asked = ask(api, type="access", phone=PHONE).json()
    bad = api.client.post(f"/api/v1/public/requests/{asked['id']}/confirm", json={"code": "12ab56"})
    assert bad.status_code == 422 and error_of(bad)["field"] == "code"


def test_answer_link_fetched_once_with_a_fresh_code(api: Any, messages: Outbox) -> None:
    customer(api)
    asked = ask(api, type="access", phone=PHONE, lang="en").json()
    code = code_in(messages()[-1]["text"])
    rid = api.client.post(f"/api/v1/public/requests/{asked['id']}/confirm", json={"code": code}).json()["request"]
    assert api.post(f"/api/v1/requests/{rid}/fulfil", json={}).status_code == 200
    text = messages()[-1]["text"]
    token = re.search(r"/privacy/answer/([A-Za-z0-9_-]+)", text)
    assert token and "http://127.0.0.1:8000/privacy/answer/" in text
    ctx = api.runtime.context()
    assert public.answer_link(ctx, token.group(1)).state == "open"
    public.send_answer_code(ctx, token.group(1))
    fresh = code_in(messages()[-1]["text"])
    fetched = public.fetch_answer(ctx, token.group(1), fresh)
    assert set(fetched.files) >= {"letter.html", "data.json"}
    assert public.answer_link(ctx, token.group(1)).state == "fetched"
    with pytest.raises(Exception, match="already fetched"):
        public.fetch_answer(ctx, token.group(1), fresh)
    with api.runtime.uow() as uow:
        assert uow.requests.answer(rid) is None  # deleted once fetched
    shown = api.pv("request", "show", rid)
    assert shown.exit_code == 0 and re.search(r"answer link:\s+sent \S+, fetched \S+", shown.output), shown.output
    assert api.pv.json("request", "show", rid)["answer_links"][0]["fetched_at"] is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["type", "email", "phone", "lang", "set", "purpose", "x"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.text(max_size=40),
            st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
        ),
        max_size=5,
    )
)
def test_any_body_gets_a_4xx_or_a_code_never_a_5xx(api: Any, messages: Outbox, body: dict[str, Any]) -> None:
    answer = ask(api, **body)
    assert answer.status_code in (202, 422, 429), answer.text


def test_a_code_by_email_goes_over_smtp_and_opens_the_request(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from personvern.bootstrap import build_worker
    from tests.fakes_smtp import FakeSmtp, pointed_at

    with FakeSmtp() as smtp, pointed_at(smtp, monkeypatch), httpx.Client() as client:
        asked = ask(api, type="erasure", email="Kari@Example.no", lang="en").json()
        assert asked["via"] == "email"
        tally = build_worker(api.runtime, client).run_once()
        assert tally.delivered == 1, tally.errors
        message = smtp.wait_for("Kari@example.no")
        assert message["Subject"] == "Your code from 24 Center AS" and message["Message-ID"]
        code = smtp.code_for("Kari@example.no")
        done = api.client.post(f"/api/v1/public/requests/{asked['id']}/confirm", json={"code": code})
        assert done.status_code == 200
        shown = api.get(f"/api/v1/requests/{done.json()['request']}").json()
        assert shown["verification_method"] == "otp_email" and shown["subject_id"] is None  # nobody we hold
        build_worker(api.runtime, client).run_once()
        assert "We have received your request" in smtp.wait_for("Kari@example.no", after=1)["Subject"]
