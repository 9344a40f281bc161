"""`personvern request …` and `personvern archive …`: data subject requests, and the CEO's archive."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.bootstrap import parse_instant
from personvern.cli.common import Env, command, parse_assignments, parse_day
from personvern.cli.files import private_folder, write_private
from personvern.cli.layout import Column, print_fields, print_rows
from personvern.cli.tasks import recipient_json, state_words
from personvern.domain.archive import ArchiveRecord
from personvern.domain.erasure import ErasureReceipt
from personvern.domain.requests import Request, RequestType
from personvern.services import erasure, rights

request_app = typer.Typer(
    help="Data subject requests (GDPR Art. 12-22): open, verify, extend, fulfil or reject, on time.",
    no_args_is_help=True,
)
archive_app = typer.Typer(
    help="The archive only the CEO can reach (records whose reasons ended).", no_args_is_help=True
)


def request_json(r: Request, today: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id,
        "type": r.type.value,
        "state": r.state.value,
        "subject_id": r.subject_id,
        "channel": r.channel.value,
        "language": r.language,
        "purpose": r.purpose,
        "received_at": r.received_at,
        "received_on": r.received_date,
        "due_on": r.due_on,
        "extended": r.extended_at is not None,
        "extension_reason": r.extension_reason,
        "verified_at": r.verified_at,
        "verified_by": r.verified_by,
        "verification_method": r.verification_method.value if r.verification_method else None,
        "closed_at": r.closed_at,
        "closed_by": r.closed_by,
        "rejection_reason": r.rejection_reason,
        "outcome": r.outcome or None,
    }
    if today is not None and r.open:
        out["days_left"] = r.days_left(today)
        out["overdue"] = r.overdue(today)
    return out


def _due(r: Request, today: Any) -> str:
    if not r.open:
        return r.state.value
    left = r.days_left(today)
    return f"OVERDUE by {-left} d" if left < 0 else f"{left} d left"


@command(request_app, "open")
def open_(
    env: Env,
    type_: Annotated[
        str, typer.Option("--type", help="access | portability | rectification | erasure | restriction | objection")
    ],
    email: Annotated[str | None, typer.Option("--email", help="The email address the person gave.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The phone number the person gave.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="A subject id, when known.")] = None,
    channel: Annotated[str, typer.Option("--channel", help="email | phone | letter | web | in_person")] = "email",
    received: Annotated[
        str | None, typer.Option("--received", help="When it arrived (ISO-8601); default: now.")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="The language to answer in (nb | en).")] = None,
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="An objection's purpose (default marketing).")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Rectification: FIELD=VALUE as it should be.")] = None,
    unset: Annotated[list[str] | None, typer.Option("--unset", help="Rectification: FIELD to remove.")] = None,
) -> None:
    """Register a request the day it arrives; the answer is due one month later (Art. 12(3))."""
    at = parse_instant(received, "received") if received else None
    opened = rights.open_request(
        env.runtime().context(),
        type_,
        email=email,
        phone=phone,
        subject_id=subject,
        channel=channel,
        received_at=at,
        language=lang,
        purpose=purpose,
        changes=parse_assignments(set_, "--set"),
        unset=list(unset or []),
    )
    r = opened.request

    def human(c: Console) -> None:
        c.print(f"request {r.id} ({r.type.value}) received {r.received_date.isoformat()}, due {r.due_on.isoformat()}")
        if opened.matched:
            where = "the archive" if opened.archived else "the register"
            c.print(f"it concerns subject {r.subject_id} in {where}")
        else:
            c.print("the identity matches nobody in the register or the archive: the answer will say we hold nothing")
        c.print(f"next: verify the person's identity with `personvern request verify {r.id} --method ...`")

    env.emit({**request_json(r), "matched": opened.matched, "archived": opened.archived}, human)


@command(request_app, "list")
def list_(
    env: Env,
    all_: Annotated[bool, typer.Option("--all", help="Closed requests too.")] = False,
    due_before: Annotated[str | None, typer.Option("--due-before", help="Only those due by this day.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 200,
) -> None:
    """Requests by due date, overdue first, with the days left."""
    today, found = rights.list_requests(
        env.runtime().context(), everything=all_, due_before=parse_day(due_before, "due-before"), limit=limit
    )

    def human(c: Console) -> None:
        rows = [
            (
                r.id,
                r.type.value,
                r.state.value,
                r.received_date.isoformat(),
                r.due_on.isoformat(),
                _due(r, today),
                r.subject_id or "(nobody)",
            )
            for r in found
        ]
        columns = ("id", "type", "state", "received", "due", "left", "subject")
        print_rows(c, columns, rows, title=f"{len(found)} requests (today {today.isoformat()})")

    env.emit({"today": today, "requests": [request_json(r, today) for r in found]}, human)


@command(request_app, "show")
def show(env: Env, request_id: Annotated[str, typer.Argument(help="The request's id.")]) -> None:
    """One request: its state, deadline, how the identity was checked, and what was done."""
    view = rights.show_request(env.runtime().context(), request_id)
    r = view.request
    data = {**request_json(r, view.today), "identity": view.identity, "details": view.details}
    if view.receipt is not None:
        data["erasure_receipt"] = receipt_json(view.receipt)
    data["recipients"] = [recipient_json(v) for v in view.recipients]
    data["answer_links"] = [
        {"sent_at": a.created_at, "expires_at": a.expires_at, "fetched_at": a.fetched_at, "closed_at": a.closed_at}
        for a in view.answer_links
    ]

    def human(c: Console) -> None:
        c.print(f"request {r.id}: {RIGHTS[r.type.value]}, {r.state.value.replace('_', ' ')}", markup=False)
        lines = [*_request_lines(view), *_outcome_lines(r, view.receipt), *_recipient_lines(view)]
        print_fields(c, [*lines, *_link_lines(view)])

    env.emit(data, human)


def _link_lines(view: rights.RequestView) -> list[tuple[str, str | None]]:
    """A request from the privacy page is answered by a single-use link: when it went, and whether it was used."""
    lines: list[tuple[str, str | None]] = []
    for a in view.answer_links:
        if a.fetched_at is not None:
            fate = f"fetched {_at(a.fetched_at)}"
        elif a.closed_at is not None:
            fate = f"not fetched; closed and the answer deleted {_at(a.closed_at)}"
        else:
            fate = f"not fetched yet; works until {_at(a.expires_at)}"
        lines.append(("answer link", f"sent {_at(a.created_at)}, {fate}"))
    return lines


def receipt_json(receipt: ErasureReceipt) -> dict[str, Any]:
    return {
        "id": receipt.id,
        "erased_at": receipt.erased_at,
        "held_until": receipt.held_until,
        "details": receipt.details,
    }


# Each kind of request by its name and the article that gives the right.
RIGHTS = {
    "access": "access (Art. 15)",
    "portability": "data portability (Art. 20)",
    "rectification": "rectification (Art. 16)",
    "erasure": "erasure (Art. 17)",
    "restriction": "restriction of processing (Art. 18)",
    "objection": "objection (Art. 21)",
}


def _at(moment: Any) -> str:
    return str(moment.isoformat(timespec="seconds"))


def _request_lines(view: rights.RequestView) -> list[tuple[str, str | None]]:
    """Who asked, how, and where the request stands: one labelled line each."""
    r = view.request
    subject = r.subject_id or "nobody in the register or the archive matches the identity given"
    identity = "; ".join(f"{name} {value}" for name, value in (view.identity or {}).items()) or None
    if view.identity is None and r.type.value == "erasure" and not r.open:
        identity = "forgotten with the erasure"
    due = r.due_on.isoformat()
    if r.open:
        left = r.days_left(view.today)
        due += f" (OVERDUE by {-left} days)" if left < 0 else f" ({left} days left)"
    details = view.details or {}
    corrections = [f"{name} → {value}" for name, value in (details.get("set") or {}).items()]
    corrections += [f"remove {name}" for name in details.get("unset") or []]
    verified = None
    if r.verified_at is not None:
        method = r.verification_method.value.replace("_", " ") if r.verification_method else "unknown method"
        verified = f"{_at(r.verified_at)} by {r.verified_by} ({method})"
    return [
        ("subject", subject),
        ("identity", identity),
        ("channel", f"{r.channel.value.replace('_', ' ')}; the answer in {r.language}"),
        ("received", r.received_date.isoformat()),
        ("due", due),
        ("extended", f"on {_at(r.extended_at)}: {r.extension_reason}" if r.extended_at else None),
        ("purpose", r.purpose),
        ("corrections", "\n".join(corrections)),
        ("verified", verified),
        ("closed", f"{_at(r.closed_at)} by {r.closed_by}" if r.closed_at else None),
        ("rejected", r.rejection_reason),
    ]


def _outcome_lines(r: Request, receipt: ErasureReceipt | None) -> list[tuple[str, str | None]]:
    """What was done, in words: fields, holds, processors told, and the answer's files with their hashes."""
    o = r.outcome
    if not o:
        return []
    lines: list[tuple[str, str | None]] = []
    if not o.get("held", True):
        lines.append(("outcome", "we hold nothing about the person; the letter says so"))
    if r.type.value in ("access", "portability") and o.get("held"):
        lines.append(("outcome", "the person's data is in the answer's files"))
    if r.type.value == "portability":
        lines.append(("fields given", ", ".join(o.get("fields") or []) or "none"))
    if r.type.value == "rectification":
        lines.append(("fields changed", ", ".join(o.get("fields") or []) or "none"))
    processors = dict(o.get("processors") or {})
    if receipt is not None:
        d = receipt.details
        lines.append(("fields erased", ", ".join(d.get("fields_erased") or []) or "none"))
        if d.get("fields_held"):
            # Art. 17(3)(b): what a law requires is kept, restricted to that use, and goes when the duty ends.
            held = f"{', '.join(d['fields_held'])}, until {d.get('held_until')}: the law requires them kept"
            lines.append(("fields held", held + " (Art. 17(3)(b)); processing restricted meanwhile"))
        if d.get("archive_record_erased"):
            lines.append(("archive", f"archived record {d['archive_record_erased']} erased"))
        if d.get("outbox_rows_stopped"):
            lines.append(("messages stopped", str(d["outbox_rows_stopped"])))
        processors = dict(d.get("processors") or {}) | processors
    if o.get("orders_ended"):
        lines.append(("orders ended", str(o["orders_ended"])))
    if r.type.value == "restriction" and o.get("block"):
        lines.append(("restriction", f"block {o['block']} set: the data is kept and nothing else done with it"))
    if r.type.value == "objection" and o.get("block"):
        lines.append(("objection", f"block {o['block']} set: no more {o.get('purpose') or 'marketing'}"))
    lines.append(("processors told", "\n".join(f"{name}: {action}" for name, action in sorted(processors.items()))))
    if receipt is not None:
        lines.append(("receipt", f"erasure receipt {receipt.id}, {_at(receipt.erased_at)}"))
    elif o.get("receipt"):
        lines.append(("receipt", f"erasure receipt {o['receipt']}"))
    files = o.get("files") or {}
    width = max((len(name) for name in files), default=0)
    lines.append(("files", "\n".join(f"{name.ljust(width)}  sha256 {digest}" for name, digest in files.items())))
    return lines


def _recipient_lines(view: rights.RequestView) -> list[tuple[str, str | None]]:
    """Each recipient's part (Art. 17(2), 19): what it must do, and where its confirmation stands."""
    if not view.recipients:
        return []
    lines = [
        f"{v.name} ({v.confirmation.recipient}): {v.confirmation.action}: {state_words(v, view.today)}"
        for v in view.recipients
    ]
    waiting = [v for v in view.recipients if v.confirmation.pending]
    said = "waiting for " + ", ".join(v.confirmation.recipient for v in waiting) if waiting else "all confirmed"
    return [("recipients", "\n".join(lines)), ("confirmations", said)]


def _moved(env: Env, r: Request, said: str) -> None:
    env.emit(request_json(r), lambda c: c.print(f"request {r.id}: {said}", markup=False))


@command(request_app, "verify")
def verify(
    env: Env,
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    method: Annotated[
        str,
        typer.Option("--method", help="bankid | id_document | known_email | known_phone | in_person | signed_letter"),
    ],
) -> None:
    """Record how the person's identity was checked; required before anything is disclosed or changed."""
    r = rights.verify_request(env.runtime().context(), request_id, method)
    _moved(env, r, f"identity verified ({method}) by {r.verified_by}")


@command(request_app, "start")
def start(env: Env, request_id: Annotated[str, typer.Argument(help="The request's id.")]) -> None:
    """Mark a verified request as being worked on."""
    r = rights.start_request(env.runtime().context(), request_id)
    _moved(env, r, "in progress")


@command(request_app, "extend")
def extend(
    env: Env,
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, as the person will be told (Art. 12(3)).")],
    months: Annotated[int, typer.Option("--months", help="1 or 2 further months.")] = 2,
) -> None:
    """Extend the deadline once, by at most two months, within the first month."""
    r = rights.extend_request(env.runtime().context(), request_id, reason, months)
    _moved(env, r, f"extended; now due {r.due_on.isoformat()}. Tell the person why before {r.first_due.isoformat()}")


@command(request_app, "reject")
def reject(
    env: Env,
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (e.g. manifestly unfounded or excessive, Art. 12(5)).")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the letter to the person.")] = None,
) -> None:
    """Refuse a request, with a letter giving the reason and the right to complain (Art. 12(4))."""
    folder = out or Path(f"request-{request_id}")
    done = _answer(folder, lambda: rights.reject_request(env.runtime().context(), request_id, reason))
    r = done.request
    env.emit(
        {**request_json(r), "folder": str(folder), "files": sorted(done.files)},
        lambda c: c.print(f"request {r.id} rejected; the letter is in {folder.absolute() / 'letter.html'}"),
    )


def _answer(folder: Path, act: Callable[[], rights.Fulfilment]) -> rights.Fulfilment:
    """Run `act` and write its files to `folder`: a new folder (made 0700) or an empty one of the user's own.

    The folder is made and checked first: a request carried out whose answer cannot be written would be lost.
    The answer holds the person's data, so each file is its owner's only from the moment it exists.
    """
    created = private_folder(folder, "out", empty=True)
    try:
        done = act()
    except BaseException:
        if created:
            folder.rmdir()
        raise
    for name, blob in done.files.items():
        write_private(folder / name, blob, "out")
    return done


@command(request_app, "fulfil")
def fulfil(
    env: Env,
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the letter and data files.")] = None,
) -> None:
    """Carry out a verified request and write the answer: letter.html, and data.json/data.csv where due."""
    folder = out or Path(f"request-{request_id}")
    done = _answer(folder, lambda: rights.fulfil_request(env.runtime().context(), request_id))
    r = done.request
    recipients = [
        {
            "id": t.id,
            "recipient": t.recipient,
            "action": t.action,
            "confirm_by": t.confirm_by.value,
            "state": t.state.value,
            "detail": t.detail,
            "due_on": t.due_on,
            "outbox_row": t.outbox_id,
        }
        for t in done.recipients
    ]
    env.emit(
        {**request_json(r), "folder": str(folder), "files": sorted(done.files), "recipients": recipients},
        lambda c: _fulfilled(c, r, folder, done),
    )


def _fulfilled(c: Console, r: Request, folder: Path, done: rights.Fulfilment) -> None:
    said = "carried out" if r.open else "fulfilled"
    c.print(f"request {r.id} {said}; the answer is in {folder.absolute()}/ ({', '.join(sorted(done.files))})")
    if r.type is RequestType.RECTIFICATION and r.outcome.get("held"):
        fields = r.outcome.get("fields") or []
        # A correction to what is stored already changes nothing, and is said as such (so is the letter).
        c.print(
            f"changed: {', '.join(fields)}" if fields else "nothing was changed: the data was already as asked",
            markup=False,
        )
    for t in done.recipients:
        if not t.pending:
            continue
        # Art. 19: every recipient that holds the person must hear of it; the request waits for each of them.
        due = t.due_on.isoformat() if t.due_on else "?"
        if t.confirm_by.value == "task":
            c.print(f"task {t.id}: {t.recipient}: {t.action} by {due} (`personvern task done {t.id} --note ...`)")
        else:
            c.print(f"waiting for {t.recipient}: {t.detail} (outbox row {t.outbox_id}), expected by {due}")
    if r.open:
        c.print(f"request {r.id} stays in progress until every recipient has confirmed; then it completes by itself")


# ---------------------------------------------------------------- the archive


def archived_json(r: ArchiveRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "subject_id": r.subject_id,
        "kind": r.kind,
        "received_at": r.received_at,
        "archived_at": r.archived_at,
        "reason": r.reason,
    }


@command(archive_app, "list")
def archive_list(
    env: Env,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many.")] = 0,
) -> None:
    """Archived records, oldest first (ids, kinds and dates; `archive show` reads the values)."""
    total, records = erasure.list_archive(env.runtime().context(), limit, offset)

    def human(c: Console) -> None:
        columns = ("id", "subject", "kind", "archived", Column("reason", wrap=True))
        rows = [(r.id, r.subject_id, r.kind, r.archived_at.date().isoformat(), r.reason) for r in records]
        print_rows(c, columns, rows, title=f"{len(records)} of {total} archived records")

    env.emit({"total": total, "records": [archived_json(r) for r in records]}, human)


@command(archive_app, "show")
def archive_show(env: Env, record_id: Annotated[str, typer.Argument(help="The record's or the subject's id.")]) -> None:
    """One archived record with its values (only the roles the policy names; every read is audited)."""
    view = erasure.show_archived(env.runtime().context(), record_id)

    def human(c: Console) -> None:
        r = view.record
        c.print(
            f"archived record {r.id} (subject {r.subject_id}, {r.kind}), archived {r.archived_at.date()}: {r.reason}"
        )
        for name, value in view.values.items():
            c.print(f"  {name}: {value}", markup=False)

    env.emit({**archived_json(view.record), "values": view.values}, human)
