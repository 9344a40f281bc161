"""Privacy statistics for the CEO and the authority: figures from plain rows, months on the controller's clock.

Requests (Art. 12(3): answered within a month, or three once extended), breaches (Art. 33-34), consent given and
withdrawn (Art. 7) and the website's cookie choices (ekomloven § 2-7b), counted per month or year of the period.
Every figure is a count or a number of days: nothing here names or singles out a person.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from personvern.domain.breaches import NOTIFY_WITHIN
from personvern.domain.errors import invalid

FIRST_YEAR = 2000  # no register holds a request from before; a typo such as 202 is refused, not counted as empty
MAX_YEARS = 10  # a period's months are bucketed in one SQL expression: ten years is 120 of them

OPEN = frozenset({"received", "verified", "in_progress"})
COMPLETED = "completed"
REJECTED = "rejected"  # a refusal, which Art. 12(4) requires to be explained and open to complaint
UNLIKELY = "unlikely"  # a breach unlikely to result in a risk: the authority need not be told (Art. 33(1))


@dataclass(frozen=True)
class Period:
    """Whole calendar years, first to last, on the controller's calendar."""

    first: int
    last: int

    @property
    def first_day(self) -> date:
        return date(self.first, 1, 1)

    @property
    def after(self) -> date:
        """The first day after the period."""
        return date(self.last + 1, 1, 1)

    @property
    def years(self) -> list[int]:
        return list(range(self.first, self.last + 1))

    @property
    def label(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    def months(self) -> list[str]:
        return [f"{year:04d}-{month:02d}" for year in self.years for month in range(1, 13)]


def choose_period(year_from: int | None, year_until: int | None, this_year: int) -> Period:
    """The period asked for: this year by default; one year when only `year_from` is given; never the future."""
    first = this_year if year_from is None else year_from
    last = first if year_until is None else year_until
    for name, year in (("year", first), ("until", last)):
        if year < FIRST_YEAR or year > this_year:
            raise invalid(name, f"must be a year from {FIRST_YEAR} to this year ({this_year}), not {year}")
    if last < first:
        raise invalid("until", f"must not be before the first year ({first})")
    if last - first + 1 > MAX_YEARS:
        raise invalid("until", f"a period is at most {MAX_YEARS} years")
    return Period(first, last)


def month_key(at: datetime, zone: str) -> str:
    """The month an instant falls in where the controller is: 23:30 UTC on 31 December is January in Oslo."""
    local = at.astimezone(ZoneInfo(zone))
    return f"{local.year:04d}-{local.month:02d}"


def month_of_day(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True)
class Months:
    """The period's months as instants: each month's first instant in UTC, and the first instant after the period.

    The store counts timestamps into these buckets with plain comparisons, which SQLite and PostgreSQL read the
    same way; neither needs to know the controller's time zone (SQLite knows none).
    """

    labels: tuple[str, ...]
    starts: tuple[datetime, ...]
    end: datetime

    def label_of(self, at: datetime) -> str | None:
        """The month `at` falls in, or None outside the period."""
        if at < self.starts[0] or at >= self.end:
            return None
        return self.labels[bisect_right(self.starts, at) - 1]


def _first_instant(year: int, month: int, zone: ZoneInfo) -> datetime:
    # Midnight may not exist (a zone moving its clock at 00:00); fold=0 then gives the instant the day begins.
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


def months_of(period: Period, zone: str) -> Months:
    tz = ZoneInfo(zone)
    labels = period.months()
    starts = tuple(_first_instant(int(label[:4]), int(label[5:]), tz) for label in labels)
    return Months(tuple(labels), starts, _first_instant(period.last + 1, 1, tz))


def days_to_answer(received_on: date, closed_at: datetime, zone: str) -> int:
    """Calendar days from the day of receipt to the day of the answer, both on the controller's calendar."""
    return (closed_at.astimezone(ZoneInfo(zone)).date() - received_on).days


def median(values: Sequence[int]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None for none."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return (ordered[mid - 1] + ordered[mid]) / 2


# ---------------------------------------------------------------- what the store reads


@dataclass(frozen=True)
class RequestRow:
    """One request as the statistics need it: no identity, no subject."""

    type: str
    state: str
    received_on: date
    due_on: date
    extended: bool
    closed_at: datetime | None


@dataclass(frozen=True)
class BreachRow:
    discovered_at: datetime
    risk: str | None
    first_to_authority: datetime | None  # the first notification to the authority, if any
    to_subjects: bool  # the people affected were told (Art. 34)


@dataclass(frozen=True)
class ConsentCount:
    """Consent events of one month, purpose, channel, action and method, counted in SQL."""

    month: str
    purpose: str
    channel: str
    action: str  # given | withdrawn
    method: str
    count: int


@dataclass(frozen=True)
class CookieCount:
    """Cookie choices of one month with the same stored choices (JSON {category: bool}), counted in SQL."""

    month: str
    choices: str
    count: int


# ---------------------------------------------------------------- the tables


@dataclass(frozen=True)
class RequestMonth:
    month: str  # of receipt
    type: str
    received: int
    completed: int
    rejected: int
    extended: int
    open: int
    overdue: int  # open past its deadline today
    answered_late: int  # closed after its deadline (Art. 12(3))


@dataclass(frozen=True)
class AnswerTimes:
    type: str
    received: int
    answered: int  # completed or rejected: a refusal is an answer too (Art. 12(4))
    median_days: float | None
    slowest_days: int | None


@dataclass(frozen=True)
class BreachYear:
    year: int  # of discovery
    breaches: int
    notified_authority: int
    notified_late: int  # first told the authority more than 72 hours after discovery (Art. 33(1))
    notified_subjects: int
    not_required: int  # assessed unlikely to result in a risk and not notified: documented only (Art. 33(5))
    overdue: int  # not told, the 72 hours past


@dataclass(frozen=True)
class ConsentMonth:
    month: str
    purpose: str
    channel: str
    method: str
    given: int
    withdrawn: int


@dataclass(frozen=True)
class CookieMonth:
    month: str
    category: str
    granted: int
    refused: int


@dataclass(frozen=True)
class Statistics:
    period: Period
    zone: str
    made_at: datetime
    requests: list[RequestMonth]
    answer_times: list[AnswerTimes]
    breaches: list[BreachYear]
    consents: list[ConsentMonth]
    cookies: list[CookieMonth]


def request_months(rows: Iterable[RequestRow], today: date, zone: str) -> list[RequestMonth]:
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 7)
    for r in rows:
        c = counts[(month_of_day(r.received_on), r.type)]
        c[0] += 1
        c[1] += r.state == COMPLETED
        c[2] += r.state == REJECTED
        c[3] += r.extended
        is_open = r.state in OPEN
        c[4] += is_open
        c[5] += is_open and today > r.due_on
        c[6] += r.closed_at is not None and r.closed_at.astimezone(ZoneInfo(zone)).date() > r.due_on
    return [RequestMonth(month, kind, *c) for (month, kind), c in sorted(counts.items())]


def answer_times(rows: Iterable[RequestRow], zone: str) -> list[AnswerTimes]:
    received: dict[str, int] = defaultdict(int)
    days: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        received[r.type] += 1
        if r.closed_at is not None and r.state in (COMPLETED, REJECTED):
            days[r.type].append(days_to_answer(r.received_on, r.closed_at, zone))
    return [
        AnswerTimes(kind, received[kind], len(days[kind]), median(days[kind]), max(days[kind], default=None))
        for kind in sorted(received)
    ]


def breach_years(rows: Iterable[BreachRow], period: Period, now: datetime, zone: str) -> list[BreachYear]:
    """Every year of the period, with or without breaches: a year without any is a figure too."""
    counts: dict[int, list[int]] = {year: [0] * 6 for year in period.years}
    tz = ZoneInfo(zone)
    for b in rows:
        c = counts.get(b.discovered_at.astimezone(tz).year)
        if c is None:
            continue
        deadline = b.discovered_at + NOTIFY_WITHIN
        told = b.first_to_authority is not None
        c[0] += 1
        c[1] += told
        c[2] += b.first_to_authority is not None and b.first_to_authority > deadline
        c[3] += b.to_subjects
        c[4] += not told and b.risk == UNLIKELY
        c[5] += not told and b.risk != UNLIKELY and now > deadline
    return [BreachYear(year, *c) for year, c in sorted(counts.items())]


def consent_months(counts: Iterable[ConsentCount]) -> list[ConsentMonth]:
    table: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        if c.action not in ("given", "withdrawn"):
            continue
        table[(c.month, c.purpose, c.channel, c.method)][c.action == "withdrawn"] += c.count
    return [ConsentMonth(*key, given, withdrawn) for key, (given, withdrawn) in sorted(table.items())]


def parse_choices(text: str) -> dict[str, bool]:
    """The categories of one stored choice; what is not a category name with true or false is left out."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, bool)}


def cookie_months(counts: Iterable[CookieCount]) -> list[CookieMonth]:
    table: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in counts:
        for category, granted in parse_choices(c.choices).items():
            table[(c.month, category)][not granted] += c.count
    return [
        CookieMonth(month, category, granted, refused)
        for (month, category), (granted, refused) in sorted(table.items())
    ]


def figures(
    period: Period,
    zone: str,
    now: datetime,
    requests: Sequence[RequestRow],
    breaches: Iterable[BreachRow],
    consents: Iterable[ConsentCount],
    cookies: Iterable[CookieCount],
) -> Statistics:
    today = now.astimezone(ZoneInfo(zone)).date()
    return Statistics(
        period=period,
        zone=zone,
        made_at=now,
        requests=request_months(requests, today, zone),
        answer_times=answer_times(requests, zone),
        breaches=breach_years(breaches, period, now, zone),
        consents=consent_months(consents),
        cookies=cookie_months(cookies),
    )
