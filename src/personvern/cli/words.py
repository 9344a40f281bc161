"""The services' refusals in the command line's words: where a service names a field, the shell names its option."""

from __future__ import annotations

from collections.abc import Callable

from personvern.domain import breaches as breach_rules
from personvern.domain.breaches import BreachClosed
from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, PersonvernError
from personvern.domain.requests import NotVerified
from personvern.domain.subjects import NEEDS_REASON
from personvern.services import breaches, register, rights

# A service's phrase -> how the command line says it. The services speak of fields (the API and the console
# name the same fields in their own way); only here do `--set`, `--reason` and the commands appear.
SHELL_WORDS: dict[str, str] = {
    NEEDS_REASON: f"{NEEDS_REASON} (--reason FIELD=TEXT)",
    register.NOTHING_TO_CHANGE: "nothing to change: give --set FIELD=VALUE or --unset FIELD",
    register.ONE_OF_ID_EMAIL_PHONE: "give exactly one of: a subject id, --email or --phone",
    register.ONE_OF_ID_EMAIL_PHONE_NAME: "give exactly one of: a subject id, --email, --phone or --name",
    register.NAMESAKES_HINT: "`subject list --name` shows them, `subject show ID` one of them",
    rights.ONE_IDENTITY: "give exactly one of --email, --phone or --subject",
    rights.NEEDS_CORRECTIONS: "a rectification request needs the corrections: --set FIELD=VALUE or --unset FIELD",
    breach_rules.BEFORE_IT_BEGAN: f"{breach_rules.BEFORE_IT_BEGAN} (--occurred)",
    breach_rules.NEEDS_BEGINNING: "needs --occurred: when the breach began",
    breach_rules.A_FOLLOW_UP: "a follow-up notification (--phase follow_up)",
    breaches.NOTHING_TO_CHANGE: "nothing to change: give a field to set, or --subject to add an affected person",
    breaches.NOBODY_AFFECTED: "lists no affected person: add them with --subject",
}
# A field named as its option where the two differ by more than the dashes (breach add --discovered).
SHELL_FIELDS: dict[str, str] = {
    "discovered_at": "discovered",
    "occurred_at": "occurred",
    "occurred_until": "occurred-until",
    "risk_reason": "risk-reason",
    "late_reason": "late-reason",
    "measures_taken": "measures-taken",
    "measures_planned": "measures-planned",
    "data_location": "data-location",
}
# What to run next, for the errors that know it (they carry the id the command needs).
HINTS: dict[type[PersonvernError], Callable[[PersonvernError], str]] = {
    NotVerified: lambda exc: f": run `request verify {getattr(exc, 'request_id', 'ID')} --method ...` first",
    BreachClosed: lambda exc: (
        f": breach notify {getattr(exc, 'breach_id', 'ID')} --authority --phase follow_up --reference REF with the "
        "new facts (for example --records, --consequences, --measures-taken)"
    ),
}
# The errors whose whole state is their message (Throttled, say, carries more and is never reworded).
PLAIN = (PersonvernError, NotFound, Conflict, Forbidden)


def _said(text: str) -> str:
    for phrase, words in SHELL_WORDS.items():
        text = text.replace(phrase, words)
    return text


def _hinted(exc: PersonvernError) -> PersonvernError | None:
    """The error with its next step added, its class and attributes kept; None when it has no hint."""
    hint = next((say for kind, say in HINTS.items() if isinstance(exc, kind)), None)
    if hint is None:
        return None
    # Not through its __init__, which takes the id rather than the text (NotVerified, BreachClosed).
    said = type(exc).__new__(type(exc))
    said.__dict__.update(exc.__dict__)
    said.args = (_said(str(exc)) + hint(exc),)
    return said


def in_shell_words(exc: BaseException) -> BaseException:
    """The same error, its text said for the command line; the error itself when nothing needs saying."""
    if isinstance(exc, InvalidInput):
        problems = [p.__class__(SHELL_FIELDS.get(p.field, p.field), _said(p.message), p.line) for p in exc.problems]
        summary = _said(exc.summary) if exc.summary is not None else None
        if problems == exc.problems and summary == exc.summary:
            return exc
        return InvalidInput(problems, summary)
    if isinstance(exc, PersonvernError) and (hinted := _hinted(exc)) is not None:
        return hinted
    if type(exc) in PLAIN and (said := _said(str(exc))) != str(exc):
        return type(exc)(said)
    return exc
