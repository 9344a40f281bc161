"""`personvern sms …`: send a message, and feed LINK Mobility's delivery reports and inbound replies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.bootstrap import parse_instant
from personvern.cli.common import Env, command, err_console, reading
from personvern.cli.layout import Column, print_rows
from personvern.domain.errors import invalid
from personvern.domain.sms import Message, parse_delivery_reports, parse_inbound, result_code
from personvern.services import messaging

sms_app = typer.Typer(help="SMS to subjects through LINK Mobility.", no_args_is_help=True)


def _read_json(path: Path) -> Any:
    with reading(path):
        try:
            return json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise invalid("file", f"{path} is not JSON (line {exc.lineno}: {exc.msg})") from None
        except ValueError:  # valid JSON, but a number longer than Python reads (4 300 digits)
            raise invalid("file", f"{path} holds a number too long to read") from None
        except RecursionError:
            raise invalid("file", f"{path} is nested too deeply") from None


@command(sms_app, "send")
def send(
    env: Env,
    subject_id: Annotated[str, typer.Argument(help="The subject's id.")],
    purpose: Annotated[str, typer.Option("--purpose", help="service (needs an active order or contract), marketing.")],
    text: Annotated[str, typer.Option("--text", help="The message; marketing gets the opt-out line appended.")],
    yes: Annotated[bool, typer.Option("--yes", help="Send without asking.")] = False,
) -> None:
    """Queue an SMS to a subject, after the policy's rules; shows encoding and segments first."""
    ctx = env.runtime().context()
    draft = messaging.draft_sms(ctx, subject_id, purpose, text)
    length = draft.length
    plural = "" if length.segments == 1 else "s"
    preview = f"{length.encoding.value}, {length.segments} segment{plural}, {length.characters} characters"
    if not (yes or env.json):
        console = err_console()
        console.print(f"SMS to subject {subject_id} ({purpose}): {preview}", markup=False)
        if draft.opt_out:
            console.print("the opt-out line is appended: «Svar STOPP for å melde deg av»", markup=False)
        if not typer.confirm("Send it?", default=False, err=True):
            console.print("nothing was sent", markup=False)
            raise typer.Exit(1)
    queued = messaging.send_sms(ctx, subject_id, purpose, text)
    data = {
        "message_id": queued.message_id,
        "outbox_id": queued.outbox_id,
        "subject_id": subject_id,
        "purpose": purpose,
        "encoding": queued.draft.length.encoding.value,
        "segments": queued.draft.length.segments,
        "characters": queued.draft.length.characters,
        "opt_out_appended": queued.draft.opt_out,
        "status": "pending",
    }

    def human(c: Console) -> None:
        c.print(f"queued message {queued.message_id} ({preview}) as outbox row {queued.outbox_id}", markup=False)
        c.print("`personvern worker` delivers it", markup=False)

    env.emit(data, human)


def _report_line(o: messaging.ReportOutcome) -> str:
    """One report's outcome in words: what the message's status is now, and whether this report changed it."""
    code = f"{o.result_code} {o.meaning}"
    if o.result is messaging.ReportResult.UNKNOWN or o.status is None:
        return (
            f"refId {o.ref_id}: ignored ({code}): no message was sent with this refId from this register "
            "(its person may have been erased)"
        )
    if o.result is messaging.ReportResult.LATE:
        return (
            f"{o.message_id}: stays {o.status.value}; ignored {code}: "
            "the message's status is final, and a later report cannot change it"
        )
    if o.result is messaging.ReportResult.REPEATED:
        return f"{o.message_id}: {o.status.value} — {code} (recorded before; nothing changed)"
    return f"{o.message_id}: {o.status.value} — {code}"


@command(sms_app, "report")
def report(
    env: Env,
    file: Annotated[Path, typer.Argument(help="A LINK Mobility delivery report (JSON object) or a list of them.")],
) -> None:
    """Record LINK Mobility delivery reports: 1001 delivered; 1000, 1005, 1012 on the way; other codes final.

    The file is UTF-8 JSON: one report object as LINK Mobility posts it, or a list of them. Each needs
    "refId" (the outbox row id the message was sent with) and "resultCode" (a number); "id" (LINK's message
    id) and "segments" are kept when present; other fields are ignored. A malformed file records nothing
    (exit 3). Each report is answered on its own: a refId that names no message here (its person erased, say)
    is listed as ignored, and a report about a message whose status is already final (delivered, failed,
    unknown, cancelled) changes nothing.
    """
    reports = parse_delivery_reports(_read_json(file))
    outcomes = messaging.record_reports(env.runtime().context(), reports)
    tally = {r: sum(1 for o in outcomes if o.result is r) for r in messaging.ReportResult}
    data = {
        "recorded": [
            {
                "refId": o.ref_id,
                "message_id": o.message_id,
                "result_code": o.result_code,
                "meaning": o.meaning,
                "status": None if o.status is None else o.status.value,
                "changed": o.changed,
                "result": o.result.value,
            }
            for o in outcomes
        ],
        "counts": {r.value: n for r, n in tally.items()},
    }

    def human(c: Console) -> None:
        for o in outcomes:
            c.print(_report_line(o), markup=False)
        ignored = len(outcomes) - tally[messaging.ReportResult.RECORDED]
        plural = "" if len(outcomes) == 1 else "s"
        c.print(
            f"{len(outcomes)} report{plural}: {tally[messaging.ReportResult.RECORDED]} changed a message's status, "
            f"{ignored} changed nothing",
            markup=False,
        )

    env.emit(data, human)


@command(sms_app, "inbound")
def inbound(
    env: Env,
    file: Annotated[Path, typer.Argument(help="A LINK Mobility inbound (MO) message: source and content.userData.")],
) -> None:
    """Act on a reply: a stop word from a subject's number withdraws their SMS marketing consent.

    The whole reply must be a stop word, in any case, with punctuation or spaces around it: STOPP, STOP,
    UNSUBSCRIBE, AVMELD, MELD AV or MELD MEG AV («Stopp.», "stop!" count; «stopp nå» does not). Marketing
    SMS still queued for the person are cancelled with it. The file is UTF-8 JSON as LINK Mobility posts
    an inbound (MO) message: "source" (the sender's number) and "content": {"userData": the text}.
    """
    outcome = messaging.handle_inbound(env.runtime().context(), parse_inbound(_read_json(file)))
    # The same answer whether or not the number is a subject's: the reply must not reveal who is a customer.
    if outcome.keyword:
        text = f"{outcome.keyword}: SMS marketing consent withdrawn for the sender, if the number is registered"
    else:
        text = "not a keyword; nothing to do"
    env.emit({"keyword": outcome.keyword}, lambda c: c.print(text, markup=False))


def message_json(m: Message) -> dict[str, Any]:
    """A message as the log shows it: ids, purpose, status and times; never the number or the text."""
    return {
        "id": m.id,
        "subject_id": m.subject_id,  # None: the person was erased and the message kept without them
        "purpose": m.purpose,
        "channel": m.channel,
        "status": m.status.value,
        "status_text": m.status_text,
        "result_code": m.result_code,
        "meaning": None if m.result_code is None else result_code(m.result_code).meaning,
        "segments": m.segments,
        "encoding": m.encoding.value,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "outbox_id": m.outbox_id,
        "vendor_message_id": m.vendor_message_id,
    }


@command(sms_app, "list")
def list_(
    env: Env,
    subject: Annotated[str | None, typer.Option("--subject", help="Only this subject's messages.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only this status: pending, queued, sent, delivered, failed, ...")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only messages queued at or after (ISO-8601).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.")] = 0,
) -> None:
    """Messages sent, newest first: status, delivery report and times, delivered ones too (no number, no text)."""
    after = parse_instant(since, "since") if since is not None else None
    listing = messaging.list_messages(env.runtime().context(), subject, status, after, limit, offset)

    def human(c: Console) -> None:
        rows = []
        for m in listing.messages:
            data = message_json(m)
            report = f"{m.result_code} {data['meaning']}" if m.result_code is not None else ""
            if m.status_text and m.status_text != data["meaning"]:
                report = f"{report} ({m.status_text})" if report else m.status_text
            queued = m.created_at.isoformat(timespec="minutes")
            rows.append((m.id, m.subject_id or "erased", m.purpose, m.status.value, queued, m.segments, report))
        columns = ("id", "subject", "purpose", "status", "queued", "SMS", Column("delivery report", wrap=True))
        print_rows(c, columns, rows, title=f"{len(listing.messages)} of {listing.total} messages")

    env.emit({"total": listing.total, "messages": [message_json(m) for m in listing.messages]}, human)
