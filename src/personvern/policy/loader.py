"""Reads a policy file: TOML syntax, then the schema, then cross-references, every problem with its line."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from personvern.policy.schema import CONSENT_COOKIE, Cookies, Policy, key_path

BUNDLED_NAME = "24center.toml"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy file, located as precisely as the file allows."""

    file: str
    line: int | None
    path: str
    message: str
    severity: str = "error"
    article: str | None = None  # the GDPR provision a lint finding comes from

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        cite = f" (GDPR {self.article})" if self.article else ""
        key = f" {self.path}:" if self.path else ""
        return f"{where}: {self.severity}:{key} {self.message}{cite}"


class PolicyInvalid(Exception):
    """The policy file cannot be used; `problems` says every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    text: str
    source: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")


def _split_dotted(s: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in re.findall(_KEY, s))


def locate_keys(text: str) -> dict[tuple[str | int, ...], int]:
    """Map each key path that the file spells out to the line it starts on (1-based).

    tomllib gives values without positions, so a small scan of headers and assignments recovers them.
    Arrays of tables get their index, so `[[x]]` twice gives paths (x, 0) and (x, 1).
    """
    lines: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    counts: dict[tuple[str | int, ...], int] = {}
    inside: str | None = None  # the delimiter of a multi-line string we are in, if any
    for number, line in enumerate(text.splitlines(), start=1):
        if inside is not None:
            if line.count(inside) % 2 == 1:
                inside = None
            continue
        header = _HEADER.match(line)
        if header:
            path: tuple[str | int, ...] = _in_array_element(_split_dotted(header.group(2)), counts)
            if header.group(1) == "[[":
                index = counts.get(path, 0)
                counts[path] = index + 1
                path = (*path, index)
            table = path
            lines.setdefault(table, number)
            continue
        assign = _ASSIGN.match(line)
        if assign:
            lines.setdefault((*table, *_split_dotted(assign.group(1))), number)
            for delimiter in ('"""', "'''"):
                if line.count(delimiter) % 2 == 1:
                    inside = delimiter
    return lines


def _in_array_element(path: tuple[str, ...], counts: dict[tuple[str | int, ...], int]) -> tuple[str | int, ...]:
    """[x.sub] after [[x]] belongs to the last element of x: insert its index (TOML's rule for sub-tables)."""
    out: tuple[str | int, ...] = ()
    for position, part in enumerate(path):
        out = (*out, part)
        if position < len(path) - 1 and out in counts:
            out = (*out, counts[out] - 1)
    return out


def _line_for(lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _references(policy: Policy) -> list[tuple[tuple[str | int, ...], str]]:
    """Every name in the policy that must resolve to something declared elsewhere in it."""
    found: list[tuple[tuple[str | int, ...], str]] = []

    def check(loc: tuple[str | int, ...], names: list[str] | str, table: dict[str, object], what: str) -> None:
        # A single name is located at its key; a list's names at their index in it.
        items = [(loc, names)] if isinstance(names, str) else [((*loc, i), n) for i, n in enumerate(names)]
        for where, name in items:
            if name not in table:
                known = ", ".join(sorted(table)) or "none"
                found.append((where, f"unknown {what} {name!r}; declared: {known}"))

    for name, spec in policy.fields.items():
        check(("fields", name, "kinds"), spec.kinds, dict(policy.kinds), "subject kind")
        check(("fields", name, "purposes"), spec.purposes, dict(policy.purposes), "purpose")
    for name, purpose in policy.purposes.items():
        check(("purposes", name, "kinds"), purpose.kinds, dict(policy.kinds), "subject kind")
    for name, recipient in policy.recipients.items():
        check(("recipients", name, "purposes"), recipient.purposes, dict(policy.purposes), "purpose")
        check(("recipients", name, "fields"), recipient.fields, dict(policy.fields), "field")
        if recipient.country not in EEA and recipient.transfer_basis is None:
            found.append(
                (
                    ("recipients", name, "country"),
                    f"recipient in {recipient.country}, outside the EEA, needs transfer_basis (GDPR Art. 44-49)",
                )
            )
    for name, rule in policy.retention.items():
        check(("retention", name, "purpose"), rule.purpose, dict(policy.purposes), "purpose")
        check(("retention", name, "kinds"), rule.kinds, dict(policy.kinds), "subject kind")
        if rule.fields is not None:
            check(("retention", name, "fields"), rule.fields, dict(policy.fields), "field")
    check(("archive", "readable_by"), policy.archive.readable_by, dict(policy.roles), "role")
    check(("archive", "fields"), policy.archive.fields, dict(policy.fields), "field")
    check(("archive", "on_expiry"), list(policy.archive.on_expiry), dict(policy.kinds), "subject kind")
    for kind in policy.kinds:
        if kind not in policy.archive.on_expiry:
            found.append((("archive", "on_expiry"), f"no expiry action (archive or erase) for kind {kind!r}"))
        if not any(kind in rule.kinds for rule in policy.retention.values()):
            found.append((("kinds", kind), f"no retention rule covers kind {kind!r}"))
        if not any(kind in spec.kinds and spec.required for spec in policy.fields.values()):
            found.append((("kinds", kind), f"kind {kind!r} has no required field"))
    check(("review", "signed_by"), policy.review.signed_by, dict(policy.roles), "role")
    for name, purpose in policy.purposes.items():
        if purpose.legal_basis.value == "6(1)(a)" and not purpose.channels:
            found.append((("purposes", name, "channels"), "a purpose based on consent needs channels"))
    if policy.cookies is not None:
        found += _cookie_problems(policy.cookies)
    return found


def _cookie_problems(cookies: Cookies) -> list[tuple[tuple[str | int, ...], str]]:
    """The `[cookies]` section's rules across its entries (ekomloven § 2-7b; the banner relies on each)."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    at: tuple[str | int, ...] = ("cookies", "categories")
    if not any(c.necessary for c in cookies.categories.values()):
        found.append((at, f"no category has necessary = true: one must list the consent cookie {CONSENT_COOKIE!r}"))
    if all(c.necessary for c in cookies.categories.values()):
        found.append((at, "no optional category (necessary = false): a site without one needs no banner"))
    seen: set[str] = set()
    listed = False
    for name, category in cookies.categories.items():
        for i, cookie in enumerate(category.cookies):
            where = (*at, name, "cookies", i, "name")
            if cookie.name in seen:
                found.append((where, f"cookie {cookie.name!r} is listed twice"))
            seen.add(cookie.name)
            if cookie.name == CONSENT_COOKIE:
                listed = True
                if not category.necessary:
                    # The choice itself is stored without asking: only a strictly necessary cookie may be.
                    found.append((where, f"the consent cookie {CONSENT_COOKIE!r} belongs in a necessary category"))
    if not listed:
        found.append((at, f"the consent cookie {CONSENT_COOKIE!r} the banner sets is not listed (name it)"))
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    if cookies.keep.after(epoch) < cookies.remember.after(epoch):
        # The record is the proof of a consent (GDPR Art. 7(1)): it must outlive the cookie that relies on it.
        found.append((("cookies", "keep"), "must be at least as long as remember (the proof outlives the choice)"))
    return found


# EU member states plus Iceland, Liechtenstein and Norway (the EEA Agreement).
EEA = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
    ]
)


def in_eea(country: str) -> bool:
    """Whether a country (ISO 3166 alpha-2) is in the EEA: data sent elsewhere is a transfer (Art. 44)."""
    return country in EEA


# The forms the schema's patterns ask for, in words (a regular expression is no message for a person).
PATTERN_WORDS = {
    r"^[a-z][a-z0-9_]*$": "must be a name of lower-case letters, digits and _, starting with a letter",
    r"^\d{9}$": "must be nine digits (an organisation number)",
    r"^[A-Z]{2}$": "must be a country's two capital letters (ISO 3166), such as NO",
    r"^[A-Za-z_]+(/[A-Za-z_+-]+)*$": "must be a time zone's IANA name, such as Europe/Oslo",
    r"^(low|medium|high)$": "must be low, medium or high",
    r"^(nb|en)$": "must be nb or en",
    r"^[0-9A-Za-z._-]{1,40}$": "must be 1 to 40 letters, digits, '.', '_' or '-'",
    r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$": "must be a cookie name: letters, digits and !#$%&'*+.^_`|~- only",
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$": "must be an origin: https://host or https://host:port, no path",
}


def plain(err: ErrorDetails) -> str:
    """One schema error in words: the rule the key breaks, never pydantic's own phrasing."""
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    value = err.get("input")
    count = len(value) if isinstance(value, dict | list | str) else None
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key (not part of the policy schema)"
    if kind == "too_short":
        what = "table" if isinstance(value, dict) else "list"
        least = ctx.get("min_length", 1)
        entries = "entry" if least == 1 else "entries"
        if not count:
            return f"the {what} is empty: give at least {least} {entries}"
        return f"must have at least {least} {entries}; the {what} has {count}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} entries; it has {count}"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return PATTERN_WORDS.get(pattern, f"does not have the form this key takes ({pattern})")
    if kind in ("enum", "literal_error"):
        return f"must be one of {ctx.get('expected')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        words = {"ge": "at least", "gt": "more than", "le": "at most", "lt": "less than"}
        limits = [f"{words[k]} {v}" for k, v in ctx.items() if k in words]
        return f"must be {' and '.join(limits)}"
    if kind in ("value_error", "assertion_error"):
        # The schema's own validators already speak in words; pydantic only prefixes them.
        return str(ctx.get("error", err["msg"]))
    simple = {
        "string_type": "must be text (in quotes)",
        "int_type": "must be a whole number",
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "dict_type": "must be a table ([section] or { key = value })",
        "model_type": "must be a table ([section] or { key = value })",
        "model_attributes_type": "must be a table ([section] or { key = value })",
        "list_type": "must be a list ([ ... ])",
    }
    return simple.get(kind, err["msg"])


def parse_policy(text: str, source: str = "<policy>") -> LoadedPolicy:
    """Parse and validate a policy text; raise PolicyInvalid listing every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise PolicyInvalid(
            [Problem(source, int(match.group(1)) if match else None, "", f"not valid TOML: {exc}")]
        ) from None
    lines = locate_keys(text)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            problems.append(Problem(source, _line_for(lines, loc), key_path(loc), plain(err)))
        raise PolicyInvalid(problems) from None
    problems = [Problem(source, _line_for(lines, loc), key_path(loc), message) for loc, message in _references(policy)]
    if problems:
        raise PolicyInvalid(problems)
    return LoadedPolicy(policy=policy, text=text, source=source)


def load_policy(path: Path | str | None = None) -> LoadedPolicy:
    """Load a policy file, or the bundled 24 Center policy when no path is given."""
    if path is None:
        text = resources.files("personvern.policy.bundled").joinpath(BUNDLED_NAME).read_text("utf-8")
        return parse_policy(text, f"bundled:{BUNDLED_NAME}")
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise PolicyInvalid([Problem(str(p), None, "", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise PolicyInvalid([Problem(str(p), None, "", "the file is not UTF-8 text")]) from None
    return parse_policy(text, str(p))
