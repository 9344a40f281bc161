"""The small forms on a customer's page: what each offers (purposes, channels, methods, open relationships)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from personvern.domain.consent import BlockKind, ConsentMethod
from personvern.domain.subjects import RelationshipType
from personvern.policy.schema import LegalBasis
from personvern.services.consent import Ledger
from personvern.services.register import SubjectView
from personvern.services.retention import today
from personvern.web.i18n import N_
from personvern.web.visit import Visit

# What the page says after a form of it sent the browser back (keys in the address, never a typed value).
SAID = {
    "consent_given": N_("The consent is recorded, with its receipt."),
    "consent_withdrawn": N_("The withdrawal is recorded: marketing on that channel stops at once."),
    "objected": N_("The objection is recorded: marketing for that purpose stops, whatever the consent says."),
    "restricted": N_("Processing is restricted: the data is only stored, and no message reaches the person."),
    "lifted": N_("The restriction is lifted."),
    "started": N_("The order or contract is registered."),
    "ended": N_("The order or contract is ended."),
}

# Each form's fields have names of their own, so that the forms can share the page (one id per field);
# the services name them plainly ("channel", "reason", …).
CONSENT_FIELDS = {"channel": "c_target", "purpose": "c_target", "method": "c_method", "notice": "consent"}
OBJECTION_FIELDS = {"purpose": "o_purpose", "reason": "o_reason"}
RESTRICTION_FIELDS = {"reason": "r_reason"}
START_FIELDS = {"type": "s_type", "on": "s_on", "ends": "s_ends", "description": "s_description"}
END_FIELDS = {"on": "e_on"}


@dataclass(frozen=True)
class Target:
    """A purpose and the channels consent to it is recorded on."""

    purpose: str
    channels: list[str]


def consent_targets(v: Visit) -> list[Target]:
    """Purposes based on consent (Art. 6(1)(a)) with their channels: what consent can be given to."""
    return [
        Target(key, list(p.channels))
        for key, p in v.ctx.policy.purposes.items()
        if p.legal_basis is LegalBasis.CONSENT and p.channels
    ]


def objectable(v: Visit) -> list[str]:
    """Art. 21: direct marketing (a purpose with channels) and processing based on Art. 6(1)(e) or (f)."""
    return [
        key
        for key, p in v.ctx.policy.purposes.items()
        if p.channels or p.legal_basis in (LegalBasis.PUBLIC_TASK, LegalBasis.LEGITIMATE_INTERESTS)
    ]


def choices(v: Visit, view: SubjectView, ledger: Ledger | None) -> dict[str, Any]:
    """What the page's forms offer, from the policy and the customer's own record."""
    day = today(v.ctx)
    open_ = [r for r in view.relationships if r.ended_on is None and (r.ends_on is None or r.ends_on > day)]
    restricted = ledger is not None and any(b.active and b.kind is BlockKind.RESTRICTION for b in ledger.blocks)
    return {
        "targets": consent_targets(v),
        "methods": [m.value for m in ConsentMethod],
        "objectable": objectable(v),
        "relationship_types": [t.value for t in RelationshipType],
        "open_relationships": open_,
        "restricted": restricted,
        "today": day.isoformat(),
    }
