"""Data subject requests in the SQL store on SQLite and PostgreSQL: two handlers of one request take turns."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from personvern.bootstrap import Runtime
from personvern.domain.errors import Conflict
from personvern.services import register, rights


def test_a_request_fulfilled_twice_at_once_is_fulfilled_once(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = runtime.context()
    person = {"full_name": "Kari Nordmann", "phone": "+4741234567", "email": "kari@example.no"}
    sid = register.add_subject(ctx, "business_representative", person | {"organisation_number": "923609016",
                               "organisation_name": "Annen AS"}, {}).id  # fmt: skip
    request = rights.open_request(ctx, "erasure", subject_id=sid, channel="web").request
    rights.verify_request(ctx, request.id, "bankid")

    # The first handler pauses once it holds the request; the second starts then.
    holding = threading.Event()
    letter = rights._letter

    def slow_letter(*args: Any, **kwargs: Any) -> Any:
        if not holding.is_set():
            holding.set()
            time.sleep(0.5)
        return letter(*args, **kwargs)

    monkeypatch.setattr(rights, "_letter", slow_letter)
    outcomes: list[str] = []

    def fulfil() -> None:
        try:
            rights.fulfil_request(runtime.context(), request.id)
            outcomes.append("fulfilled")
        except Conflict as exc:
            outcomes.append(f"conflict: {exc}")

    first = threading.Thread(target=fulfil)
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=fulfil)
    second.start()
    first.join(30)
    second.join(30)
    assert sorted(outcomes) == ["conflict: request " + request.id + " is completed; it cannot be fulfilled",
                                "fulfilled"]  # fmt: skip
    with runtime.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM erasure_receipts")) == 1
        fulfils = conn.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'request.fulfil'"))
    assert fulfils == 1


def test_an_answer_is_kept_sealed_beside_the_corrections_and_forgotten_alone(runtime: Runtime) -> None:
    ctx = runtime.context()
    person = {"full_name": "Kari Nordmann", "phone": "+4741234567", "email": "kari@example.no"}
    sid = register.add_subject(ctx, "one_time_customer", person, {}).id
    fix = rights.open_request(ctx, "rectification", subject_id=sid, changes={"full_name": "Kari N. Nordmann"})
    rights.verify_request(ctx, fix.request.id, "bankid")
    rights.fulfil_request(ctx, fix.request.id)
    with runtime.engine.connect() as conn:
        sealed = conn.scalar(text("SELECT details_ct FROM requests WHERE id = :id"), {"id": fix.request.id})
    assert b"letter" not in sealed and b"Nordmann" not in sealed  # sealed, not in the clear
    with runtime.uow() as uow:
        assert set(uow.requests.answer(fix.request.id) or {}) == {"letter.html"}
        assert uow.requests.details(fix.request.id) == {"set": {"full_name": "Kari N. Nordmann"}, "unset": []}
        closed = uow.requests.answers_kept(ctx.clock.now())
        assert [r.id for r in closed] == [fix.request.id]
        uow.requests.forget_answer(fix.request.id)
        uow.commit()
    with runtime.uow() as uow:
        assert uow.requests.answer(fix.request.id) is None
        # The corrections asked for stay as long as the person does; only the answer's files went.
        assert uow.requests.details(fix.request.id) == {"set": {"full_name": "Kari N. Nordmann"}, "unset": []}


def test_the_erasure_letter_is_kept_under_a_key_of_its_own_after_the_person_s_keys_went(runtime: Runtime) -> None:
    ctx = runtime.context()
    person = {"full_name": "Ola Nordmann", "phone": "+4741234568", "email": "ola@example.no"}
    sid = register.add_subject(ctx, "one_time_customer", person, {}).id
    erase = rights.open_request(ctx, "erasure", email="ola@example.no").request
    rights.verify_request(ctx, erase.id, "bankid")
    rights.fulfil_request(ctx, erase.id)
    with runtime.uow() as uow:
        assert uow.requests.identity(erase.id) is None  # forgotten with the erasure
        letter = (uow.requests.answer(erase.id) or {})["letter.html"].decode()
    assert "Ola Nordmann" not in letter and sid


def test_requests_are_listed_by_key_pages(runtime: Runtime) -> None:
    ctx = runtime.context()
    ids = [rights.open_request(ctx, "access", email=f"p{n}@example.no").request.id for n in range(5)]
    seen: list[str] = []
    after = None
    while True:
        _today, page = rights.list_requests(ctx, limit=2, after=after)
        if not page:
            break
        seen += [r.id for r in page]
        last = page[-1]
        after = (last.due_on, last.received_at, last.id)
    assert seen == sorted(ids)  # one receipt time (a fixed clock): by id
