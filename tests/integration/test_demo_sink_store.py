"""The demo sink on both databases: which connectors it stands in for, what it keeps, and that a week is the limit."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from personvern.bootstrap import FixedClock, Runtime, build_connectors, build_worker, demo_sink_kinds
from personvern.connectors.linkmobility import LinkMobility
from personvern.connectors.sink import DemoSink
from personvern.connectors.smtp import Smtp
from personvern.domain.errors import Forbidden
from personvern.domain.outbox import OutboxRow
from personvern.services import demo_sink, outbox
from personvern.store import tables as t
from tests.fakes_linkmobility import ENV as LINK_ENV

ON = {"PERSONVERN_DEMO_SINK": "1"}
SMTP_ENV = {"PERSONVERN_SMTP_HOST": "smtp.example.no", "PERSONVERN_SMTP_FROM": "personvern@example.no"}


def unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError("nothing goes to a vendor while the sink takes its kind")


def stored(runtime: Runtime) -> int:
    with runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.demo_messages)).scalar_one())


def queue(runtime: Runtime) -> tuple[OutboxRow, OutboxRow]:
    ctx = runtime.context()
    with ctx.uow() as uow:
        sms = outbox.enqueue(
            ctx, uow, "sms", None, {"purpose": "code"}, {"destination": "+4741234567", "text": "123456"}
        )
        mail = outbox.enqueue(
            ctx,
            uow,
            "email",
            None,
            {"purpose": "code"},
            {"to": "kari@example.no", "subject": "Your code", "body": "Your code is 654321."},
        )
        uow.commit()
    return sms, mail


CASES = [
    ({}, []),  # off: the real connectors, whose rows wait for credentials
    (ON, ["sms", "email"]),
    ({**ON, **LINK_ENV}, ["email"]),  # LINK Mobility has credentials: SMS go to it, never to the sink
    ({**ON, **SMTP_ENV}, ["sms"]),
    ({**ON, **LINK_ENV, **SMTP_ENV}, []),
    ({"PERSONVERN_DEMO_SINK": "0"}, []),
]


def test_the_sink_stands_in_only_for_a_vendor_without_credentials(runtime: Runtime) -> None:
    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        for environ, sunk in CASES:
            assert demo_sink_kinds(environ) == sunk, environ
            connectors = build_connectors(runtime, client, environ)
            assert isinstance(connectors["sms"], DemoSink if "sms" in sunk else LinkMobility), environ
            assert isinstance(connectors["email"], DemoSink if "email" in sunk else Smtp), environ


def test_the_worker_delivers_codes_to_the_sink_and_the_page_lists_them_newest_first(runtime: Runtime) -> None:
    sms, mail = queue(runtime)
    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        tally = build_worker(runtime, client, ON).run_once()
    assert (tally.delivered, tally.waiting, tally.dead) == (2, 0, 0)
    shown = demo_sink.newest(runtime.context())
    assert {(m.outbox_id, m.kind, m.destination, m.subject_line, m.body) for m in shown} == {
        (sms.id, "sms", "+4741234567", None, "123456"),
        (mail.id, "email", "kari@example.no", "Your code", "Your code is 654321."),
    }
    assert [m.at for m in shown] == sorted((m.at for m in shown), reverse=True)
    # A row sent again (a worker died before recording it) is kept once, as a receiver recognises a refId.
    DemoSink(runtime.context(), "email").deliver(mail)
    assert stored(runtime) == 2


def test_messages_older_than_a_week_are_dropped_on_the_next_write_and_never_shown(runtime: Runtime) -> None:
    _, mail = queue(runtime)
    ctx = runtime.context()
    DemoSink(ctx, "email").deliver(mail)
    later = dataclasses.replace(ctx, clock=FixedClock(ctx.clock.now() + demo_sink.KEEP + timedelta(minutes=1)))
    assert demo_sink.newest(later) == []  # past the week: not shown, even before the next write drops it
    assert stored(runtime) == 1
    sms = dataclasses.replace(mail, id="0" * 32, kind="sms", personal={"destination": "+4790000000", "text": "1"})
    DemoSink(later, "sms").deliver(sms)
    assert stored(runtime) == 1
    assert [m.kind for m in demo_sink.newest(later)] == ["sms"]


def test_only_roles_that_see_the_outbox_read_the_sink(runtime: Runtime) -> None:
    ctx = runtime.context()
    staff = dataclasses.replace(ctx, actor=dataclasses.replace(ctx.actor, role="staff"))
    auditor = dataclasses.replace(ctx, actor=dataclasses.replace(ctx.actor, role="auditor"))
    assert demo_sink.newest(staff) == []
    with pytest.raises(Forbidden):
        demo_sink.newest(auditor)
