"""`personvern breach …`: the breach register (GDPR Art. 33-34) from the shell; the CEO's alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.bootstrap import parse_instant
from personvern.cli.common import Env, command
from personvern.cli.layout import Column, print_rows
from personvern.domain.breaches import Breach, Notification, Status, hours
from personvern.domain.errors import invalid
from personvern.reports.breach import local_instant
from personvern.services import breaches
from personvern.services.breaches import BreachInput

breach_app = typer.Typer(
    help="The breach register (GDPR Art. 33-34): record, list, report and notify breaches.", no_args_is_help=True
)

IdArg = Annotated[str, typer.Argument(help="The breach's id.", show_default=False)]
Description = Annotated[str | None, typer.Option("--description", help="What happened, and how.")]
Discovered = Annotated[str | None, typer.Option("--discovered", help="When the breach was discovered (ISO-8601).")]
Occurred = Annotated[str | None, typer.Option("--occurred", help="When it began (ISO-8601).")]
OccurredUntil = Annotated[str | None, typer.Option("--occurred-until", help="When it ended (ISO-8601).")]
Cause = Annotated[str | None, typer.Option("--cause", help="The main cause.")]
Categories = Annotated[
    list[str] | None, typer.Option("--categories", help="A type of personal data concerned (repeatable).")
]
Relation = Annotated[str | None, typer.Option("--relation", help="The people's relation to the company.")]
People = Annotated[int | None, typer.Option("--people", help="About how many people are affected.")]
Records = Annotated[int | None, typer.Option("--records", help="About how many records are affected.")]
Consequences = Annotated[str | None, typer.Option("--consequences", help="Likely consequences for the people.")]
Taken = Annotated[str | None, typer.Option("--measures-taken", help="Measures taken.")]
Planned = Annotated[str | None, typer.Option("--measures-planned", help="Measures planned.")]
Location = Annotated[str | None, typer.Option("--data-location", help="Where the data is now.")]
Contact = Annotated[str | None, typer.Option("--contact", help="Contact person (default: the privacy contact).")]
RiskOption = Annotated[
    str | None, typer.Option("--risk", help="unlikely (no risk; documented, not notified), likely, or high (Art. 34).")
]
RiskReason = Annotated[str | None, typer.Option("--risk-reason", help="Why the risk is judged so.")]
Subjects = Annotated[
    list[str] | None, typer.Option("--subject", help="An affected subject's id (repeatable).", show_default=False)
]


def _when(text: str | None, field: str) -> datetime | None:
    return None if text is None else parse_instant(text, field)


def _utc(at: datetime | None) -> datetime | None:
    # JSON gives every instant in UTC, as the register stores it and every other command prints it (DESIGN §4),
    # whatever offset it was typed with; the text output shows the controller's clock.
    return None if at is None else at.astimezone(UTC)


def notification_json(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "recipient": n.recipient.value,
        "phase": n.phase.value if n.phase else None,
        "at": _utc(n.at),
        "recorded_at": _utc(n.recorded_at),
        "recorded_by": n.recorded_by,
        "reference": n.reference,
        "late_reason": n.late_reason,
        "content": n.content,
        "outcome": dict(n.outcome),
    }


def breach_json(b: Breach, now: datetime) -> dict[str, Any]:
    phase = b.next_phase()
    return {
        "id": b.id,
        "status": b.status(now).value,
        "overdue": b.overdue(now),
        "deadline": _utc(b.deadline),
        "discovered_at": _utc(b.discovered_at),
        "occurred_at": _utc(b.occurred_at),
        "occurred_until": _utc(b.occurred_until),
        "description": b.description,
        "cause": b.cause,
        "categories": list(b.categories),
        "relation": b.relation,
        "people": b.people,
        "records": b.records,
        "consequences": b.consequences,
        "measures_taken": b.measures_taken,
        "measures_planned": b.measures_planned,
        "data_location": b.data_location,
        "contact": b.contact,
        "risk": b.risk.value if b.risk else None,
        "risk_reason": b.risk_reason,
        "subjects": list(b.subject_ids),
        "subjects_must_be_told": b.subjects_must_be_told,
        "closed": b.closed,
        "next_phase": phase.value,
        "recorded_at": _utc(b.recorded_at),
        "recorded_by": b.recorded_by,
        "updated_at": _utc(b.updated_at),
        "notifications": [notification_json(n) for n in b.notifications],
    }


def status_text(b: Breach, now: datetime, zone: str) -> str:
    """Where the breach stands with the authority, in words, on the controller's clock: due, overdue, notified."""

    def instant(at: datetime) -> str:
        return local_instant(at, zone)

    status = b.status(now)
    if status is Status.DUE:
        return f"due {instant(b.deadline)} (in {hours(b.deadline - now)})"
    if status is Status.OVERDUE:
        return f"OVERDUE since {instant(b.deadline)} (by {hours(now - b.deadline)})"
    if status is Status.NOT_REQUIRED:
        return "not notified: unlikely to result in a risk (documented)"
    first = b.to_authority[0]
    late = " (late)" if first.late_reason else ""
    told = f"{len(b.to_authority)} notification(s), ref {b.to_authority[-1].reference}"
    final = b.final_notification
    if final is not None:
        # Art. 33(4): closed with the authority; anything learnt later goes as a follow-up notification.
        return f"closed: final notification {instant(final.at)}; first {instant(first.at)}{late}, {told}"
    return f"notified {instant(first.at)}{late}, {told}"


def _input(
    description: str | None,
    discovered: str | None,
    occurred: str | None,
    occurred_until: str | None,
    cause: str | None,
    categories: list[str] | None,
    relation: str | None,
    people: int | None,
    records: int | None,
    consequences: str | None,
    measures_taken: str | None,
    measures_planned: str | None,
    data_location: str | None,
    contact: str | None,
    risk: str | None,
    risk_reason: str | None,
    subject: list[str] | None,
) -> BreachInput:
    return BreachInput(
        description=description,
        discovered_at=_when(discovered, "discovered"),
        occurred_at=_when(occurred, "occurred"),
        occurred_until=_when(occurred_until, "occurred-until"),
        cause=cause,
        categories=categories,
        relation=relation,
        people=people,
        records=records,
        consequences=consequences,
        measures_taken=measures_taken,
        measures_planned=measures_planned,
        data_location=data_location,
        contact=contact,
        risk=risk,
        risk_reason=risk_reason,
        subjects=list(subject or []),
    )


@command(breach_app, "add")
def add(
    env: Env,
    description: Annotated[str, typer.Option("--description", help="What happened, and how.", show_default=False)],
    discovered: Annotated[
        str, typer.Option("--discovered", help="When the breach was discovered (ISO-8601).", show_default=False)
    ],
    occurred: Occurred = None,
    occurred_until: OccurredUntil = None,
    cause: Cause = None,
    categories: Categories = None,
    relation: Relation = None,
    people: People = None,
    records: Records = None,
    consequences: Consequences = None,
    measures_taken: Taken = None,
    measures_planned: Planned = None,
    data_location: Location = None,
    contact: Contact = None,
    risk: RiskOption = None,
    risk_reason: RiskReason = None,
    subject: Subjects = None,
) -> None:
    """Record a breach; the authority is due 72 hours after its discovery (Art. 33(1)). Every breach is kept."""
    given = _input(
        description,
        discovered,
        occurred,
        occurred_until,
        cause,
        categories,
        relation,
        people,
        records,
        consequences,
        measures_taken,
        measures_planned,
        data_location,
        contact,
        risk,
        risk_reason,
        subject,
    )
    ctx = env.runtime().context()
    breach = breaches.add_breach(ctx, given)
    now = ctx.clock.now()
    env.emit(
        breach_json(breach, now),
        lambda c: c.print(
            f"recorded breach {breach.id}: {status_text(breach, now, ctx.policy.controller.timezone)}", markup=False
        ),
    )


@command(breach_app, "update")
def update(
    env: Env,
    breach_id: IdArg,
    description: Description = None,
    discovered: Discovered = None,
    occurred: Occurred = None,
    occurred_until: OccurredUntil = None,
    cause: Cause = None,
    categories: Categories = None,
    relation: Relation = None,
    people: People = None,
    records: Records = None,
    consequences: Consequences = None,
    measures_taken: Taken = None,
    measures_planned: Planned = None,
    data_location: Location = None,
    contact: Contact = None,
    risk: RiskOption = None,
    risk_reason: RiskReason = None,
    subject: Subjects = None,
) -> None:
    """Add what has become known (Art. 33(4)); an empty text clears a field; --subject adds an affected person."""
    given = _input(
        description,
        discovered,
        occurred,
        occurred_until,
        cause,
        categories,
        relation,
        people,
        records,
        consequences,
        measures_taken,
        measures_planned,
        data_location,
        contact,
        risk,
        risk_reason,
        subject,
    )
    ctx = env.runtime().context()
    breach, changed = breaches.update_breach(ctx, breach_id, given)
    now = ctx.clock.now()
    what = ", ".join(changed) or "affected subjects"
    env.emit(
        breach_json(breach, now) | {"changed": changed},
        lambda c: c.print(
            f"updated breach {breach.id} ({what}): {status_text(breach, now, ctx.policy.controller.timezone)}",
            markup=False,
        ),
    )


@command(breach_app, "list")
def list_(
    env: Env,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only breaches past 72 hours, not notified.")] = False,
) -> None:
    """Every breach, notified or not (Art. 33(5)), with its deadline; --overdue for those past it."""
    ctx = env.runtime().context()
    found = breaches.list_breaches(ctx, overdue)
    now = ctx.clock.now()
    zone = ctx.policy.controller.timezone

    def human(c: Console) -> None:
        title = f"{len(found)} {'overdue ' if overdue else ''}breach(es) at {local_instant(now, zone)}"
        rows = []
        for b in found:
            told = f"{sum(int(n.outcome.get('queued', 0)) for n in b.to_subjects)} by SMS" if b.to_subjects else ""
            if b.subjects_must_be_told:
                told = "MUST BE TOLD (Art. 34)"
            rows.append(
                (
                    b.id,
                    local_instant(b.discovered_at, zone),
                    status_text(b, now, zone),
                    b.risk.value if b.risk else "not assessed",
                    b.people,
                    told,
                )
            )
        columns = ("id", "discovered", Column("status", wrap=True), "risk", "people", Column("told", wrap=True))
        print_rows(c, columns, rows, title=title)

    env.emit({"now": now, "breaches": [breach_json(b, now) for b in found]}, human)


@command(breach_app, "show")
def show(
    env: Env,
    breach_id: IdArg,
    lang: Annotated[str | None, typer.Option("--lang", help="nb or en: the report's language (default nb).")] = None,
) -> None:
    """One breach: where it stands, and the report ready to paste into Datatilsynet's form."""
    ctx = env.runtime().context()
    breach = breaches.show_breach(ctx, breach_id)
    text = breaches.report(ctx, breach, lang)
    now = ctx.clock.now()

    def human(c: Console) -> None:
        c.print(f"breach {breach.id}: {status_text(breach, now, ctx.policy.controller.timezone)}", markup=False)
        if breach.subjects_must_be_told:
            c.print(
                "the risk is high: the people affected must be told (Art. 34): breach notify --subjects", markup=False
            )
        c.print("", markup=False)
        c.print(text.rstrip("\n"), markup=False)

    env.emit(breach_json(breach, now) | {"report": text}, human)


@command(breach_app, "notify")
def notify(
    env: Env,
    breach_id: IdArg,
    authority: Annotated[bool, typer.Option("--authority", help="The authority was told (Art. 33).")] = False,
    subjects: Annotated[bool, typer.Option("--subjects", help="Tell each affected person by SMS (Art. 34).")] = False,
    reference: Annotated[str | None, typer.Option("--reference", help="The authority's reference (Altinn).")] = None,
    phase: Annotated[
        str | None, typer.Option("--phase", help="initial, follow_up or final (default: the next one; Art. 33(4)).")
    ] = None,
    late_reason: Annotated[
        str | None, typer.Option("--late-reason", help="Why later than 72 hours after discovery (required then).")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="When the authority was told (default: now).")] = None,
    text: Annotated[str | None, typer.Option("--text", help="The message to the people affected.")] = None,
    description: Description = None,
    discovered: Discovered = None,
    occurred: Occurred = None,
    occurred_until: OccurredUntil = None,
    cause: Cause = None,
    categories: Categories = None,
    relation: Relation = None,
    people: People = None,
    records: Records = None,
    consequences: Consequences = None,
    measures_taken: Taken = None,
    measures_planned: Planned = None,
    data_location: Location = None,
    contact: Contact = None,
    risk: RiskOption = None,
    risk_reason: RiskReason = None,
    subject: Subjects = None,
) -> None:
    """Record a notification to the authority, or queue a message to each person affected, through the outbox.

    With --authority, the facts options (as `breach update` takes them) record what this notification told the
    authority, with it; after the final notification that is how later facts are added (a follow-up).
    """
    if authority == subjects:
        raise invalid("notify", "give exactly one of --authority and --subjects")
    facts = _input(
        description,
        discovered,
        occurred,
        occurred_until,
        cause,
        categories,
        relation,
        people,
        records,
        consequences,
        measures_taken,
        measures_planned,
        data_location,
        contact,
        risk,
        risk_reason,
        subject,
    )
    ctx = env.runtime().context()
    if authority:
        if text is not None:
            raise invalid("text", "is for --subjects; the authority is told through Altinn")
        n = breaches.notify_authority(ctx, breach_id, reference, phase, late_reason, _when(at, "at"), facts)
        late = " (late; reason recorded)" if n.late_reason else ""
        env.emit(
            notification_json(n),
            lambda c: c.print(
                f"breach {breach_id}: {n.phase.value if n.phase else ''} notification to the authority "
                f"{local_instant(n.at, ctx.policy.controller.timezone)}, reference {n.reference}{late}",
                markup=False,
            ),
        )
        return
    for name, value in (("reference", reference), ("phase", phase), ("late-reason", late_reason), ("at", at)):
        if value is not None:
            raise invalid(name, "is for --authority")
    for name, value in vars(facts).items():
        if value not in (None, []):
            raise invalid(name.removesuffix("_at").replace("_", "-"), "is for --authority or breach update")
    if text is None:
        raise invalid("text", "give the message to the people affected (--text)")
    done = breaches.notify_subjects(ctx, breach_id, text)
    data = notification_json(done.notification) | {
        "queued": [{"subject_id": s, "message_id": m, "outbox_id": o} for s, m, o in done.queued],
        "no_phone": done.no_phone,
        "not_in_register": done.not_in_register,
        "restricted": done.restricted,
    }

    def human(c: Console) -> None:
        c.print(f"queued {len(done.queued)} SMS; `personvern worker` delivers them", markup=False)
        for ids, why in (
            (done.not_in_register, "not in the register (erased or archived): cannot be told"),
            (done.no_phone, "no mobile number: tell them another way"),
            (done.restricted, "processing restricted (Art. 18): no SMS; tell them another way"),
        ):
            for sid in ids:
                c.print(f"  {sid}: {why}", markup=False)

    env.emit(data, human)
