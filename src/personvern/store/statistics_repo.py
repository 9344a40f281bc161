"""The statistics' reads: requests and breaches as rows (few), consent events and cookie choices counted in SQL."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, and_, case, func, literal, select, union_all

from personvern.domain.statistics import BreachRow, ConsentCount, CookieCount, Months, RequestRow
from personvern.store import tables as t


def _month(column: ColumnElement[datetime], months: Months) -> ColumnElement[str]:
    """The period's month an instant falls in, as its label: «at < start of the next month» in turn.

    Plain comparisons of timestamps, the same on SQLite (UTC text) and PostgreSQL (timestamptz); the month
    starts were computed in the controller's time zone (domain/statistics.py), which SQLite cannot do.
    """
    nexts = [*months.starts[1:], months.end]
    return case(*((column < start, label) for label, start in zip(months.labels, nexts, strict=True)))


class SqlStatistics:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def requests(self, first_day: date, after: date) -> list[RequestRow]:
        r = t.requests.c
        q = select(r.type, r.state, r.received_on, r.due_on, r.extended_at.is_not(None), r.closed_at).where(
            r.received_on >= first_day, r.received_on < after
        )
        return [
            RequestRow(kind, state, received, due, bool(extended), closed)
            for kind, state, received, due, extended, closed in self._conn.execute(q)
        ]

    def breaches(self, start: datetime, end: datetime) -> list[BreachRow]:
        b, n = t.breaches.c, t.breach_notifications.c
        q = (
            select(
                b.discovered_at,
                b.risk,
                func.min(case((n.recipient == "authority", n.at))),
                func.count(case((n.recipient == "subjects", n.id))),
            )
            .select_from(t.breaches.outerjoin(t.breach_notifications, n.breach_id == b.id))
            .where(b.discovered_at >= start, b.discovered_at < end)
            .group_by(b.id, b.discovered_at, b.risk)
        )
        return [BreachRow(found, risk, first, int(told) > 0) for found, risk, first, told in self._conn.execute(q)]

    def consents(self, months: Months) -> list[ConsentCount]:
        """Consent events per month, purpose, channel, action and method: one pass over the ledger, in SQL."""
        c, k = t.consent_events.c, t.consent_tallies.c
        # The ledger's events, and the tallies of those deleted with their person (erased, archived): a month's
        # figures do not fall when its people go.
        live = select(_month(c.at, months).label("month"), c.purpose, c.channel, c.action, c.method,
                      literal(1).label("events")).where(and_(c.at >= months.starts[0], c.at < months.end))  # fmt: skip
        gone = select(_month(k.hour, months).label("month"), k.purpose, k.channel, k.action, k.method,
                      k.events).where(and_(k.hour >= months.starts[0], k.hour < months.end))  # fmt: skip
        inner = union_all(live, gone).subquery()
        # Grouped outside: PostgreSQL would not see the CASE of the select and of a GROUP BY as one expression
        # (each has its own parameters).
        s = inner.c
        q = select(s.month, s.purpose, s.channel, s.action, s.method, func.sum(s.events)).group_by(
            s.month, s.purpose, s.channel, s.action, s.method
        )
        return [
            ConsentCount(month, purpose, channel, action, method, int(n))
            for month, purpose, channel, action, method, n in self._conn.execute(q)
        ]

    def cookies(self, months: Months) -> list[CookieCount]:
        """Cookie choices per month and stored choice: a handful of distinct choices, parsed in Python after."""
        k = t.cookie_consents.c
        inner = (
            select(_month(k.at, months).label("month"), k.choices)
            .where(and_(k.at >= months.starts[0], k.at < months.end))
            .subquery()
        )
        q = select(inner.c.month, inner.c.choices, func.count()).group_by(inner.c.month, inner.c.choices)
        return [CookieCount(month, choices, int(n)) for month, choices, n in self._conn.execute(q)]
