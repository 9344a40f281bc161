"""Subjects and relationships, and the minimisation rules for what may be stored about a subject."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum

from personvern.domain import history
from personvern.domain.errors import FieldProblem
from personvern.domain.values import BadValue, lookup_key, normalise
from personvern.policy.schema import Collected, Policy

# What a "when needed" value without its reason is told; adapters say where the reason goes (a field, an option).
NEEDS_REASON = "is collected only when needed: state the reason it is needed"


@dataclass(frozen=True)
class Subject:
    """A data subject: the kind the policy gives them and the values declared for that kind."""

    id: str
    kind: str
    values: Mapping[str, str]
    source: str
    received_at: datetime
    created_at: datetime
    updated_at: datetime
    organisation_id: str | None = None

    def with_values(self, values: Mapping[str, str], at: datetime) -> Subject:
        return replace(self, values=dict(values), updated_at=at)


class RelationshipType(StrEnum):
    ORDER = "order"
    CONTRACT = "contract"


@dataclass(frozen=True)
class Relationship:
    """A customer relationship: an order or a contract, from its start until it is ended."""

    id: str
    subject_id: str
    type: RelationshipType
    started_on: date
    ends_on: date | None = None  # the end a contract states in advance
    ended_on: date | None = None  # when the customer or the company actually ended it
    description: str | None = None  # what was ordered or agreed (personal data: stored encrypted)

    def end_date(self) -> date | None:
        """The day the relationship is over: the actual end, else the contract's stated end."""
        if self.ended_on is not None:
            return self.ended_on
        return self.ends_on

    def active_on(self, day: date) -> bool:
        end = self.end_date()
        return self.started_on <= day and (end is None or day < end)

    def as_record(self) -> dict[str, object]:
        """The relationship as shown to a reader (`subject show --json`) and to the person (Art. 15)."""
        return {
            "id": self.id,
            "type": self.type.value,
            "started_on": self.started_on,
            "ends_on": self.ends_on,
            "ended_on": self.ended_on,
            "description": self.description,
        }


@dataclass
class Checked:
    """The outcome of checking values against the policy: clean values, or the problems found."""

    values: dict[str, str] = field(default_factory=dict)
    problems: list[FieldProblem] = field(default_factory=list)


def check_values(
    policy: Policy,
    kind: str,
    raw: Mapping[str, str],
    reasons: Mapping[str, str],
    *,
    complete: bool,
    line: int | None = None,
) -> Checked:
    """Check values against the policy's declarations for `kind`.

    Only declared fields may be stored (data minimisation, GDPR Art. 5(1)(c)); a field collected
    "when needed" must come with the reason it is needed, so the need can be shown later (Art. 5(2)).
    With `complete`, every required field must be present (a new subject); otherwise the values
    are a partial change.
    """
    out = Checked()
    if kind not in policy.kinds:
        allowed = ", ".join(policy.kinds)
        out.problems.append(FieldProblem("kind", f"unknown subject kind {kind!r}; allowed: {allowed}", line))
        return out
    declared = policy.fields_for(kind)
    allowed_list = ", ".join(declared)
    for name, value in raw.items():
        spec = declared.get(name)
        if spec is None:
            out.problems.append(FieldProblem(name, f"is not declared for kind {kind} (allowed: {allowed_list})", line))
            continue
        if spec.collected is Collected.WHEN_NEEDED and not (reasons.get(name) or "").strip():
            out.problems.append(FieldProblem(name, NEEDS_REASON, line))
        try:
            out.values[name] = normalise(spec.type, value, policy.default_region)
        except BadValue as exc:
            out.problems.append(FieldProblem(name, str(exc), line))
    for name in reasons:
        spec = declared.get(name)
        if spec is None or spec.collected is not Collected.WHEN_NEEDED or name not in raw:
            out.problems.append(
                FieldProblem(name, "a reason is only given for a 'when needed' field that is being set", line)
            )
    if complete:
        for name, spec in declared.items():
            if spec.required and name not in raw:
                out.problems.append(FieldProblem(name, f"is required for kind {kind}", line))
    return out


def check_removal(policy: Policy, kind: str, names: list[str]) -> list[FieldProblem]:
    """A required field cannot be removed; an undeclared one is not there to remove."""
    declared = policy.fields_for(kind)
    problems = []
    for name in names:
        spec = declared.get(name)
        if spec is None:
            problems.append(FieldProblem(name, f"is not declared for kind {kind}"))
        elif spec.required:
            problems.append(FieldProblem(name, f"is required for kind {kind} and cannot be removed"))
    return problems


def check_columns(policy: Policy, kind: str, columns: list[str]) -> list[FieldProblem]:
    """An import file's header: every column declared for the kind or a history column, every required field present.

    Checked once for the file, so a missing column is one problem, not one per row.
    """
    if kind not in policy.kinds:
        return [FieldProblem("kind", f"unknown subject kind {kind!r}; allowed: {', '.join(policy.kinds)}", 1)]
    declared = policy.fields_for(kind)
    allowed = ", ".join([*declared, *history.COLUMNS])
    problems = [
        FieldProblem(name, f"column is not declared for kind {kind} (allowed: {allowed})", 1)
        for name in columns
        if name not in declared and name not in history.COLUMNS
    ]
    problems += history.check_header(policy, kind, columns)
    problems += [
        FieldProblem(name, f"column is missing: the field is required for kind {kind}", 1)
        for name, spec in declared.items()
        if spec.required and name not in columns
    ]
    return problems


CheckedRow = tuple[int, dict[str, str], list[FieldProblem], list[tuple[str, str]], history.History]


def check_rows(
    policy: Policy,
    kind: str,
    reasons: Mapping[str, str],
    rows: list[tuple[int, Mapping[str, str]]],
    now: datetime | None = None,
) -> list[CheckedRow]:
    """Check a batch of imported rows (line, raw values); blank cells count as absent.

    Returns (line, clean values, problems, look-up keys of the unique fields, history) per row; the history
    columns (`domain.history`) are checked against `now`, the import's time. A batch is what an import hands
    to a worker process: a top-level function returning plain tuples, cheap to send back.
    """
    unique = [(name, spec.type) for name, spec in policy.fields.items() if spec.unique]
    out: list[CheckedRow] = []
    for line, raw in rows:
        values = {k: v for k, v in raw.items() if v.strip() and k not in history.COLUMNS}
        row_reasons = {k: v for k, v in reasons.items() if k in values}
        checked = check_values(policy, kind, values, row_reasons, complete=True, line=line)
        keys = [(name, lookup_key(t, checked.values[name])) for name, t in unique if name in checked.values]
        past = {k: v for k, v in raw.items() if k in history.COLUMNS and v.strip()}
        found, problems = history.NO_HISTORY, checked.problems
        if past:
            assert now is not None, "the import's time is needed to check the history columns"
            found, late = history.check_history(policy, checked.values, past, now, line)
            problems = problems + late
        out.append((line, checked.values, problems, keys, found))
    return out
