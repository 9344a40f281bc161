"""The website's cookie banner: its categories in a language, recording each visitor's choice, counts and retention."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.cookies import ChoiceCount, CookieChoice, banner_version, counts, decide
from personvern.domain.errors import Conflict, NotFound, Throttled, invalid
from personvern.domain.otp import Limit
from personvern.policy.schema import Cookies
from personvern.services.context import Context, new_id


@dataclass(frozen=True)
class CookieView:
    name: str
    provider: str
    purpose: str
    expiry: str


@dataclass(frozen=True)
class CategoryView:
    name: str
    label: str
    description: str
    necessary: bool
    cookies: tuple[CookieView, ...]


@dataclass(frozen=True)
class Banner:
    """What the banner and the privacy page show, in one language: `cookie_choices.html` renders it."""

    language: str
    version: str
    text: str
    remember_days: int  # how long the choice cookie lives, in whole days
    categories: tuple[CategoryView, ...]


def _cookies(ctx: Context) -> Cookies:
    if ctx.policy.cookies is None:
        raise NotFound("the policy declares no website cookies ([cookies]): there is no banner")
    return ctx.policy.cookies


def banner(ctx: Context, lang: str) -> Banner:
    """The categories and their cookies in `lang` (nb or en), with the version a choice must name."""
    if lang not in ("nb", "en"):
        raise invalid("lang", "must be nb or en")
    cookies = _cookies(ctx)
    now = ctx.clock.now()
    categories = tuple(
        CategoryView(
            name,
            c.label.get(lang),
            c.description.get(lang),
            c.necessary,
            tuple(CookieView(k.name, k.provider, k.purpose.get(lang), k.expiry.get(lang)) for k in c.cookies),
        )
        for name, c in cookies.categories.items()
    )
    days = (cookies.remember.after(now) - now).days
    return Banner(lang, banner_version(cookies), cookies.banner_text.get(lang), days, categories)


# Per client address: a visitor chooses once, perhaps changes it; an office behind one address has many visitors.
# 120 an hour lets them all, and stops one address filling the table (every choice is kept as proof).
CHOICES_PER_CLIENT = Limit("cookie-choice", 120, timedelta(hours=1))


def record_choice(
    ctx: Context,
    visitor: str,
    choices: Mapping[str, object],
    method: str,
    version: str,
    gpc: bool = False,
    client: str | None = None,
) -> CookieChoice:
    """Record one visitor's choice, as given on the banner in force; Global Privacy Control refuses all optional.

    Consent must be demonstrable (GDPR Art. 7(1)): each choice is kept with its time, the banner's version
    and how it was made. A choice made on an older banner is refused (Conflict): it did not cover what the
    categories are now, so the banner asks again.
    """
    ctx.actor.require(Permission.CONSENT_RECORD)
    cookies = _cookies(ctx)
    chosen, how = decide(cookies, visitor, choices, method, version, gpc)
    current = banner_version(cookies)
    if version != current:
        raise Conflict("the banner has changed since it was shown; ask again with banner_version " + current)
    choice = CookieChoice(new_id(), visitor, ctx.clock.now(), current, chosen, how, gpc or how.value == "gpc")
    with ctx.uow() as uow:
        if client is not None:
            now = choice.at
            key = "cookie-choice:" + hashlib.sha256(f"personvern-rate\x00{client}".encode()).hexdigest()[:40]
            if uow.rate_limits.hit(key, CHOICES_PER_CLIENT.window_start(now)) > CHOICES_PER_CLIENT.hits:
                raise Throttled(
                    "too many cookie choices from here; try again later", CHOICES_PER_CLIENT.retry_after(now)
                )
        uow.cookie_choices.add(choice)
        # No visitor id in the log: the row is the proof; the log says that a choice was made, and how.
        given = sorted(name for name in cookies.optional() if chosen[name])
        ctx.record(uow, AuditEvent("cookie.choice", details={"method": how.value, "version": current, "given": given}))
        uow.commit()
    return choice


def choice_counts(ctx: Context, first: date, last: date) -> list[ChoiceCount]:
    """Per calendar month from `first`'s to `last`'s (the controller's time zone) and per optional category,
    how many choices gave and how many refused consent. Counts only: no visitor id leaves the store."""
    ctx.actor.require(Permission.RECORD_READ)
    if last < first:
        raise invalid("last", "must not be before first")
    cookies = _cookies(ctx)
    zone = ZoneInfo(ctx.policy.controller.timezone)
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        nxt = (year + month // 12, month % 12 + 1)
        start = datetime(year, month, 1, tzinfo=zone)
        end = datetime(nxt[0], nxt[1], 1, tzinfo=zone)
        months.append((f"{year:04d}-{month:02d}", start, end))
        year, month = nxt
    with ctx.uow() as uow:
        rows = uow.cookie_choices.tally(months)
    return counts(cookies, rows)


def forget_old_choices(ctx: Context) -> int:
    """Delete the records of choices older than the policy's `[cookies] keep` (GDPR Art. 5(1)(e)); how many.

    A record proves a consent while the choice cookie relying on it lives, and a while after to answer a
    complaint (the policy's reason); after that it proves nothing in use. Run by the worker's daily pass.
    """
    cookies = ctx.policy.cookies
    if cookies is None:
        return 0
    now = ctx.clock.now()
    before = cookies.keep.before(now)
    with ctx.uow() as uow:
        gone = uow.cookie_choices.delete_before(before)
        if gone:
            ctx.record(uow, AuditEvent("cookie.forget", details={"choices": gone, "before": before.isoformat()}))
        uow.commit()
    return gone


def gpc_header(value: str | None) -> bool:
    """Whether a `Sec-GPC` request header value signals Global Privacy Control (the GPC specification: "1")."""
    return value is not None and value.strip() == "1"
