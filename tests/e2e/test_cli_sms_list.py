"""`personvern sms list`: the message log, delivered messages too, with status and delivery report; no number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.support import NOW, Cases, add, assert_ok, assert_refused, e164, phone, sql
from tests.fakes_linkmobility import FakeLink, pointed_at

LATER = "2026-11-25T13:00:00+00:00"
TEXT = "Nøkkelkortet ditt er klart i resepsjonen."


@pytest.fixture
def link(monkeypatch):
    fake = FakeLink()
    with pointed_at(fake, monkeypatch):
        yield fake


def customer(pv, n: int) -> str:
    sid = add(pv, n)
    assert_ok(pv("relationship", "start", sid, "--now", NOW))
    return sid


def send(pv, sid: str, at: str = NOW) -> dict:
    return pv.json("sms", "send", sid, "--purpose", "service", "--text", TEXT, "--now", at)


def write(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), "utf-8")
    return str(path)


def test_delivered_and_failed_messages_stay_in_sight(pv_ready, link, tmp_path):
    first, second, third = (customer(pv_ready, n) for n in (1, 2, 3))
    sent = [send(pv_ready, sid) for sid in (first, second)]
    assert pv_ready.json("worker", "--once", "--now", LATER)["delivered"] == 2
    reports = [{"refId": sent[0]["outbox_id"], "resultCode": 1001}, {"refId": sent[1]["outbox_id"], "resultCode": 2104}]
    pv_ready.json("sms", "report", write(tmp_path, "dr.json", reports), "--now", LATER)
    waiting = send(pv_ready, third, LATER)
    assert pv_ready.json("outbox", "list")["total"] == 1  # the outbox shows only what still needs doing

    listed = pv_ready.json("sms", "list", "--now", LATER)
    assert listed["total"] == 3
    by_id = {m["id"]: m for m in listed["messages"]}
    assert listed["messages"][0]["id"] == waiting["message_id"]  # newest first
    delivered, failed, pending = (by_id[x["message_id"]] for x in (*sent, waiting))
    assert (delivered["subject_id"], delivered["status"], delivered["result_code"], delivered["meaning"]) == (
        first,
        "delivered",
        1001,
        "delivered",
    )
    assert (failed["status"], failed["result_code"], failed["meaning"]) == ("failed", 2104, "unknown subscriber")
    assert (pending["status"], pending["result_code"], pending["subject_id"]) == ("pending", None, third)
    assert {m["purpose"] for m in listed["messages"]} == {"service"}
    assert delivered["segments"] == 1 and delivered["created_at"] == NOW

    human = pv_ready("sms", "list", "--now", LATER)
    assert_ok(human)
    assert "3 of 3 messages" in human.stdout
    assert "2104 unknown subscriber" in human.stdout and "1001 delivered" in human.stdout
    assert sent[0]["message_id"] in human.stdout and first in human.stdout
    for out in (json.dumps(listed), human.stdout):
        for secret in (phone(1), e164(1), "Nøkkelkortet", "Person 1"):
            assert secret not in out  # never a number, a text or a name

    one = pv_ready.json("sms", "list", "--subject", second)
    assert [m["id"] for m in one["messages"]] == [sent[1]["message_id"]]
    assert pv_ready.json("sms", "list", "--status", "delivered")["total"] == 1
    assert pv_ready.json("sms", "list", "--since", LATER)["total"] == 1
    page = pv_ready.json("sms", "list", "--limit", "1", "--offset", "1")
    assert (page["total"], [m["id"] for m in page["messages"]]) == (3, [listed["messages"][1]["id"]])
    assert pv_ready.json("sms", "list", "--role", "staff")["total"] == 3


def test_each_person_on_the_page_is_a_recorded_read(pv_ready):
    sid = customer(pv_ready, 1)
    send(pv_ready, sid)
    send(pv_ready, sid)
    other = customer(pv_ready, 2)
    pv_ready.json("sms", "list", "--subject", sid)
    rows = sql(pv_ready.db_url, "SELECT subject_id, details FROM audit_log WHERE action = 'sms.list'")
    assert [(s, json.loads(d)) for s, d in rows] == [(sid, {"messages": 2})]
    assert pv_ready.json("sms", "list", "--subject", other)["messages"] == []  # nothing shown, nothing recorded
    assert len(sql(pv_ready.db_url, "SELECT 1 FROM audit_log WHERE action = 'sms.list'")) == 1


def test_refusals(pv_ready, unchanged):
    sid = customer(pv_ready, 1)
    send(pv_ready, sid)
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("unknown status", ["--status", "lost"], 3, ["status", "delivered"]),
            ("bad since", ["--since", "yesterday"], 3, ["since", "ISO-8601"]),
            ("limit 0", ["--limit", "0"], 3, ["limit"]),
            ("limit too large", ["--limit", "1001"], 3, ["limit"]),
            ("negative offset", ["--offset", "-1"], 3, ["offset"]),
            ("unknown subject", ["--subject", "f" * 32], 4, ["f" * 32]),
            ("marketing", ["--role", "marketing"], 6, ["marketing"]),
            ("auditor", ["--role", "auditor"], 6, ["auditor"]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("sms", "list", *args), code, *needles)
    cases.check()
