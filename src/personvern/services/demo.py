"""Filling an empty register with realistic synthetic customers, through the same use cases staff use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from personvern.demo import generate, marketing_choices
from personvern.domain.access import Permission
from personvern.domain.consent import MARKETING
from personvern.domain.errors import invalid
from personvern.services import consent, register
from personvern.services.context import Context

MAX_DEMO = 100_000  # each subject is its own transaction here; bigger registers belong to `bench/`


@dataclass(frozen=True)
class DemoLoad:
    added: int
    relationships: int
    existing: int  # subjects already there: a register with data is never filled with demo data
    consents: int = 0  # marketing consents given (per channel), some withdrawn since
    withdrawn: int = 0
    objections: int = 0


def load_demo(ctx: Context, count: int, seed: int = 24) -> DemoLoad:
    """Add `count` synthetic subjects with their orders, contracts and marketing choices, unless the register
    holds anyone.

    Consents, withdrawals and objections go through the consent service, as staff record them: ledger events
    with their method and the notice in force (Art. 7(1)), HubSpot shares queued for email consents, so that
    `marketing audience` has people to show.
    """
    ctx.actor.require(Permission.REGISTER_WRITE)
    if not 0 < count <= MAX_DEMO:
        raise invalid("subjects", f"must be between 1 and {MAX_DEMO}")
    with ctx.uow() as uow:
        existing = uow.subjects.count(None, None)
    if existing:
        return DemoLoad(0, 0, existing)
    today = ctx.clock.now().date()
    added = relationships = consents = withdrawn = objections = 0
    choices = marketing_choices(count, seed=seed)
    for fake, choice in zip(generate(count, seed=seed, today=today), choices, strict=True):
        subject = register.add_subject(ctx, fake.kind, fake.values, fake.reasons, "demo", fake.received_at)
        added += 1
        for rel in fake.relationships:
            # A contract whose stated end has passed is over by itself; nobody needs to end it.
            register.start_relationship(ctx, subject.id, rel.type, rel.started_on, rel.ends_on, rel.description)
            relationships += 1
        # A one-time customer's relationship lasts until someone asks to end it (the policy); in the demo,
        # customers whose last order is over two years old asked a year after it.
        orders = [r.started_on for r in fake.relationships if r.type == "order"]
        if orders and (today - max(orders)).days > 730:
            register.end_relationship(ctx, subject.id, "order", max(orders) + timedelta(days=365))
        for channel in choice.channels:
            consent.give_consent(ctx, subject.id, MARKETING, channel, choice.method)
            consents += 1
        for channel in choice.withdrawn:
            consent.withdraw_consent(ctx, subject.id, MARKETING, channel, choice.method)
            withdrawn += 1
        if choice.objected:
            consent.object_to(ctx, subject.id, MARKETING, "demo: asked not to get offers any more")
            objections += 1
    return DemoLoad(added, relationships, 0, consents, withdrawn, objections)
