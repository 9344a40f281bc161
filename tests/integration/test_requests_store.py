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
