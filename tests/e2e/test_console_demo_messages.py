"""The console's Demo messages page: only while the demo sink is on, marked DEMO, for those who see the outbox."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from personvern.bootstrap import FixedClock
from personvern.services import demo_sink
from tests.e2e.support import sql

NAV = 'href="/console/demo-messages"'


def test_the_page_shows_the_sinks_messages_newest_first_marked_demo_only_while_on(
    console, monkeypatch: pytest.MonkeyPatch
):
    ctx = console.runtime.context()
    demo_sink.record(ctx, "1" * 32, "sms", "+4741234567", None, "Koden din er 111111.")
    later = dataclasses.replace(ctx, clock=FixedClock(ctx.clock.now() + timedelta(minutes=1)))
    demo_sink.record(later, "2" * 32, "email", "kari@example.no", "Your code", "Your code is <b>222222</b>.")
    ceo, staff, auditor = (console.signed_in(role) for role in ("ceo", "staff", "auditor"))

    monkeypatch.delenv("PERSONVERN_DEMO_SINK", raising=False)
    off = ceo.get("/console/demo-messages")
    assert off.status_code == 404 and "111111" not in off.text
    assert NAV not in ceo.get("/console/").text

    monkeypatch.setenv("PERSONVERN_DEMO_SINK", "1")
    page = ceo.get("/console/demo-messages")
    assert page.status_code == 200
    assert "DEMO — nothing here was sent to anyone." in page.text
    assert "older than 7 days are deleted" in page.text
    assert page.text.index("222222") < page.text.index("111111")  # newest first
    assert "kari@example.no" in page.text and "+4741234567" in page.text and "Your code" in page.text
    assert "&lt;b&gt;222222" in page.text  # what was typed is shown, never run
    assert NAV in ceo.get("/console/").text

    assert staff.get("/console/demo-messages").status_code == 200
    # Each reading is on record, by whom and how many, never what (Art. 5(2)).
    read = sql(console.pv.db_url, "SELECT actor, details FROM audit_log WHERE action = 'demo_messages.read'")
    assert len(read) == 2 and all("222222" not in str(d) and "kari" not in str(d) for _, d in read)
    assert NAV in staff.get("/console/").text
    refused = auditor.get("/console/demo-messages")
    assert refused.status_code == 403 and "111111" not in refused.text
    assert NAV not in auditor.get("/console/").text
