"""The command line's words for what the services say in fields: `subject_id` becomes `--subject`, and hints.

Services speak of fields (the names the API's bodies use too) and write a field's name in a message between
backticks; each adapter words them its own way. A command names its options here, and may add a hint of its
own to one kind of error (the command to run next), so no service needs to know it is run from a shell.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from personvern.domain.errors import FieldProblem, InvalidInput, PersonvernError

_QUOTED = re.compile(r"`([a-z_]+)`")


def _words(text: str, flags: Mapping[str, str]) -> str:
    # `email` -> --email; a backticked name that is no option of this command stays as it is.
    return _QUOTED.sub(lambda m: flags.get(m.group(1), m.group(0)), text)


def _field(name: str, flags: Mapping[str, str]) -> str:
    """The field a problem is shown under: a two-word field as its option without dashes (`occurred-until`)."""
    flag = flags.get(name)
    return flag.split()[0].removeprefix("--") if flag and "_" in name else name


@contextmanager
def worded(
    flags: Mapping[str, str],
    hints: Mapping[type[PersonvernError], Callable[[PersonvernError], str]] | None = None,
) -> Iterator[None]:
    """Errors raised inside, in the command's words: each field by its option, plus any hint for its kind."""
    try:
        yield
    except InvalidInput as exc:
        problems = [FieldProblem(_field(p.field, flags), _words(p.message, flags), p.line) for p in exc.problems]
        lines = str(exc).splitlines()
        summary = lines[0] if len(lines) > len(exc.problems) else None
        raise InvalidInput(problems, summary) from None
    except PersonvernError as exc:
        text = _words(str(exc), flags)
        for kind, hint in (hints or {}).items():
            if isinstance(exc, kind):
                text += hint(exc)
                break
        if text == str(exc):
            raise
        # The same kind of error (its exit code) with the new text; not through its __init__, which may
        # take other arguments than the text (NotVerified's request id).
        reworded = type(exc).__new__(type(exc))
        reworded.__dict__.update(exc.__dict__)
        reworded.args = (text,)
        raise reworded from None
