"""Lints a policy file against what GDPR Art. 13 and 14 require a privacy notice to say, one finding per gap.

The lint reads the file's raw TOML, not the validated schema, so that it speaks about a policy the schema
would refuse too (a policy copied from a published text with its empty lists, say): each finding names the
element of Art. 13/14 that is missing or inconsistent. `check_text` joins the lint's findings with the
loader's own problems (syntax, schema, references), so `policy check` reports every problem in one run.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from personvern.policy.loader import (
    LoadedPolicy,
    PolicyInvalid,
    Problem,
    _line_for,
    in_eea,
    locate_keys,
    parse_policy,
)
from personvern.policy.schema import key_path

ERROR = "error"
MISSING = "required key is missing"  # the loader's words for a key the schema requires
WARNING = "warning"

Loc = tuple[str | int, ...]

# Processors whose company processes data outside the EEA, whatever the customer's own country: a policy
# naming one of them without a country has said nothing about a transfer that happens (Art. 13(1)(f)).
# A reminder list of common vendors, not a register of every company.
KNOWN_VENDORS: dict[str, tuple[str, str]] = {
    "hubspot": ("US", "HubSpot, Inc."),
    "mailchimp": ("US", "Intuit Mailchimp"),
    "salesforce": ("US", "Salesforce, Inc."),
    "zendesk": ("US", "Zendesk, Inc."),
    "google": ("US", "Google LLC"),
    "microsoft": ("US", "Microsoft Corporation"),
    "dropbox": ("US", "Dropbox, Inc."),
    "slack": ("US", "Slack Technologies, LLC"),
}


@dataclass(frozen=True)
class Finding:
    """One gap: where in the file, how serious, what is missing, and the GDPR provision that asks for it."""

    loc: Loc
    severity: str
    message: str
    article: str


@dataclass(frozen=True)
class CheckResult:
    """Every problem of a policy file, and the policy itself when the schema accepted it."""

    source: str
    problems: list[Problem]
    loaded: LoadedPolicy | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors and self.loaded is not None


def _table(data: Any, *keys: str) -> dict[str, Any]:
    """The table at `keys`, or {} when it is missing or is not a table (the schema reports that)."""
    for key in keys:
        data = data.get(key) if isinstance(data, Mapping) else None
    return dict(data) if isinstance(data, Mapping) else {}


def _text(data: Mapping[str, Any], key: str) -> bool:
    """Whether `key` holds some text: a non-empty string, or a table of languages with one non-empty text."""
    value = data.get(key)
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, Mapping):
        return any(isinstance(v, str) and v.strip() for v in value.values())
    return False


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def lint(data: Mapping[str, Any], today: date | None = None) -> list[Finding]:
    """Every gap between the policy and the information Art. 13 and 14 require (plus what Art. 28 and 30 need).

    `today`: the day agreements' review dates are checked against (none: they are not checked).
    """
    found: list[Finding] = []
    found += _controller(data)
    found += _data(data)
    found += _purposes(data)
    found += _recipients(data)
    found += _agreements(data, today)
    found += _retention(data)
    found += _rest(data)
    return found


def _controller(data: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    controller = _table(data, "controller")
    contact = _table(data, "privacy_contact")
    if not controller:
        out.append(Finding(("controller",), ERROR, "the controller's identity is not given", "13(1)(a)"))
    else:
        for key, what in (("name", "name"), ("address", "address"), ("postal_code", "postal code"), ("city", "city")):
            if not _text(controller, key):
                out.append(Finding(("controller", key), ERROR, f"the controller's {what} is not given", "13(1)(a)"))
    if not contact:
        out.append(
            Finding(
                ("privacy_contact",),
                ERROR,
                "nobody is named to handle questions and requests about personal data",
                "13(1)(b), 13(2)(b)",
            )
        )
    else:
        if not _text(contact, "role"):
            out.append(
                Finding(("privacy_contact", "role"), ERROR, "the privacy contact's role is not given", "13(1)(b)")
            )
        if not (_text(contact, "email") or _text(contact, "phone")):
            out.append(
                Finding(
                    ("privacy_contact", "email"),
                    ERROR,
                    "no email or phone for the privacy contact: a person must be able to reach them to use "
                    "their rights",
                    "13(1)(a)-(b), 12(2)",
                )
            )
    authority = _table(data, "supervisory_authority")
    if not authority or not _text(authority, "name"):
        loc: Loc = ("supervisory_authority", "name") if authority else ("supervisory_authority",)
        out.append(
            Finding(loc, ERROR, "the supervisory authority a person may complain to is not named", "13(2)(d), 77")
        )
    elif not (_text(authority, "website") or _text(authority, "complaint_url")):
        out.append(
            Finding(
                ("supervisory_authority", "website"),
                WARNING,
                "no address of the supervisory authority: say where a complaint can be made",
                "13(2)(d)",
            )
        )
    return out


def _data(data: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    kinds = _table(data, "kinds")
    fields = _table(data, "fields")
    if not kinds:
        out.append(Finding(("kinds",), ERROR, "no category of data subjects is declared", "30(1)(c)"))
    if not fields:
        out.append(
            Finding(
                ("fields",),
                ERROR,
                "no category of personal data is declared: the notice must say which data is collected",
                "14(1)(d), 30(1)(c)",
            )
        )
    for name, kind in kinds.items():
        if isinstance(kind, Mapping) and kind.get("business") is True and not _text(kind, "source"):
            out.append(
                Finding(
                    ("kinds", name, "source"),
                    WARNING,
                    f"data about kind {name!r} may come from the business, not the person: say where it comes from",
                    "14(2)(f)",
                )
            )
    return out


def _purposes(data: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    purposes = _table(data, "purposes")
    fields = _table(data, "fields")
    retention = _table(data, "retention")
    if not purposes:
        out.append(Finding(("purposes",), ERROR, "no purpose of the processing is declared", "13(1)(c)"))
    for name, purpose in purposes.items():
        if not isinstance(purpose, Mapping):
            continue
        basis = purpose.get("legal_basis")
        if not _text(purpose, "description"):
            out.append(
                Finding(("purposes", name, "description"), ERROR, f"purpose {name!r} is not described", "13(1)(c)")
            )
        if not isinstance(basis, str) or not basis.strip():
            out.append(
                Finding(
                    ("purposes", name, "legal_basis"), ERROR, f"purpose {name!r} has no legal basis", "13(1)(c), 6(1)"
                )
            )
        elif basis == "6(1)(f)" and not _text(purpose, "legal_basis_detail"):
            out.append(
                Finding(
                    ("purposes", name, "legal_basis_detail"),
                    ERROR,
                    f"purpose {name!r} rests on legitimate interests: say which interests are pursued",
                    "13(1)(d)",
                )
            )
        elif basis == "6(1)(c)" and not _text(purpose, "legal_basis_detail"):
            out.append(
                Finding(
                    ("purposes", name, "legal_basis_detail"),
                    WARNING,
                    f"purpose {name!r} rests on a legal obligation: name the law that lays it down",
                    "6(3), 13(1)(c)",
                )
            )
        if fields and not any(
            isinstance(spec, Mapping) and name in _names(spec.get("purposes")) for spec in fields.values()
        ):
            out.append(
                Finding(("purposes", name), WARNING, f"purpose {name!r} is declared but no field serves it", "13(1)(c)")
            )
        if basis == "6(1)(a)" and not any(
            isinstance(rule, Mapping) and rule.get("purpose") == name and rule.get("holds_while") == "consent_active"
            for rule in retention.values()
        ):
            out.append(
                Finding(
                    ("purposes", name),
                    WARNING,
                    f"purpose {name!r} rests on consent, but no retention rule ends when the consent is withdrawn",
                    "7(3), 13(2)(a)",
                )
            )
    return out


def _vendor(key: str, recipient: Mapping[str, Any]) -> tuple[str, str] | None:
    name = recipient.get("name")
    words = set(re.findall(r"[a-z]+", f"{key} {name if isinstance(name, str) else ''}".casefold()))
    return next((found for vendor, found in KNOWN_VENDORS.items() if vendor in words), None)


def _recipients(data: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    recipients = _table(data, "recipients")
    fields = _table(data, "fields")
    if not recipients:
        out.append(
            Finding(
                ("recipients",),
                WARNING,
                "no recipient is declared: if nobody outside the company receives the data, check that this is so",
                "13(1)(e)",
            )
        )
    for name, recipient in recipients.items():
        if not isinstance(recipient, Mapping):
            continue
        if not _text(recipient, "description"):
            out.append(
                Finding(
                    ("recipients", name, "description"),
                    ERROR,
                    f"say what recipient {name!r} receives the data for",
                    "13(1)(e)",
                )
            )
        purposes = set(_names(recipient.get("purposes")))
        for index, field in enumerate(_names(recipient.get("fields"))):
            spec = fields.get(field)
            if purposes and isinstance(spec, Mapping) and not purposes & set(_names(spec.get("purposes"))):
                out.append(
                    Finding(
                        ("recipients", name, "fields", index),
                        ERROR,
                        f"field {field!r} serves none of the purposes {name!r} receives data for "
                        f"({', '.join(sorted(purposes))})",
                        "5(1)(b), 13(1)(e)",
                    )
                )
        out += _transfer(name, recipient)
    return out


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _agreements(data: Mapping[str, Any], today: date | None) -> list[Finding]:
    """A processor acts only under a contract that binds it to the controller (Art. 28(3)); the guarantees it
    gives are looked at again when the agreement says (Art. 28(1), 24(1))."""
    out: list[Finding] = []
    for name, recipient in _table(data, "recipients").items():
        if not isinstance(recipient, Mapping) or recipient.get("category") != "processor":
            continue
        agreement = recipient.get("agreement")
        if not isinstance(agreement, Mapping):
            out.append(
                Finding(
                    ("recipients", name, "agreement"),
                    WARNING,
                    f"processor {name!r} has no processor agreement recorded: give agreement = {{ signed_on, "
                    "version, reference, next_review }",
                    "28(3)",
                )
            )
            continue
        review = _day(agreement.get("next_review"))
        if today is not None and review is not None and review < today:
            out.append(
                Finding(
                    ("recipients", name, "agreement", "next_review"),
                    WARNING,
                    f"the processor agreement with {name!r} was due for review on {review.isoformat()}: review it "
                    "and record the next review",
                    "28(1), 24(1)",
                )
            )
    return out


def _transfer(name: str, recipient: Mapping[str, Any]) -> list[Finding]:
    country = recipient.get("country")
    has_basis = _text(recipient, "transfer_basis")
    if isinstance(country, str) and not in_eea(country):
        if has_basis:
            return []
        return [
            Finding(
                ("recipients", name, "country"),
                ERROR,
                f"recipient {name!r} is in {country}, outside the EEA: give the transfer's basis (transfer_basis)",
                "13(1)(f), 44-49",
            )
        ]
    vendor = _vendor(name, recipient)
    if vendor is None or has_basis:
        return []
    home, company = vendor
    if country is None:
        return [
            Finding(
                ("recipients", name),
                ERROR,
                f"{company} processes data in {home}, outside the EEA, but the policy says nothing of the transfer: "
                "give country and transfer_basis",
                "13(1)(f), 44-49",
            )
        ]
    return [
        Finding(
            ("recipients", name, "country"),
            WARNING,
            f"{company} processes data in {home}: check that no data leaves the EEA, or give transfer_basis",
            "13(1)(f), 44-49",
        )
    ]


def _retention(data: Mapping[str, Any]) -> list[Finding]:
    retention = _table(data, "retention")
    if not retention:
        return [Finding(("retention",), ERROR, "no retention rule says how long the data is kept", "13(2)(a), 5(1)(e)")]
    found = [
        Finding(
            ("retention", name, "description"), ERROR, f"say in words how long rule {name!r} keeps the data", "13(2)(a)"
        )
        for name, rule in retention.items()
        if isinstance(rule, Mapping) and not _text(rule, "description")
    ]
    found += [
        Finding(
            ("kinds", kind),
            WARNING,
            f"someone of kind {kind!r} with no order, contract or consent yet is due for archiving or erasure the "
            'day they are added: add a retention rule for steps before a contract (holds_while = "prospect")',
            "6(1)(b), 13(2)(a)",
        )
        for kind in _table(data, "kinds")
        if not any(_keeps_newcomers(rule, kind) for rule in retention.values())
    ]
    return found


def _keeps_newcomers(rule: Any, kind: str) -> bool:
    """Whether the rule keeps the whole record of someone of `kind` added today with no order, contract or consent.

    Only a rule held always or while the person is a prospect applies to them, and only one that counts from
    receipt for a period of some length (counting from a relationship's end or a financial year needs one).
    """
    if not isinstance(rule, Mapping) or kind not in _names(rule.get("kinds")) or rule.get("fields") is not None:
        return False
    if rule.get("holds_while", "always") not in ("always", "prospect") or rule.get("counts_from") != "received":
        return False
    keep = rule.get("keep")
    return isinstance(keep, Mapping) and any(isinstance(n, int) and n > 0 for n in keep.values())


def _rest(data: Mapping[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    if not _text(data, "mandatory"):
        out.append(
            Finding(
                ("mandatory",),
                WARNING,
                "say whether giving the data is required and what follows if it is not given "
                "(the notice falls back to which fields are always collected)",
                "13(2)(e)",
            )
        )
    security = _table(data, "security")
    if not security:
        out.append(
            Finding(
                ("security",),
                WARNING,
                "no description of the security measures or of how breaches are handled",
                "30(1)(g), 32, 33-34",
            )
        )
    else:
        for key, what, article in (
            ("measures", "the technical and organisational security measures", "30(1)(g), 32"),
            ("breach_handling", "how breaches are handled", "33-34"),
        ):
            if not _text(security, key):
                out.append(Finding(("security", key), WARNING, f"describe {what}", article))
    if not _table(data, "risks"):
        out.append(
            Finding(("risks",), WARNING, "no risk to the people's rights and freedoms is assessed", "24(1), 32(2)")
        )
    return out


# ---------------------------------------------------------------- joining the lint with the loader


def _syntax(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        parse_policy(text, source)  # raises PolicyInvalid with the line of the syntax error
        raise


def check_text(text: str, source: str = "<policy>", today: date | None = None) -> CheckResult:
    """Every problem of a policy text: the loader's (syntax, schema, references) and the lint's findings.

    A lint error at a key path replaces the loader's problem at the same path: it says the same, with the
    article. Raises PolicyInvalid only when the text is not TOML at all.
    """
    data = _syntax(text, source)
    lines = locate_keys(text)
    loaded: LoadedPolicy | None = None
    refused: list[Problem] = []
    try:
        loaded = parse_policy(text, source)
    except PolicyInvalid as exc:
        refused = exc.problems
    findings = lint(data, today)
    linted = {key_path(f.loc) for f in findings}
    # Where the loader refuses what the lint also found, the lint's finding (with its article) stands for
    # both, as an error: a key the schema requires is never only a warning.
    errors_at = {p.path: p.message for p in refused if p.severity == ERROR}
    problems = []
    for f in findings:
        path = key_path(f.loc)
        message = f.message
        if errors_at.get(path) == MISSING:
            message = f"{MISSING}: {message}"
        severity = ERROR if path in errors_at else f.severity
        problems.append(Problem(source, _line_for(lines, f.loc), path, message, severity, f.article))
    problems += [p for p in refused if p.path not in linted]
    problems.sort(key=lambda p: (p.line is None, p.line or 0, p.path, p.severity))
    return CheckResult(source, problems, loaded)


def check_file(path: Path | str, today: date | None = None) -> CheckResult:
    """Read and check a policy file; an unreadable file is refused (PolicyInvalid) like the loader does."""
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError as exc:
        raise PolicyInvalid([Problem(str(p), None, "", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise PolicyInvalid([Problem(str(p), None, "", "the file is not UTF-8 text")]) from None
    return check_text(text, str(p), today)
