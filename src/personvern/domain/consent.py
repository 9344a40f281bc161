"""The consent ledger, objections and restrictions, and the rule that decides whether marketing may reach a person."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from personvern.domain.errors import FieldProblem, InvalidInput, invalid
from personvern.policy.schema import FieldType, LegalBasis, Policy

MARKETING = "marketing"

# The field a message on each channel is addressed to.
CHANNEL_FIELD_TYPES: dict[str, FieldType] = {"sms": FieldType.PHONE, "email": FieldType.EMAIL}

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ConsentAction(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


class ConsentMethod(StrEnum):
    """How the person said it; part of the proof of consent (Art. 7(1))."""

    WEB = "web"
    PHONE = "phone"
    PAPER = "paper"
    IMPORT = "import"
    SMS_REPLY = "sms_reply"


class BlockKind(StrEnum):
    OBJECTION = "objection"  # Art. 21: to one purpose
    RESTRICTION = "restriction"  # Art. 18: to every processing beyond storage


@dataclass(frozen=True)
class ConsentEvent:
    """One line of the append-only ledger: consent given or withdrawn, how, by whom, after seeing which notice."""

    id: str
    subject_id: str
    purpose: str
    channel: str
    action: ConsentAction
    at: datetime
    method: ConsentMethod
    recorded_by: str
    role: str
    # The privacy notice the person saw (its sha256); None when it cannot be known: a consent given before this
    # register, imported with `proof` saying where the proof of it lives (Art. 7(1)).
    notice_sha256: str | None
    proof: str | None = None  # free text, sealed like every personal value; None unless imported

    @property
    def key(self) -> tuple[str, str]:
        return (self.purpose, self.channel)

    @property
    def order(self) -> tuple[datetime, str]:
        """Events are ordered by time, then id: the later of two events at the same instant is the larger id."""
        return (self.at, self.id)


@dataclass(frozen=True)
class Block:
    """An objection or a restriction: set, and perhaps later lifted; both stay on record (Art. 5(2))."""

    id: str
    subject_id: str
    kind: BlockKind
    purpose: str | None  # an objection's purpose; None for a restriction, which covers all processing
    set_at: datetime
    set_by: str
    reason: str | None = None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    def covers(self, purpose: str) -> bool:
        return self.kind is BlockKind.RESTRICTION or self.purpose == purpose

    def lifted(self, at: datetime, by: str, reason: str | None) -> Block:
        return replace(self, lifted_at=at, lifted_by=by, lift_reason=reason)


# ---------------------------------------------------------------- deriving the state from the ledger


def current_state(events: Iterable[ConsentEvent]) -> dict[tuple[str, str], ConsentEvent]:
    """The latest event per (purpose, channel): the state is derived from the ledger, never stored beside it."""
    state: dict[tuple[str, str], ConsentEvent] = {}
    for event in events:
        held = state.get(event.key)
        if held is None or event.order > held.order:
            state[event.key] = event
    return state


def latest_event(events: Iterable[ConsentEvent], purpose: str, channel: str) -> ConsentEvent | None:
    return current_state(e for e in events if e.key == (purpose, channel)).get((purpose, channel))


def objections_lifted_by(blocks: Iterable[Block], event: ConsentEvent) -> list[Block]:
    """The active objections a fresh consent ends: to its purpose, set strictly before it was given.

    An objection to direct marketing is absolute (Art. 21(3)); only the person can undo it, by consenting
    again after it. A consent at the same instant as the objection cannot be shown to come after it.
    """
    if event.action is not ConsentAction.GIVEN:
        return []
    return [
        b
        for b in blocks
        if b.active and b.kind is BlockKind.OBJECTION and b.purpose == event.purpose and b.set_at < event.at
    ]


def marketing_block_reason(
    events: Iterable[ConsentEvent], blocks: Iterable[Block], channel: str, purpose: str = MARKETING
) -> str | None:
    """None when marketing on `channel` may reach the person now; otherwise the rule that stops it, as a sentence.

    Consent is the only ground: the existing-customer exception of markedsføringsloven § 15 is not used,
    so no customer relationship is looked at. A consent given before an objection stays void after the
    objection is lifted (Art. 21(3)): only a consent on that channel given after it counts.
    """
    blocks = list(blocks)
    for block in blocks:
        if block.active and block.kind is BlockKind.RESTRICTION:
            return f"processing is restricted (Art. 18) since {block.set_at.date().isoformat()}"
    objections = [b for b in blocks if b.kind is BlockKind.OBJECTION and b.purpose == purpose]
    for block in objections:
        if block.active:
            return (
                f"the person objected to {purpose} on {block.set_at.date().isoformat()} "
                "(Art. 21(3): absolute for direct marketing)"
            )
    latest = latest_event(events, purpose, channel)
    if latest is None:
        return f"no consent to {purpose} by {channel}"
    if latest.action is ConsentAction.WITHDRAWN:
        return f"consent to {purpose} by {channel} was withdrawn on {latest.at.date().isoformat()}"
    later = [b for b in objections if b.set_at >= latest.at]
    if later:
        return (
            f"consent to {purpose} by {channel} was given before the objection on "
            f"{later[0].set_at.date().isoformat()}; a fresh consent is needed (Art. 21(3))"
        )
    return None


class ConsentStatus(StrEnum):
    """What a consent amounts to now, as the rules decide it (not merely the latest event of the ledger)."""

    IN_FORCE = "in_force"  # given, and nothing stops it
    VOID = "void"  # given, but an objection made at or after it voids it until a fresh consent (Art. 21(3))
    WITHDRAWN = "withdrawn"  # Art. 7(3)
    RESTRICTED = "restricted"  # given, but processing is restricted (Art. 18): paused while that lasts
    NEVER_GIVEN = "never_given"


@dataclass(frozen=True)
class EffectiveConsent:
    """The state of consent to one purpose on one channel, with the event and the block it follows from.

    Every place that shows a consent (the CLI, its JSON, the letters and data files) shows this, so none of
    them can say "given" while the rules say the consent is void.
    """

    purpose: str
    channel: str
    status: ConsentStatus
    event: ConsentEvent | None  # the latest ledger event on this purpose and channel
    block: Block | None  # the objection that voids it, or the restriction that pauses it

    @property
    def in_force(self) -> bool:
        return self.status is ConsentStatus.IN_FORCE

    @property
    def since(self) -> datetime | None:
        """When the state began: the event, or the block that changed what the event means."""
        if self.block is not None:
            return self.block.set_at
        return self.event.at if self.event is not None else None

    @property
    def reason(self) -> str:
        """The state and why, as one English clause without personal data (dates only)."""
        given = f"given on {self.event.at.date().isoformat()}" if self.event is not None else ""
        block_day = self.block.set_at.date().isoformat() if self.block is not None else ""
        if self.status is ConsentStatus.IN_FORCE:
            return f"in force: {given}"
        if self.status is ConsentStatus.VOID:
            lifted = self.block.lifted_at if self.block is not None else None
            law = f"lifted on {lifted.date().isoformat()}; Art. 21(3)" if lifted is not None else "Art. 21(3)"
            return f"void: {given}, void since the objection on {block_day} ({law}); a fresh consent is needed"
        if self.status is ConsentStatus.WITHDRAWN:
            assert self.event is not None
            return f"withdrawn on {self.event.at.date().isoformat()} (Art. 7(3))"
        if self.status is ConsentStatus.RESTRICTED:
            return f"restricted (Art. 18): {given}; processing paused since {block_day}"
        return "never given"


def effective_consent(
    events: Iterable[ConsentEvent], blocks: Iterable[Block], purpose: str, channel: str
) -> EffectiveConsent:
    """The state of consent to `purpose` on `channel` that the rules decide.

    The same rule as `marketing_block_reason`: a consent is in force exactly when marketing on that channel
    may reach the person. An objection voids a consent given at or before it, even once lifted, until a fresh
    one (Art. 21(3)); a restriction pauses a consent in force without ending it (Art. 18(1), 18(3)).
    """
    blocks = list(blocks)
    latest = latest_event(events, purpose, channel)
    if latest is None:
        return EffectiveConsent(purpose, channel, ConsentStatus.NEVER_GIVEN, None, None)
    if latest.action is ConsentAction.WITHDRAWN:
        return EffectiveConsent(purpose, channel, ConsentStatus.WITHDRAWN, latest, None)
    objections = sorted(
        (b for b in blocks if b.kind is BlockKind.OBJECTION and b.purpose == purpose),
        key=lambda b: (b.set_at, b.id),
    )
    voiding = [b for b in objections if b.active] or [b for b in objections if b.set_at >= latest.at]
    if voiding:
        return EffectiveConsent(purpose, channel, ConsentStatus.VOID, latest, voiding[0])
    restriction = next((b for b in blocks if b.active and b.kind is BlockKind.RESTRICTION), None)
    if restriction is not None:
        return EffectiveConsent(purpose, channel, ConsentStatus.RESTRICTED, latest, restriction)
    return EffectiveConsent(purpose, channel, ConsentStatus.IN_FORCE, latest, None)


def effective_consents(
    policy: Policy, events: Iterable[ConsentEvent], blocks: Iterable[Block]
) -> list[EffectiveConsent]:
    """The state of every consent the policy asks for (each consent-based purpose, each channel), in its order.

    A purpose or channel the ledger holds but the policy no longer offers is shown too, after them: it was given.
    """
    events, blocks = list(events), list(blocks)
    targets = [
        (name, channel)
        for name, spec in policy.purposes.items()
        if spec.legal_basis is LegalBasis.CONSENT
        for channel in spec.channels
    ]
    targets += sorted({e.key for e in events} - set(targets))
    return [effective_consent(events, blocks, purpose, channel) for purpose, channel in targets]


# ---------------------------------------------------------------- checking input against the policy


def check_consent_target(policy: Policy, purpose: str, channel: str) -> None:
    """Consent is recorded only for a purpose the policy bases on consent (Art. 6(1)(a)), on a channel it offers."""
    spec = policy.purposes.get(purpose)
    if spec is None:
        raise invalid("purpose", f"unknown purpose {purpose!r}; purposes: {', '.join(policy.purposes)}")
    if spec.legal_basis is not LegalBasis.CONSENT:
        consented = [name for name, p in policy.purposes.items() if p.legal_basis is LegalBasis.CONSENT]
        raise invalid(
            "purpose",
            f"{purpose} is based on Art. {spec.legal_basis.value}, not on consent (Art. 6(1)(a)); "
            f"consent is recorded for: {', '.join(consented) or 'no purpose'}",
        )
    if channel not in spec.channels:
        raise invalid("channel", f"{channel!r} is not a channel of {purpose}; channels: {', '.join(spec.channels)}")


def check_method(method: str) -> ConsentMethod:
    try:
        return ConsentMethod(method)
    except ValueError:
        raise invalid("method", f"must be one of: {', '.join(m.value for m in ConsentMethod)}") from None


def check_notice(notice_sha256: str) -> str:
    """The sha256 of the notice the person saw: 64 hexadecimal digits (Art. 7(1): show what they agreed to)."""
    value = notice_sha256.strip().lower()
    if _SHA256.fullmatch(value) is None:
        raise invalid("notice", "must be the sha256 of the privacy notice shown: 64 hexadecimal digits")
    return value


def check_objection_purpose(policy: Policy, purpose: str) -> None:
    """Art. 21 gives a right to object to direct marketing (21(2)) and to processing based on 6(1)(e) or (f) (21(1))."""
    spec = policy.purposes.get(purpose)
    if spec is None:
        raise invalid("purpose", f"unknown purpose {purpose!r}; purposes: {', '.join(policy.purposes)}")
    direct_marketing = bool(spec.channels)
    if not direct_marketing and spec.legal_basis not in {LegalBasis.PUBLIC_TASK, LegalBasis.LEGITIMATE_INTERESTS}:
        raise invalid(
            "purpose",
            f"{purpose} is based on Art. {spec.legal_basis.value}; Art. 21 gives a right to object only to direct "
            "marketing and to processing based on Art. 6(1)(e) or (f)",
        )


def channel_field(policy: Policy, purpose: str, channel: str) -> str:
    """The policy field a message on `channel` for `purpose` goes to (the phone for sms, the email for email)."""
    wanted = CHANNEL_FIELD_TYPES.get(channel)
    for name, spec in policy.fields.items():
        if spec.type is wanted and purpose in spec.purposes:
            return name
    raise InvalidInput([FieldProblem("channel", f"the policy has no field that {purpose} by {channel} can reach")])
