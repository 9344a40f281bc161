"""The website's cookie choices: the banner's version, and what a visitor's choice may say (ekomloven § 2-7b)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from personvern.domain.errors import FieldProblem, InvalidInput
from personvern.policy.schema import Cookies

VISITOR = re.compile(r"[A-Za-z0-9_-]{22,64}")  # 128 random bits or more, base64url: made up by the banner
VERSION = re.compile(r"[0-9a-f]{16}")


class Method(StrEnum):
    """How the visitor made the choice; `gpc`: the browser's Global Privacy Control said it for them."""

    ACCEPT_ALL = "accept_all"
    REJECT_ALL = "reject_all"
    CUSTOM = "custom"
    GPC = "gpc"


@dataclass(frozen=True)
class CookieChoice:
    """One choice as recorded: the proof that a consent was given or refused (GDPR Art. 7(1))."""

    id: str
    visitor: str  # pseudonymous: random, made up by the banner, not derived from anything about the visitor
    at: datetime
    banner_version: str
    choices: Mapping[str, bool]  # every category of the banner's version: necessary ones always true
    method: Method
    gpc: bool


@dataclass(frozen=True)
class ChoiceCount:
    """How many choices in one month gave or refused consent to one optional category."""

    month: str  # YYYY-MM, on the controller's clock
    category: str
    given: int
    refused: int


def banner_version(cookies: Cookies) -> str:
    """A short sha256 of the categories and every cookie in them: a change of either asks every visitor again.

    Consent is to specific, informed purposes (GDPR Art. 4(11)): once what it covers changes, an earlier choice
    no longer covers it. The banner's own wording is left out: rewording it changes no purpose.
    """
    data = {name: category.model_dump(mode="json") for name, category in cookies.categories.items()}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def decide(
    cookies: Cookies,
    visitor: str,
    choices: Mapping[str, object],
    method: str,
    version: str,
    gpc: bool,
) -> tuple[dict[str, bool], Method]:
    """The choices to record and how they were made, or InvalidInput naming every bad field.

    Necessary categories are always true: they need no consent, and cannot be refused on the banner. A category
    not mentioned is refused (consent needs a clear act, GDPR Art. 4(11)). Global Privacy Control refuses
    every optional category whatever the body says (the GPC signal; treated as an objection to all of it).
    The version is checked by the caller against the one in force (a stale banner is a conflict, not bad input).
    """
    problems: list[FieldProblem] = []
    if not isinstance(visitor, str) or not VISITOR.fullmatch(visitor):
        problems.append(FieldProblem("visitor", "must be 22 to 64 characters of A-Z, a-z, 0-9, _ and -"))
    if not isinstance(version, str) or not VERSION.fullmatch(version):
        problems.append(FieldProblem("banner_version", "must be the banner's version: 16 hexadecimal digits"))
    try:
        how = Method(method)
    except ValueError:
        how = None
        problems.append(FieldProblem("method", f"must be one of {', '.join(m.value for m in Method)}"))
    known = cookies.categories
    for name, value in choices.items():
        if name not in known:
            problems.append(FieldProblem(f"choices.{_shown(name)}", f"unknown category; known: {', '.join(known)}"))
        elif not isinstance(value, bool):
            problems.append(FieldProblem(f"choices.{name}", "must be true or false"))
        elif known[name].necessary and value is not True:
            # Strictly necessary storage needs no consent and is not offered for refusal (§ 2-7b second paragraph).
            problems.append(FieldProblem(f"choices.{name}", "a necessary category is always true"))
    if problems:
        raise InvalidInput(problems)
    assert how is not None
    chosen = {name: (True if category.necessary else choices.get(name) is True) for name, category in known.items()}
    optional = [chosen[name] for name in cookies.optional()]
    if gpc or how is Method.GPC:
        return {name: known[name].necessary for name in known}, Method.GPC
    if how is Method.ACCEPT_ALL and not all(optional):
        raise InvalidInput([FieldProblem("choices", "accept_all gives every optional category: all true")])
    if how is Method.REJECT_ALL and any(optional):
        raise InvalidInput([FieldProblem("choices", "reject_all refuses every optional category: all false")])
    return chosen, how


def _shown(name: str) -> str:
    """A category name as an error may show it: a visitor's body is not echoed beyond a short, plain form."""
    return name if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name) else "?"


def counts(cookies: Cookies, rows: Mapping[tuple[str, str], int]) -> list[ChoiceCount]:
    """Per month and optional category, choices given and refused, from counts of (month, choices JSON)."""
    tally: dict[tuple[str, str], list[int]] = {}
    for (month, stored), n in rows.items():
        for name, value in json.loads(stored).items():
            if name in cookies.categories and not cookies.categories[name].necessary:
                slot = tally.setdefault((month, name), [0, 0])
                slot[0 if value else 1] += n
    return [ChoiceCount(month, name, given, refused) for (month, name), (given, refused) in sorted(tally.items())]


def stored(choices: Mapping[str, bool]) -> str:
    """The choices as canonical JSON: one spelling per set of choices, so the store can count them by text."""
    return json.dumps(dict(choices), sort_keys=True, separators=(",", ":"))
