"""Consent self-service by personal link: what the person sees of their marketing consent, and the changes they make.

The link in every marketing message (domain/links.py) shows who it is for; nothing else is asked, since the
token cannot be made or altered without the master key. What the person may do there is what the law says must
be as easy as giving consent: withdraw it per channel (Art. 7(3)), object to marketing (Art. 21(2)-(3)), give it
again (which ends an objection, as `consent.give_consent` rules), and download the proof of each event (the
Kantara receipt, Art. 7(1)). Every change goes through services/consent.py with method `web` and the notice the
page showed, so the ledger is the same whoever records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from personvern.domain import links
from personvern.domain.access import SUBJECT, Actor, Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.consent import (
    MARKETING,
    Block,
    BlockKind,
    ConsentAction,
    ConsentEvent,
    ConsentStatus,
    EffectiveConsent,
    effective_consent,
)
from personvern.domain.errors import Conflict, NotFound, invalid
from personvern.domain.links import Claim, LinkKeys, LinkUnknown
from personvern.policy.schema import CONSENT_LINK_DAYS, Policy
from personvern.services import consent
from personvern.services.context import Context
from personvern.services.ports import UnitOfWork

ACTOR = Actor("web:self-service", SUBJECT)
METHOD = "web"
NOTICE_FORMAT = "md"  # the rendering consent refers to (services/notices.py DEFAULT_FORMAT)


class Change(StrEnum):
    """What a form on the page asks for."""

    GIVE = "give"
    WITHDRAW = "withdraw"
    OBJECT = "object"


class Outcome(StrEnum):
    """What a change did; UNCHANGED when the ledger already said so (a form sent twice changes nothing twice)."""

    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    OBJECTED = "objected"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ChannelView:
    """One marketing channel: the state the rules decide, and its ledger events, newest first."""

    state: EffectiveConsent
    events: list[ConsentEvent]

    @property
    def channel(self) -> str:
        return self.state.channel

    @property
    def may_give(self) -> bool:
        # Given and standing (or only paused by a restriction): giving again would add nothing.
        return self.state.status not in (ConsentStatus.IN_FORCE, ConsentStatus.RESTRICTED)

    @property
    def may_withdraw(self) -> bool:
        return self.state.event is not None and self.state.event.action is ConsentAction.GIVEN


@dataclass(frozen=True)
class NoticeShown:
    """The privacy notice the page shows the person, whose sha256 a change records (Art. 7(1))."""

    sha256: str
    published: datetime | None  # None: no rendering was published; the policy text in force stands for it
    policy_version: str


@dataclass(frozen=True)
class SelfServicePage:
    expires: datetime  # when the link stops working
    channels: list[ChannelView]
    objection: Block | None  # the objection to marketing in force, if any
    restricted: bool  # processing is restricted (Art. 18): nothing is sent, whatever the consent says
    notice: NoticeShown


# ---------------------------------------------------------------- making links (every marketing message)


def link_days(policy: Policy) -> int:
    return policy.messages.consent_link_days if policy.messages is not None else CONSENT_LINK_DAYS


def _keys(ctx: Context) -> LinkKeys | None:
    return LinkKeys(ctx.link_key, ctx.public_url.rstrip("/")) if ctx.link_key is not None else None


def link_for(ctx: Context, subject_id: str, lang: str = "nb") -> str | None:
    """The person's own link, working for the policy's `consent_link_days`; None where no link key is given."""
    keys = _keys(ctx)
    if keys is None:
        return None
    expires = links.expiry(ctx.clock.now(), link_days(ctx.policy))
    return keys.url(links.make_token(keys.key, subject_id, expires), lang)


def preview_link(ctx: Context, subject_id: str | None = None) -> str | None:
    """A stand-in of exactly the length of the person's link (or of anyone's), for previews of a message."""
    keys = _keys(ctx)
    if keys is None:
        return None
    return links.placeholder(keys) if subject_id is None else links.placeholder(keys, subject_id)


# ---------------------------------------------------------------- the page


def form_token(ctx: Context, token: str) -> str:
    """The hidden field the page's forms carry; a form posted from another site cannot know it."""
    return links.form_token(_key(ctx), token)


def form_token_matches(ctx: Context, token: str, given: str | None) -> bool:
    return links.form_token_matches(_key(ctx), token, given)


def _key(ctx: Context) -> bytes:
    if ctx.link_key is None:
        raise LinkUnknown("this register makes no self-service links")
    return ctx.link_key


def _claim(ctx: Context, uow: UnitOfWork, token: str) -> Claim:
    """Whose link it is; an erased or archived person's link works no more (their ledger is gone or closed)."""
    ctx.actor.require(Permission.CONSENT_RECORD)
    claim = links.read_token(_key(ctx), token, ctx.clock.now())
    if not uow.subjects.exists(claim.subject_id):
        raise LinkUnknown("this link does not work")
    return claim


def open_link(ctx: Context, token: str) -> Claim:
    """Whose link this is, if it still works (LinkUnknown, LinkExpired otherwise); nothing is read or recorded."""
    with ctx.uow() as uow:
        return _claim(ctx, uow, token)


def _notice(ctx: Context, uow: UnitOfWork, lang: str) -> NoticeShown:
    version = uow.notices.current(ctx.policy_sha256, lang, NOTICE_FORMAT) if ctx.policy_sha256 else None
    if version is not None:
        return NoticeShown(version.sha256, version.created_at, ctx.policy.version)
    return NoticeShown(ctx.notice_sha256 or ctx.policy_sha256, None, ctx.policy.version)


def _channels(policy: Policy) -> list[str]:
    purpose = policy.purposes.get(MARKETING)
    return list(purpose.channels) if purpose is not None else []


def _language(ctx: Context, lang: str) -> str:
    return lang if lang in ctx.policy.languages else ctx.policy.languages[0]


def page(ctx: Context, token: str, lang: str) -> SelfServicePage:
    """What the person's link shows: per marketing channel the consent and its events, and any objection."""
    with ctx.uow() as uow:
        claim = _claim(ctx, uow, token)
        events = uow.consents.for_subject(claim.subject_id)
        blocks = uow.blocks.for_subject(claim.subject_id)
        notice = _notice(ctx, uow, _language(ctx, lang))
        # The person reads their own ledger; recorded as any reading of it is (Art. 5(2)), without the token.
        details = {"via": "self-service", "events": len(events)}
        ctx.record(uow, AuditEvent("consent.read", claim.subject_id, MARKETING, details))
        uow.commit()
    channels = [
        ChannelView(
            effective_consent(events, blocks, MARKETING, channel),
            sorted((e for e in events if e.key == (MARKETING, channel)), key=lambda e: e.order, reverse=True),
        )
        for channel in _channels(ctx.policy)
    ]
    objection = next((b for b in blocks if b.active and b.kind is BlockKind.OBJECTION and b.purpose == MARKETING), None)
    restricted = any(b.active and b.kind is BlockKind.RESTRICTION for b in blocks)
    return SelfServicePage(claim.expires, channels, objection, restricted, notice)


def _shown_notice(ctx: Context, uow: UnitOfWork, sha256: str | None) -> str:
    """The notice the person saw, as the form sent it back: a version this register published, or the one in force."""
    given = (sha256 or "").strip().lower()
    if given and (
        given in (ctx.notice_sha256, ctx.policy_sha256) or any(v.sha256 == given for v in uow.notices.find(given))
    ):
        return given
    raise invalid("notice", "must be the sha256 of the privacy notice the page showed; reload the page")


def change(ctx: Context, token: str, action: str, channel: str | None, notice_sha256: str | None) -> Outcome:
    """Give or withdraw consent on one channel, or object to marketing, as the person asked on their page."""
    try:
        wanted = Change(action)
    except ValueError:
        raise invalid("action", f"must be one of: {', '.join(c.value for c in Change)}") from None
    if wanted is not Change.OBJECT and channel not in _channels(ctx.policy):
        raise invalid("channel", f"must be one of: {', '.join(_channels(ctx.policy))}")
    with ctx.uow() as uow:
        claim = _claim(ctx, uow, token)
        notice = _shown_notice(ctx, uow, notice_sha256)
        events = uow.consents.for_subject(claim.subject_id)
        blocks = uow.blocks.for_subject(claim.subject_id)
    sid = claim.subject_id
    try:
        if wanted is Change.OBJECT:
            if any(b.active and b.kind is BlockKind.OBJECTION and b.purpose == MARKETING for b in blocks):
                return Outcome.UNCHANGED
            consent.object_to(ctx, sid, MARKETING)
            return Outcome.OBJECTED
        assert channel is not None
        view = ChannelView(effective_consent(events, blocks, MARKETING, channel), [])
        if wanted is Change.GIVE:
            if not view.may_give:
                return Outcome.UNCHANGED
            consent.give_consent(ctx, sid, MARKETING, channel, METHOD, notice)
            return Outcome.GIVEN
        if not view.may_withdraw:
            return Outcome.UNCHANGED
        consent.withdraw_consent(ctx, sid, MARKETING, channel, METHOD, notice)
        return Outcome.WITHDRAWN
    except Conflict:
        # The same form sent twice at once: the other one recorded it; the ledger says what the person wants.
        return Outcome.UNCHANGED


def receipt(ctx: Context, token: str, event_id: str, lang: str) -> dict[str, Any]:
    """The Kantara receipt of one of the person's own ledger events (Art. 7(1)); another's is not found."""
    language = _language(ctx, lang)
    with ctx.uow() as uow:
        claim = _claim(ctx, uow, token)
        event = uow.consents.get(event_id)
        if event is None or event.subject_id != claim.subject_id:
            raise NotFound("no such consent event on this page")
        details = {"event": event.id, "via": "self-service"}
        ctx.record(uow, AuditEvent("consent.receipt", event.subject_id, event.purpose, details))
        uow.commit()
    return consent.kantara_receipt(ctx.policy, event, language)
