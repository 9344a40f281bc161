"""`personvern consent …`, `object`, `restrict` and `marketing audience`: the consent ledger from the shell."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.cli.common import Env, command
from personvern.cli.layout import Column, print_rows
from personvern.domain.consent import MARKETING, Block, ConsentEvent, EffectiveConsent, channel_field
from personvern.services import consent
from personvern.services.consent import ConsentRecorded, Ledger

consent_app = typer.Typer(help="The consent ledger: consent given and withdrawn, with receipts.", no_args_is_help=True)
marketing_app = typer.Typer(help="Marketing: who may be contacted, and how.", no_args_is_help=True)

SubjectArg = Annotated[str, typer.Argument(help="The subject's id.", show_default=False)]
PurposeOption = Annotated[str, typer.Option("--purpose", help="A purpose of the policy based on consent.")]
ChannelOption = Annotated[str, typer.Option("--channel", help="sms or email (the purpose's channels).")]
# Required: the ledger is proof (Art. 7(1)), and a default would record a method nobody used.
MethodOption = Annotated[
    str,
    typer.Option("--method", help="How the person said it: web, phone, paper, import, sms_reply.", show_default=False),
]
NoticeOption = Annotated[
    str | None,
    typer.Option("--notice", help="sha256 of the privacy notice the person saw (default: the notice in force)."),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (stored encrypted; never audited).")]


def event_json(e: ConsentEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "purpose": e.purpose,
        "channel": e.channel,
        "action": e.action.value,
        "at": e.at,
        "method": e.method.value,
        "recorded_by": e.recorded_by,
        "role": e.role,
        "notice_sha256": e.notice_sha256,
        "proof": e.proof,
    }


def block_json(b: Block) -> dict[str, Any]:
    return {
        "id": b.id,
        "subject_id": b.subject_id,
        "kind": b.kind.value,
        "purpose": b.purpose,
        "active": b.active,
        "set_at": b.set_at,
        "set_by": b.set_by,
        "reason": b.reason,
        "lifted_at": b.lifted_at,
        "lifted_by": b.lifted_by,
        "lift_reason": b.lift_reason,
    }


def state_json(states: Iterable[EffectiveConsent]) -> list[dict[str, Any]]:
    """The state the rules decide per purpose and channel, with why (never just the latest event)."""
    return [
        {
            "purpose": s.purpose,
            "channel": s.channel,
            "state": s.status.value,
            "in_force": s.in_force,
            "reason": s.reason,
            "since": s.since,
            "event": s.event.id if s.event is not None else None,
            "block": s.block.id if s.block is not None else None,
        }
        for s in states
    ]


def ledger_json(ledger: Ledger) -> dict[str, Any]:
    return {
        "subject_id": ledger.subject_id,
        "state": state_json(ledger.effective),
        "marketing": {
            channel: {"allowed": reason is None, "reason": reason} for channel, reason in ledger.marketing.items()
        },
        "blocks": [block_json(b) for b in ledger.blocks],
        "events": [event_json(e) for e in ledger.events],
    }


def describe_block(b: Block) -> str:
    what = f"objection to {b.purpose}" if b.purpose else "restriction of processing (Art. 18)"
    text = f"{what} {b.id}, set {b.set_at.isoformat()} by {b.set_by}"
    if b.reason:
        text += f": {b.reason}"
    if not b.active and b.lifted_at is not None:
        text += f"; lifted {b.lifted_at.isoformat()} by {b.lifted_by}"
        if b.lift_reason:
            text += f" ({b.lift_reason})"
    return text


def print_state(c: Console, states: Iterable[EffectiveConsent], blocks: Iterable[Block]) -> None:
    for s in states:
        c.print(f"consent to {s.purpose} by {s.channel}: {s.reason}", markup=False)
    for b in blocks:
        c.print(describe_block(b), markup=False)


def _recorded(env: Env, done: ConsentRecorded) -> None:
    e = done.event
    data = event_json(e) | {"subject_id": e.subject_id, "lifted_objections": [block_json(b) for b in done.lifted]}

    def human(c: Console) -> None:
        c.print(f"consent to {e.purpose} by {e.channel} {e.action.value}: event {e.id} at {e.at.isoformat()}")
        for b in done.lifted:
            c.print(f"the objection {b.id} set {b.set_at.isoformat()} is lifted by this fresh consent", markup=False)

    env.emit(data, human)


@command(consent_app, "give")
def give(
    env: Env,
    subject_id: SubjectArg,
    channel: ChannelOption,
    method: MethodOption,
    purpose: PurposeOption = "marketing",
    notice: NoticeOption = None,
) -> None:
    """Record a consent (Art. 7(1)); a fresh consent lifts an earlier objection to the purpose."""
    _recorded(env, consent.give_consent(env.runtime().context(), subject_id, purpose, channel, method, notice))


@command(consent_app, "withdraw")
def withdraw(
    env: Env,
    subject_id: SubjectArg,
    channel: ChannelOption,
    method: MethodOption,
    purpose: PurposeOption = "marketing",
    notice: NoticeOption = None,
) -> None:
    """Record that a consent is withdrawn (Art. 7(3)); marketing on that channel stops at once."""
    _recorded(env, consent.withdraw_consent(env.runtime().context(), subject_id, purpose, channel, method, notice))


@command(consent_app, "show")
def show(
    env: Env,
    subject_id: SubjectArg,
    receipt: Annotated[
        str | None, typer.Option("--receipt", help="Print this event's Kantara v1.1 consent receipt as JSON.")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="The receipt's language: nb or en.")] = None,
) -> None:
    """The subject's consent ledger: every event, the state it gives, objections and restrictions."""
    ctx = env.runtime().context()
    if receipt is not None:
        document = consent.receipt(ctx, receipt, lang, subject_id=subject_id)
        # A receipt is a JSON document whichever output was asked for: it is made to be kept and passed on.
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    ledger = consent.consent_ledger(ctx, subject_id)

    def human(c: Console) -> None:
        c.print(f"subject {ledger.subject_id}", markup=False)
        for state in ledger.effective:
            c.print(f"consent to {state.purpose} by {state.channel}: {state.reason}", markup=False)
        for channel, reason in ledger.marketing.items():
            c.print(f"marketing by {channel}: {'allowed' if reason is None else 'not allowed: ' + reason}")
        for b in ledger.blocks:
            c.print(describe_block(b), markup=False)
        if not ledger.events:
            c.print("no consent events")
            return
        columns = ("event", "at", "purpose", "channel", "action", "method", "recorded by", Column("notice", wrap=True))
        rows = [
            (
                e.id,
                e.at.isoformat(),
                e.purpose,
                e.channel,
                e.action.value,
                e.method.value,
                f"{e.recorded_by} ({e.role})",
                e.notice_sha256[:12] if e.notice_sha256 else f"unknown; proof: {e.proof}",
            )
            for e in ledger.events
        ]
        print_rows(c, columns, rows, title="ledger (receipts: --receipt EVENT_ID)")

    env.emit(ledger_json(ledger), human)


def object_(
    env: Env,
    subject_id: SubjectArg,
    purpose: PurposeOption = "marketing",
    reason: ReasonOption = None,
) -> None:
    """Record an objection (Art. 21): marketing stops whatever the consent says, until a fresh consent."""
    block = consent.object_to(env.runtime().context(), subject_id, purpose, reason)
    env.emit(block_json(block), lambda c: c.print(describe_block(block), markup=False))


def restrict(
    env: Env,
    subject_id: SubjectArg,
    lift: Annotated[bool, typer.Option("--lift", help="Lift the restriction (Art. 18(3)).")] = False,
    reason: ReasonOption = None,
) -> None:
    """Restrict processing (Art. 18): the data is kept, nothing else; no message reaches the person."""
    block = consent.restrict(env.runtime().context(), subject_id, lift, reason)
    env.emit(block_json(block), lambda c: c.print(describe_block(block), markup=False))


@command(marketing_app, "audience")
def audience(
    env: Env,
    channel: ChannelOption,
    count: Annotated[bool, typer.Option("--count", help="Only how many.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.")] = 0,
) -> None:
    """Who marketing on a channel may reach now: consent in force, no objection, not restricted."""
    runtime = env.runtime()
    ctx = runtime.context()
    result = consent.marketing_audience(ctx, channel, count, limit, offset)
    if isinstance(result, int):
        total = result
        env.emit(
            {"channel": channel, "count": total}, lambda c: c.print(f"{total} subjects may be reached by {channel}")
        )
        return
    members = result
    field = channel_field(ctx.policy, MARKETING, channel)
    data = {
        "channel": channel,
        "limit": limit,
        "offset": offset,
        "subjects": [{"id": m.subject_id, field: m.address} for m in members],
    }

    def human(c: Console) -> None:
        shown = f"subjects {offset + 1}-{offset + len(members)}" if members else "no subjects"
        rows = [(m.subject_id, m.address) for m in members]
        print_rows(c, ("id", field), rows, title=f"{shown} who may be reached by {channel} now")

    env.emit(data, human)
