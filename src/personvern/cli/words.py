"""The services' refusals in the command line's words: where a service names a field, the shell names its option."""

from __future__ import annotations

from personvern.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, PersonvernError
from personvern.domain.subjects import NEEDS_REASON
from personvern.services import register

# A service's phrase -> how the command line says it. The services speak of fields (the API and the console
# name the same fields in their own way); only here do `--set`, `--reason` and the commands appear.
SHELL_WORDS: dict[str, str] = {
    NEEDS_REASON: f"{NEEDS_REASON} (--reason FIELD=TEXT)",
    register.NOTHING_TO_CHANGE: "nothing to change: give --set FIELD=VALUE or --unset FIELD",
    register.ONE_OF_ID_EMAIL_PHONE: "give exactly one of: a subject id, --email or --phone",
    register.ONE_OF_ID_EMAIL_PHONE_NAME: "give exactly one of: a subject id, --email, --phone or --name",
    register.NAMESAKES_HINT: "`subject list --name` shows them, `subject show ID` one of them",
}
# The errors whose whole state is their message (Throttled, say, carries more and is never reworded).
PLAIN = (PersonvernError, NotFound, Conflict, Forbidden)


def _said(text: str) -> str:
    for phrase, words in SHELL_WORDS.items():
        text = text.replace(phrase, words)
    return text


def in_shell_words(exc: BaseException) -> BaseException:
    """The same error, its text said for the command line; the error itself when nothing needs saying."""
    if isinstance(exc, InvalidInput):
        problems = [p.__class__(p.field, _said(p.message), p.line) for p in exc.problems]
        summary = _said(exc.summary) if exc.summary is not None else None
        if [p.message for p in problems] == [p.message for p in exc.problems] and summary == exc.summary:
            return exc
        return InvalidInput(problems, summary)
    if type(exc) in PLAIN and (said := _said(str(exc))) != str(exc):
        return type(exc)(said)
    return exc
