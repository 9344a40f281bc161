"""Sealed parts past the policy's time, on SQLite and PostgreSQL: dead outbox rows, strangers' identities, answers."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from personvern.bootstrap import Runtime
from personvern.domain.subjects import RelationshipType
from personvern.services import outbox, register, rights, sealed, sweep
from personvern.services.context import Context
from personvern.store import tables as t
from tests.integration.test_outbox_store import has_key, queue, stored_row
from tests.unit.fakes import FixedClock


@pytest.fixture
def clock(runtime: Runtime) -> FixedClock:
    assert runtime.settings.now is not None
    return FixedClock(runtime.settings.now)


@pytest.fixture
def ctx(runtime: Runtime, clock: FixedClock) -> Context:
    return Context(runtime.policy.policy, runtime.uow, clock, runtime.actor)


def test_dead_rows_and_a_strangers_identity_are_forgotten_when_the_policy_says(
    runtime: Runtime, ctx: Context, clock: FixedClock
) -> None:
    [sms] = queue(ctx, 1)
    # An order in force keeps the customer (else the sweep archives them, and that stops their rows anyway).
    register.start_relationship(ctx, stored_row(runtime, sms).subject_id, RelationshipType.ORDER, None, None)
    with ctx.uow() as uow:
        public = {"subject": "0" * 32, "fields": ["email"], "hubspot_ids": ["9001"], "reason": "erasure"}
        deletion = outbox.enqueue(ctx, uow, "hubspot.delete", None, public, {"email": "gone@example.no"}).id
        for row_id in (sms, deletion):
            assert uow.outbox.mark_dead(row_id, None, 10, "gave up after 10 attempts; last error: HTTP 503")
        uow.commit()
    opened = rights.open_request(ctx, "erasure", email="stranger@example.no")
    rights.verify_request(ctx, opened.request.id, "known_email")
    rights.fulfil_request(ctx, opened.request.id)
    assert has_key(runtime, sms) and has_key(runtime, deletion) and has_key(runtime, opened.request.id)

    clock.advance(days=31)
    # The answer's files too ([requests] keep_answer, 30 days); the stranger's identity stays three months.
    assert [(p.what, p.id) for p in sealed.plan(ctx)] == [("outbox", sms), ("answer", opened.request.id)]
    first = sweep.run(ctx)
    assert (first.outbox_forgotten, first.answers_forgotten, first.requests_forgotten) == (1, 1, 0)
    assert has_key(runtime, opened.request.id) and rights.show_request(ctx, opened.request.id).identity
    row = stored_row(runtime, sms)
    assert row.state == "dead" and "sealed" not in json.loads(row.payload)
    assert json.loads(row.payload)["public"]["personal_forgotten_on"] == "2026-12-26"
    assert not has_key(runtime, sms)
    assert has_key(runtime, deletion)  # a deletion not yet done is kept longer, for a retry
    listing = outbox.list_outbox(ctx, dead_only=True)
    assert set(listing.personal_until) == {deletion}
    assert "9001" in listing.by_hand[deletion]

    clock.advance(days=61)  # past 90 days from the deletion, past three months from the answer
    done = sweep.run(ctx)
    assert (done.outbox_forgotten, done.requests_forgotten, done.by_hand) == (1, 1, [deletion])
    assert not has_key(runtime, deletion) and not has_key(runtime, opened.request.id)
    assert "to do by hand" in (stored_row(runtime, deletion).last_error or "")
    with runtime.engine.connect() as conn:
        sealed_parts = conn.execute(
            select(t.requests.c.identity_ct, t.requests.c.details_ct).where(t.requests.c.id == opened.request.id)
        ).one()
    assert tuple(sealed_parts) == (None, None)
    assert sealed.plan(ctx) == []
    assert outbox.list_outbox(ctx, dead_only=True).personal_until == {}
