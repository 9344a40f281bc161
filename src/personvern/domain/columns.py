"""A column map: how another system's export (a CRM's, a spreadsheet's) names what the policy calls its fields.

`subject import FILE --columns MAP.toml` reads the file through it. The map says, for each field or history
column (`domain.history`), the export's column it comes from, or several joined with a space (a first and a
last name make a full name); a value the same for every row (how the people consented, where the proof is);
and which of the export's columns are deliberately left out. A column the map neither uses nor leaves out is
refused, as an undeclared column is: nothing is dropped without someone having said so (Art. 5(1)(c)).

    ignore = ["Record ID", "Contact owner"]

    [columns]
    full_name = ["First Name", "Last Name"]
    email = "Email"

    [values]
    consent_method = "web"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from personvern.domain.errors import FieldProblem, InvalidInput

FIELD = "columns"  # the option that names the map, in every problem


@dataclass(frozen=True)
class ColumnMap:
    sources: Mapping[str, tuple[str, ...]]  # field: the export's columns it is made of, joined with spaces
    values: Mapping[str, str]  # field: the same value on every row
    ignore: frozenset[str]  # the export's columns left out on purpose

    @property
    def fields(self) -> list[str]:
        """The header the import sees."""
        return [*self.sources, *self.values]

    def check_header(self, header: list[str]) -> list[FieldProblem]:
        """The export's header against the map: every column it names is there, every other one is ignored."""
        used = {c for columns in self.sources.values() for c in columns}
        problems = [
            FieldProblem(column, f"the map takes {field} from this column, but the file has no such column", 1)
            for field, columns in self.sources.items()
            for column in columns
            if column not in header
        ]
        problems += [
            FieldProblem(column, "column is neither mapped to a field nor listed in the map's ignore", 1)
            for column in header
            if column not in used and column not in self.ignore
        ]
        return problems

    def apply(
        self, header: list[str], rows: Iterable[tuple[int, Mapping[str, str]]], described: str
    ) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
        """The file's header and rows as the policy names them; a header that does not fit the map (`described`,
        as the message names it) is refused whole, nothing imported."""
        problems = self.check_header(header)
        if problems:
            raise InvalidInput(problems, f"nothing was imported: the file's columns do not fit {described}")
        return self.fields, [(line, self.row(raw)) for line, raw in rows]

    def row(self, raw: Mapping[str, str]) -> dict[str, str]:
        """One of the export's rows as the fields the map makes of it."""
        out = {
            field: " ".join(part for c in columns if (part := (raw.get(c) or "").strip()))
            for field, columns in self.sources.items()
        }
        out.update(self.values)
        return out


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(value)
    raise InvalidInput([FieldProblem(FIELD, f"{where}: must be a column's name, or a list of them")])


def parse_map(text: str, source: str = "<map>") -> ColumnMap:
    """Read a column map (TOML); every problem names the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput([FieldProblem(FIELD, f"{source} is not valid TOML: {exc}")]) from None
    unknown = sorted(set(data) - {"columns", "values", "ignore"})
    if unknown:
        raise InvalidInput([FieldProblem(FIELD, f"{source}: unknown key {unknown[0]!r} (columns, values, ignore)")])
    columns, values, ignore = data.get("columns", {}), data.get("values", {}), data.get("ignore", [])
    if not isinstance(columns, dict) or not isinstance(values, dict):
        raise InvalidInput([FieldProblem(FIELD, f"{source}: [columns] and [values] must be tables")])
    if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
        raise InvalidInput([FieldProblem(FIELD, f"{source}: ignore must be a list of column names")])
    sources = {str(field): _names(named, f"{source}: columns.{field}") for field, named in columns.items()}
    constant: dict[str, str] = {}
    for field, value in values.items():
        if not isinstance(value, str):
            raise InvalidInput([FieldProblem(FIELD, f"{source}: values.{field}: must be text")])
        constant[str(field)] = value
    both = sorted(set(sources) & set(constant))
    if both:
        raise InvalidInput([FieldProblem(FIELD, f"{source}: {both[0]} is in both [columns] and [values]")])
    if not sources:
        raise InvalidInput([FieldProblem(FIELD, f"{source}: [columns] maps no field")])
    return ColumnMap(sources, constant, frozenset(ignore))
