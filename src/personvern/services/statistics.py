"""Privacy statistics for the CEO and the authority: requests, breaches, consents and cookie choices of a period.

Who may read them: the CEO, who handles every request and breach (the policy) and reports to the authority.
The figures are counts, but a small count in a month can still point at someone the reader knows of (the one
erasure in March), so they go no further than the person who saw each case already (Art. 5(1)(f)): the role
must both handle requests and manage breaches. The auditor's role is the accounting view (Art. 5(1)(b)), which
these figures do not serve. Reading them is not audited: they hold no one's data.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from personvern.domain.access import Permission
from personvern.domain.statistics import Statistics, choose_period, figures, months_of
from personvern.services.context import Context


def statistics(ctx: Context, year_from: int | None = None, year_until: int | None = None) -> Statistics:
    """The figures of whole years (this year by default), read in one transaction with a few aggregate queries."""
    ctx.actor.require(Permission.REQUEST_HANDLE)
    ctx.actor.require(Permission.BREACH_MANAGE)
    zone = ctx.policy.controller.timezone
    now = ctx.clock.now()
    period = choose_period(year_from, year_until, now.astimezone(ZoneInfo(zone)).year)
    months = months_of(period, zone)
    with ctx.uow() as uow:
        store = uow.statistics
        requests = store.requests(period.first_day, period.after)
        breaches = store.breaches(months.starts[0], months.end)
        consents = store.consents(months)
        cookies = store.cookies(months)
    return figures(period, zone, now, requests, breaches, consents, cookies)
