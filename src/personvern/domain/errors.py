"""The one exception tree of personvern; adapters map it once to exit codes and HTTP statuses.

PersonvernError                 exit 1   HTTP 400
├── InvalidInput                exit 3   HTTP 422   bad values: each problem names field, rule, line
│   └── Malformed               exit 3   HTTP 400   not in the expected form at all (not JSON, not the layout)
├── NotFound                    exit 4   HTTP 404
├── Conflict                    exit 5   HTTP 409   e.g. the same person registered twice
├── Forbidden                   exit 6   HTTP 403   the role may not do this
├── IntegrityBroken             exit 7   HTTP 500   the audit chain does not verify
├── PolicyRejected              exit 8   HTTP 422   the policy file cannot be used
├── NotReady                    exit 9   HTTP 503   database missing, not initialised or out of date
├── Unauthenticated             exit 6   HTTP 401   no credentials, or wrong ones
└── Throttled                   exit 10  HTTP 429   too many attempts; try again after `retry_after` seconds

ClockMoved                      exit 6   HTTP 403   a write under --now on a real register (see its docstring)
"""

from __future__ import annotations

from dataclasses import dataclass


class PersonvernError(Exception):
    exit_code = 1
    http_status = 400


@dataclass(frozen=True)
class FieldProblem:
    """One bad value: which field, which rule it breaks, and where (the file's line, for imports)."""

    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"


class InvalidInput(PersonvernError):
    exit_code = 3
    http_status = 422

    def __init__(self, problems: list[FieldProblem], summary: str | None = None) -> None:
        self.problems = problems
        self.summary = summary
        head = summary or ("invalid input" if len(problems) != 1 else "")
        lines = [head] if head else []
        lines += [str(p) for p in problems]
        super().__init__("\n".join(lines))


class Malformed(InvalidInput):
    """A document that is not in the form expected at all (a callback body that is not JSON, say)."""

    http_status = 400


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput([FieldProblem(field, message)])


class NotFound(PersonvernError):
    exit_code = 4
    http_status = 404


class Conflict(PersonvernError):
    exit_code = 5
    http_status = 409


class Forbidden(PersonvernError):
    exit_code = 6
    http_status = 403


class IntegrityBroken(PersonvernError):
    exit_code = 7
    http_status = 500


class PolicyRejected(PersonvernError):
    exit_code = 8
    http_status = 422


class NotReady(PersonvernError):
    exit_code = 9
    http_status = 503


class Unauthenticated(PersonvernError):
    exit_code = 6
    http_status = 401


class Throttled(PersonvernError):
    exit_code = 10
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ClockMoved(Exception):
    """A change attempted on a real register while --now moves the clock (DESIGN.md §3 'Clock').

    Deliberately not a PersonvernError: use cases that carry on past one failed item (a sweep's batch, the
    review's erasures) catch those, and this must end the whole command, with nothing stored.
    """

    exit_code = 6
    http_status = 403
