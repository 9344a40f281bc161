"""SMS rules: GSM-7 or UCS-2 and segment counts, LINK Mobility's result codes, delivery reports, the opt-out line."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from personvern.domain.errors import FieldProblem, InvalidInput

# The GSM 03.38 default alphabet (one septet each; the escape code 0x1B is left out) and its extension
# table (escape + septet: two each). Norwegian æ, ø and å are in the default alphabet.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# Marketing must offer a simple, free way to opt out in every message (markedsføringsloven § 15).
OPT_OUT_LINE = "Svar STOPP for å melde deg av"
STOP_WORD = "STOPP"  # the keyword the opt-out line names, and how every stop reply is reported
# Replies that clearly ask to stop (Art. 7(3), 21(3): withdrawing must be as easy as giving). The whole reply
# must be one of these, whatever its case, character width (NFKC), surrounding punctuation or spacing:
# «STOPP» is what the opt-out line asks for; «STOP» and «UNSUBSCRIBE» are what phones and people used to
# English services send; «AVMELD», «MELD AV» and «MELD MEG AV» are the line's own words («melde deg av»).
# A longer text («stopp nå», «ikke stopp») is not a keyword: only a plain request withdraws consent.
STOP_REPLIES = frozenset({"stopp", "stop", "unsubscribe", "avmeld", "meld av", "meld meg av"})

MAX_SEGMENTS = 10  # a longer text is almost surely a mistake, and each segment is billed


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SmsLength:
    """How a text travels: its encoding, its length in characters and in units, and how many SMS it takes."""

    encoding: Encoding
    characters: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


# (units in one lone SMS, units per segment of a concatenated one: the user-data header takes the rest)
_LIMITS = {Encoding.GSM7: (160, 153), Encoding.UCS2: (70, 67)}


def measure(text: str) -> SmsLength:
    """The encoding a text needs and its segment count; a two-unit character never straddles two segments."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        encoding = Encoding.GSM7
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]  # escape + the character
    else:
        encoding = Encoding.UCS2
        sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # a surrogate pair, e.g. an emoji
    single, per_segment = _LIMITS[encoding]
    units = sum(sizes)
    if units <= single:
        return SmsLength(encoding, len(text), units, 1 if text else 0)
    segments, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            segments, used = segments + 1, 0
        used += size
    return SmsLength(encoding, len(text), units, segments)


def with_opt_out(text: str) -> str:
    """A marketing text with the opt-out line as its last line (once, even if the author wrote it already)."""
    body = text.rstrip()
    if body.endswith(OPT_OUT_LINE):
        return body
    return f"{body}\n{OPT_OUT_LINE}"


def text_problems(text: str) -> list[FieldProblem]:
    problems = []
    if not text.strip():
        problems.append(FieldProblem("text", "must not be empty"))
    if any(ord(ch) > 0xFFFF for ch in text):
        # LINK Mobility takes UTF-8 without 4-byte characters: an emoji would be lost or refused.
        problems.append(FieldProblem("text", "contains an emoji or another character SMS cannot carry"))
    elif text.strip() and measure(text).segments > MAX_SEGMENTS:
        length = measure(text)
        problems.append(
            FieldProblem("text", f"takes {length.segments} SMS ({length.encoding.value}); at most {MAX_SEGMENTS}")
        )
    return problems


def _edge(ch: str) -> bool:
    """Punctuation, spaces and invisible characters that may surround a keyword: «STOPP», "Stopp.", (stop)!"""
    return unicodedata.category(ch)[0] in "PZC"


def is_stop(text: str) -> bool:
    """An opt-out reply: one of `STOP_REPLIES`, in any case, with punctuation or whitespace around it."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(folded)
    while start < end and _edge(folded[start]):
        start += 1
    while end > start and _edge(folded[end - 1]):
        end -= 1
    return " ".join(folded[start:end].split()) in STOP_REPLIES


# ---------------------------------------------------------------- delivery status


class MessageStatus(StrEnum):
    PENDING = "pending"  # in our outbox, not yet with LINK Mobility
    QUEUED = "queued"  # LINK Mobility queued it (1005)
    SENT = "sent"  # with the operator (1000), or delayed on the way (1012)
    DELIVERED = "delivered"  # on the phone (1001)
    FAILED = "failed"  # a final failure, or the outbox gave up
    UNKNOWN = "unknown"  # final, but nobody knows whether it arrived (4, 5, 1010)
    CANCELLED = "cancelled"  # never sent: no longer allowed when it was due (withdrawn, objected, restricted)


FINAL_STATUSES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.UNKNOWN, MessageStatus.CANCELLED}
)


@dataclass(frozen=True)
class ResultCode:
    code: int
    meaning: str
    status: MessageStatus

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


_CODES: dict[int, tuple[str, MessageStatus]] = {
    1001: ("delivered", MessageStatus.DELIVERED),
    1000: ("sent to the operator", MessageStatus.SENT),
    1005: ("queued", MessageStatus.QUEUED),
    1012: ("delayed", MessageStatus.SENT),
    1002: ("expired", MessageStatus.FAILED),
    1004: ("the phone's memory is full", MessageStatus.FAILED),
    1006: ("not delivered", MessageStatus.FAILED),
    2104: ("unknown subscriber", MessageStatus.FAILED),
    2105: ("the number is barred", MessageStatus.FAILED),
    2106: ("the number is wrong", MessageStatus.FAILED),
    2107: ("the number is barred for now", MessageStatus.FAILED),
    3: ("throttling limit exceeded", MessageStatus.FAILED),
    4000: ("content error: delivery reports not supported", MessageStatus.FAILED),
    4001: ("content error: invalid message content", MessageStatus.FAILED),
    4002: ("content error: invalid tariff", MessageStatus.FAILED),
    4003: ("content error: invalid user data", MessageStatus.FAILED),
    4004: ("content error: invalid user data header", MessageStatus.FAILED),
    4005: ("content error: invalid data coding", MessageStatus.FAILED),
    4006: ("content error: invalid VAT", MessageStatus.FAILED),
    4007: ("content error: not supported by the destination", MessageStatus.FAILED),
    4: ("timed out; outcome unknown", MessageStatus.UNKNOWN),
    5: ("operator error; outcome unknown", MessageStatus.UNKNOWN),
    1010: ("expired without a report from the operator; outcome unknown", MessageStatus.UNKNOWN),
}
ON_THE_WAY = frozenset(code for code, (_m, s) in _CODES.items() if s not in FINAL_STATUSES)


def result_code(code: int) -> ResultCode:
    """What a LINK Mobility result code means; a code the documentation does not list counts as a final failure."""
    meaning, status = _CODES.get(code, (f"result code {code} (not documented)", MessageStatus.FAILED))
    return ResultCode(code, meaning, status)


def next_status(current: MessageStatus, new: MessageStatus) -> MessageStatus:
    """Reports may arrive late or twice: a final status stays; anything else moves forward."""
    return current if current in FINAL_STATUSES else new


@dataclass(frozen=True)
class Message:
    """A message sent to a subject: metadata only; its text is sealed apart, and kept only as long as allowed."""

    id: str
    subject_id: str
    outbox_id: str
    channel: str
    purpose: str
    created_at: datetime
    segments: int
    encoding: Encoding
    status: MessageStatus
    updated_at: datetime
    vendor_message_id: str | None = None
    result_code: int | None = None
    status_text: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """A LINK Mobility delivery report: our refId (the outbox row), their message id and the result code."""

    ref_id: str
    result_code: int
    vendor_id: str | None = None
    segments: int | None = None


def _report(raw: Any, where: str) -> tuple[DeliveryReport | None, list[FieldProblem]]:
    if not isinstance(raw, Mapping):
        return None, [FieldProblem(where, "must be a JSON object")]
    problems = []
    ref_id, code, vendor, segments = raw.get("refId"), raw.get("resultCode"), raw.get("id"), raw.get("segments")
    if not isinstance(ref_id, str) or not ref_id.strip() or len(ref_id) > 64:
        problems.append(FieldProblem(f"{where}refId", "must be the refId the message was sent with"))
    if isinstance(code, str) and code.strip().isdecimal() and len(code.strip()) < 10:
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        problems.append(FieldProblem(f"{where}resultCode", "must be a number"))
    if vendor is not None and (not isinstance(vendor, str | int) or len(str(vendor)) > 64):
        problems.append(FieldProblem(f"{where}id", "must be LINK Mobility's message id"))
    if segments is not None and (not isinstance(segments, int) or isinstance(segments, bool)):
        segments = None  # informative only; a malformed count does not invalidate the report
    if problems:
        return None, problems
    assert isinstance(ref_id, str) and isinstance(code, int)
    return DeliveryReport(ref_id.strip(), code, None if vendor is None else str(vendor), segments), []


def parse_delivery_reports(data: Any) -> list[DeliveryReport]:
    """One report (a JSON object) or a list of them; every problem is named, and none is half-accepted."""
    many = isinstance(data, list)
    items = data if many else [data]
    if not items:
        raise InvalidInput([FieldProblem("reports", "the list is empty")])
    reports, problems = [], []
    for n, raw in enumerate(items, start=1):
        report, found = _report(raw, f"report {n}: " if many else "")
        problems += found
        if report is not None:
            reports.append(report)
    if problems:
        raise InvalidInput(problems, "nothing was recorded: the delivery reports have problems")
    return reports


@dataclass(frozen=True)
class InboundSms:
    """A message a person sent us (LINK Mobility's MO callback): who sent it and what it says."""

    source: str
    text: str


def parse_inbound(raw: Any) -> InboundSms:
    """LINK's MO shape: `source` and `content.userData` (a flat `userData` is accepted too)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput([FieldProblem("message", "must be a JSON object")])
    problems = []
    source = raw.get("source")
    content = raw.get("content")
    text = content.get("userData") if isinstance(content, Mapping) else raw.get("userData")
    if not isinstance(source, str) or not source.strip():
        problems.append(FieldProblem("source", "must be the sender's number"))
    if not isinstance(text, str):
        problems.append(FieldProblem("content.userData", "must be the message text"))
    if problems:
        raise InvalidInput(problems, "the inbound message has problems")
    assert isinstance(source, str) and isinstance(text, str)
    return InboundSms(source.strip(), text)
