"""The history an imported row brings with it: when it was received, an order, a contract, consents and their proof.

An existing register (a spreadsheet, a CRM) moves in with its reasons to keep each person: without them every
imported person would look like a prospect at best, and be archived when the prospect's time ends. The columns:

    received_at                         when the data was received (default: the import's time)
    order_date                          an order placed that day (open until ended, as `relationship start`)
    contract_start, contract_end        a contract, with its stated end if it has one
    consent_sms_at, consent_email_at    consent to marketing on that channel, given then (Art. 6(1)(a))
    consent_method                      how it was given: web, phone, paper, import or sms_reply
    consent_proof                       the sha256 of the notice the person saw, or where the proof is kept (Art. 7(1))

Dates are read as ISO-8601 (2024-03-05, 2024-03-05T14:30+01:00, 2024-03-05 14:30) or as Norwegian spreadsheets
write them (05.03.2024); a time without a zone is the controller's local time, and a time given for a date
(an order's) is read as the controller's day it fell on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from personvern.domain.consent import MARKETING, ConsentMethod, channel_field
from personvern.domain.errors import FieldProblem, InvalidInput
from personvern.policy.schema import LegalBasis, Policy

RECEIVED = "received_at"
ORDER = "order_date"
CONTRACT_START = "contract_start"
CONTRACT_END = "contract_end"
CONSENT_METHOD = "consent_method"
CONSENT_PROOF = "consent_proof"
CONSENTS = {"consent_sms_at": "sms", "consent_email_at": "email"}  # column: the marketing channel it consents to
COLUMNS = (RECEIVED, ORDER, CONTRACT_START, CONTRACT_END, *CONSENTS, CONSENT_METHOD, CONSENT_PROOF)
MAX_PROOF = 500

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_NORWEGIAN = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_LOCAL = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)")
DATE_FORMS = "a date as 2024-03-05 or 05.03.2024 (with a time, as 2024-03-05 14:30, its day is taken)"
TIME_FORMS = "a date or time as 2024-03-05, 2024-03-05 14:30, 2024-03-05T14:30:00+01:00 or 05.03.2024"


@dataclass(frozen=True)
class History:
    """What one row says happened before the import; empty when the file has no history columns."""

    received_at: datetime | None = None
    order: date | None = None
    contract: tuple[date, date | None] | None = None  # start, stated end
    consents: tuple[tuple[str, datetime], ...] = ()  # (channel, given at)
    method: ConsentMethod | None = None
    notice: str | None = None  # the sha256 of the notice the person saw, when the proof is one
    proof: str | None = None  # else where the proof of the consent is kept (free text, sealed when stored)

    @property
    def relationships(self) -> int:
        return (self.order is not None) + (self.contract is not None)


NO_HISTORY = History()


def check_header(policy: Policy, kind: str, columns: list[str]) -> list[FieldProblem]:
    """The history columns of an import file's header: known, not shadowing a field, and complete in pairs."""
    problems: list[FieldProblem] = []
    given = [c for c in columns if c in COLUMNS]
    declared = policy.fields_for(kind) if kind in policy.kinds else {}
    for name in given:
        if name in declared:
            problems.append(
                FieldProblem(name, "is both a field of the policy and a history column: rename the field", 1)
            )
    if CONTRACT_END in given and CONTRACT_START not in given:
        problems.append(
            FieldProblem(CONTRACT_END, "column needs contract_start beside it (when the contract began)", 1)
        )
    consents = [c for c in given if c in CONSENTS]
    marketing = policy.purposes.get(MARKETING)
    for name in consents:
        if (
            marketing is None
            or marketing.legal_basis is not LegalBasis.CONSENT
            or CONSENTS[name] not in marketing.channels
        ):
            problems.append(FieldProblem(name, f"the policy declares no marketing by {CONSENTS[name]} on consent", 1))
    for name in (CONSENT_METHOD, CONSENT_PROOF):
        if consents and name not in given:
            problems.append(
                FieldProblem(name, f"column is missing: a consent column ({', '.join(consents)}) needs it", 1)
            )
        if name in given and not consents:
            problems.append(FieldProblem(name, "column goes with consent_sms_at or consent_email_at", 1))
    return problems


def _day(text: str) -> date | None:
    text = text.strip()
    found = _NORWEGIAN.fullmatch(text)
    try:
        if found:
            return date(int(found.group(3)), int(found.group(2)), int(found.group(1)))
        return date.fromisoformat(text)
    except ValueError:
        return None


def _instant(text: str, zone: ZoneInfo) -> datetime | None:
    text = text.strip()
    day = _day(text)
    if day is not None:
        return datetime.combine(day, time(0), tzinfo=zone)  # the day's start, on the controller's clock
    local = _LOCAL.fullmatch(text)
    candidate = f"{local.group(1)}T{local.group(2)}" if local else text
    try:
        value = datetime.fromisoformat(candidate.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _proof(text: str) -> tuple[str | None, str | None, str | None]:
    """(notice sha256, proof note, problem)."""
    cleaned = unicodedata.normalize("NFC", text).strip()
    if _SHA256.fullmatch(cleaned):
        return cleaned.lower(), None, None
    if any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        return None, None, "must not contain control characters"
    if len(cleaned) > MAX_PROOF:
        return None, None, f"must be at most {MAX_PROOF} characters (got {len(cleaned)})"
    return None, cleaned, None


def check_history(
    policy: Policy, values: Mapping[str, str], raw: Mapping[str, str], now: datetime, line: int | None = None
) -> tuple[History, list[FieldProblem]]:
    """The history of one row (`raw`: its history cells, blank ones absent), checked; `values`: its clean fields.

    Nothing is guessed: a consent without the method and the proof is refused (Art. 7(1): the controller must
    be able to show it), and no date may lie after the import, but for a contract's start and end (a contract
    may be signed to begin later).
    """
    zone = ZoneInfo(policy.controller.timezone)
    today = now.astimezone(zone).date()
    problems: list[FieldProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(FieldProblem(field, message, line))

    def instant(field: str) -> datetime | None:
        if field not in raw:
            return None
        value = _instant(raw[field], zone)
        if value is None:
            bad(field, f"must be {TIME_FORMS}")
        elif value > now:
            bad(field, f"is after the import ({now.astimezone(zone).isoformat(timespec='minutes')})")
            return None
        return value

    def day(field: str) -> date | None:
        if field not in raw:
            return None
        value = _day(raw[field])
        if value is None:
            at = _instant(raw[field], zone)  # an export's date-time: the controller's day it fell on
            value = at.astimezone(zone).date() if at is not None else None
        if value is None:
            bad(field, f"must be {DATE_FORMS}")
        return value

    received = instant(RECEIVED)
    order = day(ORDER)
    if order is not None and order > today:
        bad(ORDER, f"is after the import ({today.isoformat()}): an order in the file has been placed")
        order = None
    start, end = day(CONTRACT_START), day(CONTRACT_END)
    contract: tuple[date, date | None] | None = None
    if CONTRACT_END in raw and CONTRACT_START not in raw:
        bad(CONTRACT_END, "is given without contract_start (when the contract began)")
    elif start is not None and end is not None and end <= start:
        bad(CONTRACT_END, f"must be after the contract's start ({start.isoformat()})")
    elif start is not None and (end is not None or CONTRACT_END not in raw):
        contract = (start, end)
    consents: list[tuple[str, datetime]] = []
    for column, channel in CONSENTS.items():
        at = instant(column)
        if at is None:
            continue
        try:
            field = channel_field(policy, MARKETING, channel)
        except InvalidInput:
            bad(column, f"the policy has no field that marketing by {channel} can reach")
            continue
        if field not in values:
            bad(column, f"consent to marketing by {channel}, but the row has no {field} to reach the person on")
            continue
        consents.append((channel, at))
    method: ConsentMethod | None = None
    notice = proof = None
    given = any(c in raw for c in CONSENTS)
    if not given:
        # The method and the proof speak of the row's consents; a row with none has nothing for them to say (a
        # column map may give them to every row). No consent is recorded: nothing is guessed.
        raw = {k: v for k, v in raw.items() if k not in (CONSENT_METHOD, CONSENT_PROOF)}
    if CONSENT_METHOD in raw:
        try:
            method = ConsentMethod(raw[CONSENT_METHOD].strip().lower())
        except ValueError:
            bad(CONSENT_METHOD, f"must be one of: {', '.join(m.value for m in ConsentMethod)}")
    if CONSENT_PROOF in raw:
        notice, proof, problem = _proof(raw[CONSENT_PROOF])
        if problem is not None:
            bad(CONSENT_PROOF, problem)
    if given:
        if CONSENT_METHOD not in raw:
            bad(CONSENT_METHOD, "is required with a consent: how the person consented (web, phone, paper, …)")
        if CONSENT_PROOF not in raw:
            bad(
                CONSENT_PROOF,
                "is required with a consent: the sha256 of the notice the person saw, or where the proof is kept",
            )
    if problems:
        return NO_HISTORY, problems
    found = History(received, order, contract, tuple(consents), method, notice, proof)
    return (NO_HISTORY if found == NO_HISTORY else found), []
