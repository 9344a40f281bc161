"""Answers to data subject requests: the letter (HTML, in the person's language) and the data files."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any

from babel.dates import format_date
from jinja2 import Environment

from personvern.policy.loader import EEA
from personvern.policy.schema import Localised, Policy
from personvern.reports import spreadsheet
from personvern.reports.environment import LOCALES, environment, join


@dataclass(frozen=True)
class Received:
    """A recipient that actually received the person's data (Art. 15(1)(c))."""

    recipient: str
    fields: tuple[str, ...]
    first: date
    last: date
    pending: int = 0


@dataclass(frozen=True)
class Basis:
    """The order or contract a retention period counts from: the person's own, or their organisation's."""

    type: str  # order | contract
    own: bool  # False: a relationship of the person's organisation (a business customer's representative)
    day: date | None  # the order's date or the contract's end, as the rule counts it


@dataclass(frozen=True)
class KeptBecause:
    """One reason the data is still kept, with the day it ends (None: while its condition lasts)."""

    rule: str
    until: date | None
    fields: tuple[str, ...] | None  # only fields the person has
    basis: Basis | None = None  # where the end is counted from, when an order or contract sets it


@dataclass(frozen=True)
class ConsentLine:
    """The state of one consent as the rules decide it (`domain.consent.effective_consent`), for the letter."""

    purpose: str
    channel: str
    status: str  # a ConsentStatus value
    given_on: date | None
    since: date | None  # withdrawn on, objected on, restricted since


@dataclass(frozen=True)
class Letter:
    """Everything one answer says; rendered by `render_letter` in the person's language."""

    type: str  # access | portability | rectification | erasure | restriction | objection
    language: str
    request_id: str
    received_on: date
    answered_on: date
    held: bool  # whether the company holds anything about the person
    kind: str | None = None
    archived: bool = False
    values: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    purposes: tuple[str, ...] = ()
    consented: tuple[str, ...] = ()  # purposes with consent in force
    consents: tuple[ConsentLine, ...] = ()  # every consent ever given, in the state the rules decide
    relationships: int = 0
    messages: int = 0
    received_by: tuple[Received, ...] = ()
    may_receive: tuple[str, ...] = ()
    kept: tuple[KeptBecause, ...] = ()
    kept_until: date | None = None
    due: bool = False  # no reason to keep the whole record is left: archiving or erasure is next
    after: str | None = None  # archive | erase
    changed: tuple[str, ...] = ()  # rectification: the fields corrected
    told: tuple[tuple[str, str], ...] = ()  # (recipient, what they were told): Art. 19
    erased: tuple[str, ...] = ()
    held_fields: tuple[str, ...] = ()
    held_until: date | None = None
    held_basis: Basis | None = None  # the order or contract the hold is counted from
    objection_purpose: str | None = None
    rejection: str | None = None  # the reason a request was refused (Art. 12(4))
    files: tuple[str, ...] = ()


def sentence(text: str) -> str:
    """A policy's phrase as a whole sentence, so what the letter adds after it starts a sentence of its own."""
    stripped = text.rstrip()
    return stripped if not stripped or stripped[-1] in ".!?" else stripped + "."


def clause(text: str) -> str:
    """A policy's phrase without its full stop, to be followed by a bracket or more of the sentence."""
    return text.rstrip().removesuffix(".")


@cache
def _environment(language: str) -> Environment:
    """The shared environment with this language's filters; compiled once per language, not per letter."""
    locale = LOCALES.get(language, "en_GB")

    def when(day: date | None) -> str:
        return "" if day is None else format_date(day, format="long", locale=locale)

    def tr(localised: Localised | str | None) -> str:
        if localised is None:
            return ""
        return localised if isinstance(localised, str) else localised.get(language)

    def field_label(name: str, policy: Policy) -> str:
        spec = policy.fields.get(name)
        return spec.label.get(language) if spec is not None else name

    def join_list(items: Iterable[str]) -> str:
        return join(items, language)

    env = environment().overlay()
    # An overlay shares its parent's filters dict: a copy of its own, or the last language's `when` wins everywhere.
    env.filters = {
        **env.filters,
        "when": when,
        "tr": tr,
        "field_label": field_label,
        "join_list": join_list,
        "sentence": sentence,
        "clause": clause,
    }
    return env


def render_letter(policy: Policy, letter: Letter) -> str:
    """The letter as a standalone HTML page; it holds the person's values only in an access answer."""
    env = _environment(letter.language)
    template = env.get_template("letter.html.j2")
    return template.render(
        policy=policy,
        letter=letter,
        lang=letter.language,
        outside_eea=lambda country: country not in EEA,
    )


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def data_json(data: dict[str, Any]) -> bytes:
    """Machine-readable (Art. 15(3), 20(1)): UTF-8 JSON, dates and times as ISO-8601."""
    return (json.dumps(data, ensure_ascii=False, indent=2, default=_iso) + "\n").encode("utf-8")


def values_csv(values: dict[str, str]) -> bytes:
    """One header row of field names and one row of values: what a spreadsheet or another system reads."""
    out = io.StringIO()
    writer = spreadsheet.writer(out, lineterminator="\n")
    writer.writerow(list(values))
    writer.writerow(list(values.values()))
    return out.getvalue().encode("utf-8")


ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest time: the same files make the same archive


def answer_zip(files: Mapping[str, bytes]) -> bytes:
    """The answer's files (letter.html, data.json, data.csv where due) as one zip, as a browser downloads it.

    The same files `request fulfil --out` writes to a folder; each entry is its owner's only (mode 0600)
    once unpacked, as the folder's files are.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files, key=lambda n: (n != "letter.html", n)):
            entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o100600 << 16
            archive.writestr(entry, files[name])
    return out.getvalue()
