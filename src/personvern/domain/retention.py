"""The retention engine: from the facts about a subject, the policy and a day, how long its data is kept and why."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from personvern.domain.consent import Block, BlockKind, ConsentAction, ConsentEvent, marketing_block_reason
from personvern.domain.subjects import Relationship, RelationshipType
from personvern.policy.schema import (
    Duration,
    ExpiryAction,
    LegalBasis,
    Policy,
    RetentionRule,
    RetentionStart,
    RetentionWhile,
)

# Reasons that are no rule of the policy but of the person's rights while they are being exercised.
OPEN_REQUEST = "open_request"  # an open data subject request keeps everything while it lasts (Art. 12, 15-22)
RESTRICTION = "restriction"  # Art. 18(1)(b)-(c): restricted data is stored, not erased, while the restriction lasts


class Action(StrEnum):
    """What is done with a record once no reason keeps it (the policy's `archive.on_expiry`, or erasure)."""

    ARCHIVE = "archive"
    ERASE = "erase"


@dataclass(frozen=True)
class Facts:
    """Everything about a subject that decides how long its data is kept."""

    kind: str
    received_at: datetime
    relationships: Sequence[Relationship]
    consents: Sequence[ConsentEvent]  # the subject's ledger
    blocks: Sequence[Block]  # objections/restrictions, lifted ones too
    open_request: bool = False  # an open data subject request keeps everything while it lasts
    erasure_requested: bool = False  # the person's rights require full erasure (erase, never archive)
    # Already erased but for the fields a law requires (an erasure receipt): the whole-record reasons are spent;
    # what is left goes when the hold ends, archived or erased as for any record.
    erased: bool = False


@dataclass(frozen=True)
class Reason:
    """One reason that keeps a subject's data on a day, and until when."""

    rule: str  # the retention rule's key (or e.g. "open_request")
    purpose: str | None
    until: date | None  # the first day it no longer holds; None: as long as its condition holds (open-ended today)
    fields: frozenset[str] | None  # None: the whole record
    legal_obligation: bool  # the rule's purpose has legal basis 6(1)(c): survives erasure (Art. 17(3)(b))


@dataclass(frozen=True)
class Decision:
    """How long a subject's data is kept, why, and what happens after (GDPR Art. 5(1)(e), 13(2)(a)).

    `kept_until` is the first day on which the record as a whole (every field outside a hold) is due, None
    while some reason for the whole record is open-ended. `holds` are the reasons in force that keep only
    some fields (a legal obligation such as bokføringsloven § 13); those fields stay until the hold ends.
    """

    kept_until: date | None
    reasons: tuple[Reason, ...]  # every reason in force on the day decided, whole-record and field holds
    action: Action  # what is due once kept_until comes
    due: bool  # the record (outside its holds) is due on the day decided
    cause: str  # the rule whose end makes it due (the latest to end), or "none" if nothing ever kept it
    holds: tuple[Reason, ...]  # field-group reasons in force: these fields are kept beyond kept_until

    @property
    def hold_until(self) -> date | None:
        """The first day every held field group is released; None if a hold is open-ended or there is none."""
        return latest(r.until for r in self.holds) if self.holds else None

    @property
    def held_fields(self) -> frozenset[str]:
        return frozenset().union(*(r.fields or frozenset() for r in self.holds))

    @property
    def until(self) -> date | None:
        """The first day nothing at all is kept (holds included); None while anything is open-ended."""
        if not self.holds:
            return self.kept_until
        if self.kept_until is None or self.hold_until is None:
            return None
        return max(self.kept_until, self.hold_until)


# A reason that never applied to the subject (no relationship, no consent ever given) contributes nothing.
_NEVER = object()
End = date | None | object  # a first day it no longer holds; None: open-ended; _NEVER: it never applied


def latest(ends: Iterable[date | None]) -> date | None:
    """The latest of these ends, None (open-ended) winning over every date."""
    out: date | None = date.min
    for end in ends:
        if end is None:
            return None
        out = max(out, end) if out is not None else end
    return None if out == date.min else out


def add(day: date, keep: Duration) -> date:
    """Calendar arithmetic (Regulation 1182/71 Art. 3(2)(c)): 29 February plus one year is 28 February."""
    return _shifted(day, keep.years, keep.months, keep.days)


@lru_cache(maxsize=65_536)
def _shifted(day: date, years: int, months: int, days: int) -> date:
    # Subjects received or bookkept on the same day share their period's end: a sweep computes it once.
    result: date = day + relativedelta(years=years, months=months, days=days)
    return result


def local_day(at: datetime, policy: Policy) -> date:
    """The controller's calendar day of an instant: dates of the policy are the controller's dates."""
    return at.astimezone(ZoneInfo(policy.controller.timezone)).date()


def _min_end(a: End, b: End) -> End:
    if a is _NEVER or b is _NEVER:
        return _NEVER
    if a is None:
        return b
    if b is None:
        return a
    assert isinstance(a, date) and isinstance(b, date)
    return min(a, b)


def _relationship_end(relationships: Sequence[Relationship]) -> End:
    """When the customer relationship is over: the latest end of an order or contract; None while one is open.

    A relationship that has not started yet counts as held: Art. 6(1)(b) covers steps before a contract.
    """
    if not relationships:
        return _NEVER
    return latest(r.end_date() for r in relationships)


def _financial_year_end(relationships: Sequence[Relationship]) -> End:
    """The end of the financial year (the calendar year) of the last bookkept event, as an exclusive day.

    The bookkept event is an order's date, or a contract's end (bokføringsloven § 13 counts from the end of
    the financial year the primary documentation belongs to); a contract without an end has none yet.
    """
    if not relationships:
        return _NEVER
    relevant: list[date | None] = [
        r.started_on if r.type is RelationshipType.ORDER else r.end_date() for r in relationships
    ]
    last = latest(relevant)
    return None if last is None else date(last.year + 1, 1, 1)


def _consent_end(facts: Facts, purpose: str, policy: Policy) -> End:
    """None while consent to `purpose` is in force on some channel; else the day it stopped; _NEVER if never given.

    Consent stops on its withdrawal (Art. 7(3)) or on an objection (Art. 21(3)); a consent given before an
    objection stays void. A restriction (Art. 18) stops marketing but not storage, so it is left out here.
    """
    events = [e for e in facts.consents if e.purpose == purpose]
    if not any(e.action is ConsentAction.GIVEN for e in events):
        return _NEVER
    objections = [b for b in facts.blocks if b.kind is BlockKind.OBJECTION and b.purpose == purpose]
    stops: list[date] = []
    for channel in sorted({e.channel for e in events}):
        on_channel = [e for e in events if e.channel == channel]
        if marketing_block_reason(on_channel, objections, channel, purpose) is None:
            return None
        last = max(on_channel, key=lambda e: e.order)
        stopped = max([last.at, *(b.set_at for b in objections if b.active or b.set_at >= last.at)])
        stops.append(local_day(stopped, policy))
    return max(stops)


def _prospect_end(facts: Facts) -> End:
    """None (held) while the person has no order, contract or consent yet; _NEVER once they have had one.

    Art. 6(1)(b) covers steps before a contract taken at the person's request (an offer, a contract being
    drawn up) for the rule's period from receipt. Once an order, a contract (their organisation's counts for a
    representative) or a consent exists, those reasons decide, and this one no longer applies at all: a
    customer whose order has ended is not a prospect again.
    """
    if facts.relationships or any(e.action is ConsentAction.GIVEN for e in facts.consents):
        return _NEVER
    return None


def _condition_end(rule: RetentionRule, facts: Facts, policy: Policy) -> End:
    if rule.holds_while is RetentionWhile.RELATIONSHIP_ACTIVE:
        return _relationship_end(facts.relationships)
    if rule.holds_while is RetentionWhile.CONSENT_ACTIVE:
        return _consent_end(facts, rule.purpose, policy)
    if rule.holds_while is RetentionWhile.PROSPECT:
        return _prospect_end(facts)
    return None


def _period_end(rule: RetentionRule, facts: Facts, policy: Policy) -> End:
    if rule.counts_from is None or rule.keep is None:
        return None
    start: End
    if rule.counts_from is RetentionStart.RECEIVED:
        start = local_day(facts.received_at, policy)
    elif rule.counts_from is RetentionStart.RELATIONSHIP_END:
        start = _relationship_end(facts.relationships)
    else:
        start = _financial_year_end(facts.relationships)
    if start is _NEVER or start is None:
        return start
    assert isinstance(start, date)
    return add(start, rule.keep)


def rule_end(policy: Policy, key: str, facts: Facts) -> End:
    """The first day the rule no longer keeps the subject's data (None: open-ended; _NEVER: it never applied)."""
    rule = policy.retention[key]
    if facts.kind not in rule.kinds:
        return _NEVER
    # The condition gates the reason; the period caps it (consent: at most 10 years from receipt).
    return _min_end(_condition_end(rule, facts, policy), _period_end(rule, facts, policy))


def counted_from(policy: Policy, key: str, facts: Facts) -> tuple[Relationship, date | None] | None:
    """The order or contract whose date sets the end of rule `key` for these facts, and that date; None if none does.

    For a bookkeeping period it is the last bookkept event (an order's date, a contract's end), for a rule held
    while the customer relationship lasts the relationship that lasts longest. A business representative's facts
    hold their organisation's relationships too, so the one found may be the organisation's: a letter must say so
    (Art. 13(2)(a), 15(1)(d): the period, or the criteria that determine it).
    """
    rule = policy.retention[key]
    if rule.counts_from is RetentionStart.FINANCIAL_YEAR_END:

        def day(r: Relationship) -> date | None:
            return r.started_on if r.type is RelationshipType.ORDER else r.end_date()

    elif rule.counts_from is RetentionStart.RELATIONSHIP_END or rule.holds_while is RetentionWhile.RELATIONSHIP_ACTIVE:

        def day(r: Relationship) -> date | None:
            return r.end_date()

    else:
        return None
    if not facts.relationships:
        return None
    # The latest day wins, an open end over every date; among equals the earliest started, as the engine sorts them.
    chosen = max(facts.relationships, key=lambda r: (1, date.min) if day(r) is None else (0, day(r) or date.min))
    return chosen, day(chosen)


def _is_legal_obligation(policy: Policy, purpose: str | None) -> bool:
    spec = policy.purposes.get(purpose or "")
    return spec is not None and spec.legal_basis is LegalBasis.LEGAL_OBLIGATION


def reasons(policy: Policy, facts: Facts, today: date) -> tuple[list[Reason], list[date]]:
    """The reasons in force on `today`, and the ends of the whole-record reasons that have already ended."""
    held: list[Reason] = []
    ended: list[date] = []
    for key, rule in policy.retention.items():
        end = rule_end(policy, key, facts)
        if end is _NEVER:
            continue
        fields = frozenset(rule.fields) if rule.fields is not None else None
        if end is None or (isinstance(end, date) and end > today):
            until = end if isinstance(end, date) else None
            held.append(Reason(key, rule.purpose, until, fields, _is_legal_obligation(policy, rule.purpose)))
        elif fields is None:
            assert isinstance(end, date)
            ended.append(end)
    if facts.open_request:
        held.append(Reason(OPEN_REQUEST, None, None, None, False))
    if any(b.active and b.kind is BlockKind.RESTRICTION for b in facts.blocks):
        held.append(Reason(RESTRICTION, None, None, None, False))
    return held, ended


def action_for(policy: Policy, facts: Facts) -> Action:
    """Archive or erase, per the policy's choice for the kind, unless the person's rights require erasure.

    The seed policy archives surplus data only "provided the data subject's rights do not require full
    erasure": an erasure request (Art. 17) or an objection in force (Art. 21) does.
    """
    if facts.erasure_requested or any(b.active and b.kind is BlockKind.OBJECTION for b in facts.blocks):
        return Action.ERASE
    chosen = policy.archive.on_expiry.get(facts.kind, ExpiryAction.ERASE)
    return Action(chosen.value)


def decide(policy: Policy, facts: Facts, today: date) -> Decision:
    """How long the subject's data is kept (Art. 5(1)(e): no longer than its purposes need), why, and what then."""
    held, ended = reasons(policy, facts, today)
    if facts.erased:
        # Erased but for its legal holds (Art. 17(3)(b)): only those, and an open request, keep what is left.
        held = [r for r in held if r.fields is not None or r.rule == OPEN_REQUEST]
        ended = []
    whole = [r for r in held if r.fields is None]
    holds = tuple(r for r in held if r.fields is not None)
    action = action_for(policy, facts)
    if facts.erased and not whole:
        if holds:
            hold_until = latest(r.until for r in holds)
            cause = next(r.rule for r in holds if r.until == hold_until)
            return Decision(hold_until, tuple(held), action, False, cause, holds)
        released = [
            e
            for k, r in policy.retention.items()
            if r.fields is not None
            for e in [rule_end(policy, k, facts)]
            if isinstance(e, date)
        ]
        since = min(max(released), today) if released else today
        return Decision(since, (), action, True, "none", ())
    if whole:
        kept_until = latest(r.until for r in whole)
        last = [r for r in whole if r.until == kept_until]
        return Decision(kept_until, tuple(held), action, False, last[0].rule, holds)
    # Nothing keeps the whole record: due since the last whole-record reason ended, or since it was received.
    received = local_day(facts.received_at, policy)
    since = min(max(ended), today) if ended else min(received, today)
    cause = _cause(policy, facts, since) if ended else "none"
    return Decision(since, tuple(held), action, True, cause, holds)


def _cause(policy: Policy, facts: Facts, since: date) -> str:
    for key, rule in policy.retention.items():
        if rule.fields is None and rule_end(policy, key, facts) == since:
            return key
    return "none"


def legal_holds(policy: Policy, facts: Facts, today: date) -> list[Reason]:
    """The legal-obligation reasons still in force on `today`, with their fields and end (Art. 17(3)(b))."""
    held, _ended = reasons(policy, facts, today)
    return [r for r in held if r.legal_obligation]


def describe(reason: Reason) -> str:
    """A reason as one line without personal data: the rule, what it keeps, and until when."""
    what = "all fields" if reason.fields is None else ", ".join(sorted(reason.fields))
    until = reason.until.isoformat() if reason.until else "open-ended"
    return f"{reason.rule} ({what}) until {until}"


@dataclass(frozen=True)
class Schedule:
    """What the register stores per subject so that a sweep is an index range scan: due when, what, and holds.

    It does not depend on the day it was computed on, only on the facts: it stays right until they change.
    """

    retain_until: date | None  # the first day the record (outside its holds) is due; None: kept open-ended
    action: Action
    rule: str  # the reason whose end makes it due, or "none"
    hold_until: date | None = None  # the first day the held fields are released; None: open-ended (if held)
    hold_fields: frozenset[str] | None = None  # None: no field group is held

    def due_on(self, day: date) -> bool:
        return self.retain_until is not None and self.retain_until <= day

    def held_on(self, day: date) -> bool:
        return self.hold_fields is not None and (self.hold_until is None or self.hold_until > day)


def schedule(decision: Decision) -> Schedule:
    if not decision.holds:
        return Schedule(decision.kept_until, decision.action, decision.cause)
    return Schedule(decision.kept_until, decision.action, decision.cause, decision.hold_until, decision.held_fields)


def schedule_for(policy: Policy, facts: Facts, today: date) -> Schedule:
    return schedule(decide(policy, facts, today))
