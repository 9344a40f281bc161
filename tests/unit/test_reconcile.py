"""Reconciling HubSpot with the register (services.reconcile over connectors.hubspot_contacts and the fake HubSpot)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from personvern.connectors.hubspot import KINDS, HubSpot, HubSpotConfig
from personvern.connectors.hubspot_contacts import HubSpotContacts
from personvern.connectors.worker import Tally, Worker
from personvern.domain.access import Actor
from personvern.domain.erasure import ErasureCause
from personvern.domain.errors import Forbidden, NotReady
from personvern.domain.outbox import OutboxState, RetryPolicy
from personvern.domain.reconcile import Finding
from personvern.policy.schema import Policy
from personvern.services import consent, reconcile, register
from personvern.services.context import Context
from personvern.services.erasure import erase_subject
from tests.fakes_hubspot import TOKEN, FakeHubSpot, Reply
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

URL = "http://127.0.0.1:9"


@pytest.fixture
def ctx(policy: Policy, factory: FakeUnitOfWorkFactory, clock: FixedClock) -> Context:
    return Context(policy, factory, clock, Actor("ceo-user", "ceo"), policy_sha256="5" * 64)


@pytest.fixture
def hubspot() -> FakeHubSpot:
    return FakeHubSpot()


class Waits:
    """time.sleep and time.monotonic for the contact source: nothing really waits, every wait is noted."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def tick(self) -> float:
        return self.now


def source(ctx: Context, fake: FakeHubSpot, waits: Waits | None = None, **kw: Any) -> HubSpotContacts:
    w = waits or Waits()
    config = HubSpotConfig(URL, TOKEN)
    return HubSpotContacts(fake.client(), config, ctx.clock, sleep=w.sleep, tick=w.tick, **kw)


def work(ctx: Context, fake: FakeHubSpot) -> Tally:
    hub = HubSpot(fake.client(), HubSpotConfig(URL, TOKEN), ctx.clock)
    return Worker(ctx, dict.fromkeys(KINDS, hub), RetryPolicy(), lambda: 0.5).run_once()


def person(ctx: Context, n: int, *, shared: bool = False) -> str:
    values = {"full_name": f"Person {n} Nordmann", "phone": f"+479{1234560 + n}", "email": f"p{n}@example.no"}
    sid = register.add_subject(ctx, "one_time_customer", values, {}).id
    register.start_relationship(ctx, sid, "order")  # a customer: withdrawing consent leaves them in the register
    if shared:
        consent.give_consent(ctx, sid, "marketing", "email", "web")
    return sid


def contact_of(factory: FakeUnitOfWorkFactory, sid: str) -> str:
    """The HubSpot id a delivered share got back for the person."""
    [found] = {
        str(r.result["hubspot_id"])
        for r in factory.state.outbox.values()
        if r.subject_id == sid and r.kind == "hubspot.upsert" and r.result
    }
    return found


@pytest.fixture
def scene(ctx: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock, hubspot: FakeHubSpot) -> dict[str, Any]:
    """HubSpot holding one contact of each kind of finding, and one it holds rightly."""
    ok, gone, withdrawn, missing = (person(ctx, n, shared=True) for n in (1, 2, 3, 4))
    assert work(ctx, hubspot).delivered == 4
    ids = {name: contact_of(factory, sid) for name, sid in (("gone", gone), ("withdrawn", withdrawn))}
    consent.withdraw_consent(ctx, withdrawn, "marketing", "email", "web")  # shared on consent, now withdrawn
    del hubspot.contacts[contact_of(factory, missing)]  # someone deleted the consented one in HubSpot
    with ctx.uow() as uow:
        erase_subject(ctx, uow, gone, cause=ErasureCause.RETENTION)
        uow.commit()
    clock.advance(minutes=11)
    assert work(ctx, hubspot).delivered == 2  # the unsubscribe and the erasure's gdpr-delete
    hubspot.contacts[ids["gone"]] = {"email": "p2@example.no", "firstname": "Person 2"}  # restored by hand
    never = person(ctx, 5)
    hand = hubspot.add(email="p5@example.no", firstname="Person 5")  # entered in HubSpot by hand
    stranger = hubspot.add(email="stranger@elsewhere.no")
    return {
        "ok": ok,
        "gone": gone,
        "withdrawn": withdrawn,
        "missing": missing,
        "never": never,
        "hand": hand,
        "stranger": stranger,
        **{f"{name}_contact": cid for name, cid in ids.items()},
    }


def findings(run: Any) -> dict[str, tuple[str | None, str | None]]:
    return {f.finding.value: (f.external_id, f.subject_id) for f in run.findings}


def test_reconcile_finds_who_should_not_be_there_and_who_is_missing_over_pages_and_429s(
    ctx: Context, factory: FakeUnitOfWorkFactory, hubspot: FakeHubSpot, scene: dict[str, Any]
) -> None:
    searched = [0]

    def throttle(index: int, method: str, path: str, body: Any) -> None:
        # The second page and the third are each answered 429 once before they are given.
        if path.endswith("/search"):
            searched[0] += 1
            if searched[0] in (2, 4):
                hubspot.script.append(Reply(429, {"status": "error", "category": "RATE_LIMITS"}, {"Retry-After": "2"}))

    hubspot.on_request = throttle
    mark = len(hubspot.requests)
    waits = Waits()
    run = reconcile.reconcile_hubspot(ctx, source(ctx, hubspot, waits, page=2))
    assert run.complete and run.contacts == 5 and run.pages == 3
    searches = [b for (_m, p), b in zip(hubspot.requests[mark:], hubspot.bodies[mark:], strict=True) if "search" in p]
    assert len(searches) == 5  # three pages, two of them asked twice after a 429
    assert 2.0 in waits.slept and waits.slept.count(2.0) == 2  # Retry-After honoured
    assert findings(run) == {
        "erased_here": (scene["gone_contact"], scene["gone"]),
        "basis_gone": (scene["withdrawn_contact"], scene["withdrawn"]),
        "never_shared": (scene["hand"], scene["never"]),
        "not_in_register": (scene["stranger"], None),
        "missing": (None, scene["missing"]),
    }
    assert run.should_not_be_there == 3 and run.missing == 1 and run.fixed == 0
    entries = [e for e in factory.audit_entries() if e.action.startswith(("processor.reconcile", "processors."))]
    assert len(entries) == 6  # one per finding, and the run's summary
    text = json.dumps([dict(e.details) for e in factory.audit_entries()])
    assert "@" not in text  # never an address
    with ctx.uow() as uow:
        assert uow.reconciliations.last("hubspot") is not None
    assert reconcile.last_run(ctx).id == run.id  # type: ignore[union-attr]


def test_fix_queues_deletions_and_shares_once_and_they_reach_hubspot(
    ctx: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock, hubspot: FakeHubSpot, scene: dict[str, Any]
) -> None:
    run = reconcile.reconcile_hubspot(ctx, source(ctx, hubspot), fix=True)
    assert run.fixed == 4  # three gdpr-deletes and one share; the stranger is left to a person
    queued = [r for r in factory.state.outbox.values() if r.state is OutboxState.PENDING]
    assert sorted((r.kind, r.public.get("reason")) for r in queued) == [
        ("hubspot.delete", "reconcile: basis_gone"),
        ("hubspot.delete", "reconcile: erased_here"),
        ("hubspot.delete", "reconcile: never_shared"),
        ("hubspot.upsert", "share"),
    ]
    again = reconcile.reconcile_hubspot(ctx, source(ctx, hubspot), fix=True)
    assert again.fixed == 0 and all(f.pending for f in again.findings if f.finding is not Finding.UNKNOWN)
    assert len([r for r in factory.state.outbox.values() if r.state is OutboxState.PENDING]) == 4
    assert work(ctx, hubspot).delivered == 4
    third = reconcile.reconcile_hubspot(ctx, source(ctx, hubspot))
    assert findings(third) == {"not_in_register": (scene["stranger"], None)}


def test_the_search_cap_is_passed_by_querying_above_the_last_id(ctx: Context, hubspot: FakeHubSpot) -> None:
    ids = [hubspot.add(email=f"x{n}@elsewhere.no") for n in range(7)]
    hubspot.search_cap = 4  # HubSpot's 10 000, made small
    run = reconcile.reconcile_hubspot(ctx, source(ctx, hubspot, page=2, cap=4))
    assert run.contacts == 7 and sorted(f.external_id or "" for f in run.findings) == sorted(ids)
    afters = [b.get("after") for b in hubspot.bodies if isinstance(b, dict) and "sorts" in b]
    floors = [b["filterGroups"] for b in hubspot.bodies if isinstance(b, dict) and b.get("filterGroups")]
    assert "4" not in afters and floors  # never asked past the cap; started again above an id instead


def test_an_unreadable_hubspot_stops_the_run_fixes_nothing_and_says_why(
    ctx: Context, factory: FakeUnitOfWorkFactory, hubspot: FakeHubSpot, scene: dict[str, Any]
) -> None:
    before = len(factory.state.outbox)
    hubspot.then(*[Reply(429, {"status": "error"}, {"Retry-After": "1"})] * 4)
    with pytest.raises(NotReady, match="kept answering HTTP 429"):
        reconcile.reconcile_hubspot(ctx, source(ctx, hubspot, max_waits=3), fix=True)
    last = reconcile.last_run(ctx)
    assert last is not None and not last.complete and "429" in (last.error or "")
    assert len(factory.state.outbox) == before
    hubspot.script.clear()
    hubspot.then(Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"}))
    with pytest.raises(NotReady, match="refused the token"):
        reconcile.reconcile_hubspot(ctx, source(ctx, hubspot))
    with pytest.raises(NotReady, match="PERSONVERN_HUBSPOT_TOKEN"):
        reconcile.reconcile_hubspot(ctx, HubSpotContacts(hubspot.client(), HubSpotConfig(URL, None), ctx.clock))
    with pytest.raises(NotReady, match="used up for 3600 s"):
        hubspot.then(Reply(429, {"status": "error"}, {"Retry-After": "3600"}))
        reconcile.reconcile_hubspot(ctx, source(ctx, hubspot))


def test_the_daily_run_happens_once_a_day_and_only_with_credentials(
    ctx: Context, clock: FixedClock, hubspot: FakeHubSpot, scene: dict[str, Any]
) -> None:
    assert reconcile.daily(ctx, lambda: None) is None  # no token: nothing to read
    said = reconcile.daily(ctx, lambda: source(ctx, hubspot))
    assert said is not None and said.startswith("HubSpot reconciled: 5 contacts on 1 pages: ")
    assert reconcile.daily(ctx, lambda: source(ctx, hubspot)) is None  # once a day
    clock.advance(days=1)
    assert reconcile.daily(ctx, lambda: source(ctx, hubspot)) is not None
    last = reconcile.last_run(ctx)
    assert last is not None and not last.fix  # the worker reports; a person decides to fix


def test_only_the_ceo_reconciles(as_role, hubspot: FakeHubSpot) -> None:
    for role in ("staff", "marketing", "auditor"):
        ctx = as_role(role)
        with pytest.raises(Forbidden, match="reconcile"):
            reconcile.reconcile_hubspot(ctx, source(ctx, hubspot))
        with pytest.raises(Forbidden):
            reconcile.last_run(ctx)
    assert hubspot.requests == []


def test_pacing_keeps_below_the_search_limit(ctx: Context, hubspot: FakeHubSpot) -> None:
    for n in range(6):
        hubspot.add(email=f"x{n}@elsewhere.no")
    waits = Waits()
    reader = source(ctx, hubspot, waits, page=2)
    assert sum(len(p) for p in reader.pages()) == 6
    assert reader.requests == 3 and waits.slept == [pytest.approx(0.25)] * 2
    assert timedelta(seconds=sum(waits.slept)) < timedelta(seconds=1)
