"""The record of processing activities (GDPR Art. 30(1)), from the policy, the roles and live figures; JSON, CSV, HTML.

The record is built as one JSON-ready document: keys in English, texts in the chosen language. CSV flattens
it to one fact per row; HTML lays it out with `record.html.j2`. It holds counts and the policy's words, never
a person's values.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from personvern.domain.access import ROLE_PERMISSIONS, ROLE_PURPOSES, STAFF_ROLES, Permission
from personvern.domain.consent import channel_field
from personvern.policy.loader import in_eea
from personvern.policy.schema import LegalBasis, Localised, Policy
from personvern.reports import spreadsheet
from personvern.reports.environment import LANGUAGES, capitalised, country_name, environment, join, month_name
from personvern.reports.notice import retention_words
from personvern.reports.notice_text import phrase as notice_phrase
from personvern.reports.record_text import PHRASES, phrase

FORMATS = ("json", "csv", "html")
LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Delivered:
    """What the outbox delivered of one kind: the live sign that a processor is in use."""

    kind: str
    recipient: str
    delivered: int
    last_at: datetime | None


def risk_level(likelihood: str, consequence: str) -> str:
    """A 3x3 matrix: the sum of the two ranks; 0-1 low, 2 medium, 3-4 high."""
    score = LEVELS.index(likelihood) + LEVELS.index(consequence)
    return "low" if score <= 1 else "medium" if score == 2 else "high"


def build_record(
    policy: Policy,
    policy_sha256: str,
    lang: str,
    at: datetime,
    subjects: Mapping[str, int],
    delivered: Sequence[Delivered],
) -> dict[str, Any]:
    """The whole record in one language, as a JSON-ready dict."""
    if lang not in LANGUAGES:
        raise ValueError(f"no record in {lang!r}; languages: {', '.join(LANGUAGES)}")

    def loc(text: Localised | None) -> str | None:
        return None if text is None else text.get(lang)

    def labels(names: Sequence[str], table: Mapping[str, Any]) -> list[str]:
        return [table[n].label.get(lang) for n in names if n in table]

    c = policy.controller
    contact = policy.privacy_contact
    by_recipient: dict[str, list[Delivered]] = {}
    for d in delivered:
        by_recipient.setdefault(d.recipient, []).append(d)
    used = [r for r in policy.recipients if by_recipient.get(r)]
    risks = [
        {
            "key": key,
            "description": loc(r.description),
            "likelihood": r.likelihood,
            "consequence": r.consequence,
            "level": risk_level(r.likelihood, r.consequence),
            "measures": loc(r.measures),
        }
        for key, r in policy.risks.items()
    ]
    overall = max((LEVELS.index(r["level"]) for r in risks), default=None)
    return {
        "title": phrase(lang, "title", controller=c.name),
        "language": lang,
        "generated_at": at.isoformat(),
        "policy": {"version": policy.version, "sha256": policy_sha256},
        "controller": {
            "name": c.name,
            "organisation_number": c.organisation_number,
            "address": f"{c.address}, {c.postal_code} {c.city}",
            "country": c.country,
            "email": c.email,
            "phone": c.phone,
            "website": c.website,
            "privacy_contact": {"role": contact.role.get(lang), "email": contact.email, "phone": contact.phone},
        },
        "purposes": [
            {
                "key": key,
                "label": p.label.get(lang),
                "description": p.description.get(lang),
                "legal_basis": p.legal_basis.value,
                "legal_basis_text": notice_phrase(lang, f"basis_{p.legal_basis.value}"),
                "legal_basis_detail": loc(p.legal_basis_detail),
                "channels": list(p.channels),
                "kinds": labels(p.kinds, policy.kinds),
            }
            for key, p in policy.purposes.items()
        ],
        "data_subjects": [
            {
                "key": key,
                "label": k.label.get(lang),
                "description": loc(k.description),
                "business": k.business,
                "source": loc(k.source),
                "count": int(subjects.get(key, 0)),
            }
            for key, k in policy.kinds.items()
        ],
        "personal_data": [
            {
                "key": key,
                "label": f.label.get(lang),
                "type": f.type.value,
                "collected": f.collected.value,
                "collected_text": phrase(lang, f"collected_{f.collected.value}"),
                "kinds": labels(f.kinds, policy.kinds),
                "purposes": labels(f.purposes, policy.purposes),
            }
            for key, f in policy.fields.items()
        ],
        "recipients": [
            {
                "key": key,
                "name": r.name,
                "category": r.category.value,
                "category_text": phrase(lang, f"category_{r.category.value}"),
                "description": r.description.get(lang),
                "purposes": labels(r.purposes, policy.purposes),
                "fields": labels(r.fields, policy.fields),
                "country": r.country,
                "country_name": country_name(r.country, lang),
                "outside_eea": not in_eea(r.country),
                "delivered": sum(d.delivered for d in by_recipient.get(key, [])),
                "last_delivered_at": _latest(by_recipient.get(key, [])),
                # Art. 28(3): the contract a processor acts under, and when it is next looked at.
                "agreement": None
                if r.agreement is None
                else {
                    "signed_on": r.agreement.signed_on.isoformat(),
                    "version": r.agreement.version,
                    "reference": r.agreement.reference,
                    "next_review": r.agreement.next_review.isoformat(),
                },
            }
            for key, r in policy.recipients.items()
        ],
        "transfers": [
            {
                "recipient": r.name,
                "country": r.country,
                "country_name": country_name(r.country, lang),
                "basis": loc(r.transfer_basis),
            }
            for r in policy.recipients.values()
            if not in_eea(r.country)
        ],
        "retention": {
            "rules": [
                {
                    "key": key,
                    "purpose": policy.purposes[rule.purpose].label.get(lang),
                    "kinds": labels(rule.kinds, policy.kinds),
                    "period": retention_words(rule, lang),
                    "description": rule.description.get(lang),
                    "fields": None if rule.fields is None else labels(rule.fields, policy.fields),
                }
                for key, rule in policy.retention.items()
            ],
            "message_texts": None if policy.messages is None else policy.messages.keep_text.describe(lang),
            "undelivered": policy.undelivered.keep.describe(lang),
            "undelivered_deletions": policy.undelivered.keep_deletion.describe(lang),
            "unmatched_requests": policy.requests.keep_unmatched.describe(lang),
            "answers": policy.requests.keep_answer.describe(lang),
            "when_no_reason": {
                policy.kinds[kind].label.get(lang): phrase(lang, action.value)
                for kind, action in policy.archive.on_expiry.items()
                if kind in policy.kinds
            },
        },
        "archive": {
            "description": policy.archive.description.get(lang),
            "readable_by": labels(policy.archive.readable_by, policy.roles),
            "fields": labels(policy.archive.fields, policy.fields),
        },
        "review": {
            "description": policy.review.description.get(lang),
            "by": phrase(
                lang,
                "review_by",
                month=month_name(policy.review.month, lang),
                role=join(labels([policy.review.signed_by], policy.roles), lang),
            ),
        },
        "security": {
            "measures": loc(policy.security.measures) if policy.security else None,
            "breach_handling": loc(policy.security.breach_handling) if policy.security else None,
        },
        "website_cookies": _website_cookies(policy, lang),
        "roles": _roles(policy, lang),
        "risks": risks,
        "overall_risk": None if overall is None else LEVELS[overall],
        "figures": {
            "subjects": {key: int(subjects.get(key, 0)) for key in policy.kinds},
            "total_subjects": sum(int(n) for n in subjects.values()),
            "deliveries": [
                {
                    "kind": d.kind,
                    "recipient": d.recipient,
                    "delivered": d.delivered,
                    "last_at": d.last_at.isoformat() if d.last_at else None,
                }
                for d in delivered
            ],
            "processors_used": [policy.recipients[r].name for r in used],
        },
    }


def _website_cookies(policy: Policy, lang: str) -> list[dict[str, Any]]:
    """The website's cookie categories: necessary ones exempt from consent, the rest on consent (ekomloven § 2-7b)."""
    if policy.cookies is None:
        return []
    return [
        {
            "key": key,
            "label": c.label.get(lang),
            "purpose": c.description.get(lang),
            "legal_basis": phrase(lang, "cookie_exempt" if c.necessary else "cookie_consent"),
            "cookies": [k.name for k in c.cookies],
            "providers": sorted({k.provider for k in c.cookies}),
            "choices_kept": policy.cookies.keep.describe(lang),
        }
        for key, c in policy.cookies.categories.items()
    ]


def _latest(rows: list[Delivered]) -> str | None:
    last = max((d.last_at for d in rows if d.last_at is not None), default=None)
    return last.isoformat() if last else None


def _roles(policy: Policy, lang: str) -> list[dict[str, Any]]:
    """Each internal role, what it may do and which data it reaches (domain/access.py enforces it)."""
    out = []
    for role in dict.fromkeys([*policy.roles, *STAFF_ROLES]):
        permissions = ROLE_PERMISSIONS.get(role, frozenset())
        spec = policy.roles.get(role)
        if Permission.REGISTER_READ in permissions:
            limit = ROLE_PURPOSES.get(role)
            fields = [f.label.get(lang) for f in policy.fields.values() if limit is None or limit & set(f.purposes)]
            reaches = phrase(lang, "reaches_all") if limit is None else join(fields, lang)
        elif Permission.AUDIENCE_READ in permissions:
            channel_fields = {
                channel_field(policy, key, channel)
                for key, p in policy.purposes.items()
                if p.legal_basis is LegalBasis.CONSENT
                for channel in p.channels
            }
            fields = [policy.fields[f].label.get(lang) for f in policy.fields if f in channel_fields]
            reaches = phrase(lang, "reaches_audience", fields=join(fields, lang))
        else:
            fields = []
            reaches = phrase(lang, "reaches_none")
        if Permission.ARCHIVE_READ in permissions and role in policy.archive.readable_by:
            reaches += "; " + phrase(lang, "reaches_archive")
        out.append(
            {
                "key": role,
                "label": spec.label.get(lang) if spec else role,
                "description": spec.description.get(lang) if spec else None,
                "permissions": sorted(p.value for p in permissions),
                "may": [_may(p, lang) for p in Permission if p in permissions],
                "fields": fields,
                "reaches": capitalised(reaches),
            }
        )
    return out


def _may(permission: Permission, lang: str) -> str:
    key = f"perm_{permission.value}"
    return phrase(lang, key) if key in PHRASES else permission.value.replace(".", " ")


# ---------------------------------------------------------------- the three formats


def as_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, indent=2) + "\n"


def _rows(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        return [row for key, v in value.items() for row in _rows(f"{prefix}.{key}" if prefix else str(key), v)]
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [
            row
            for i, v in enumerate(value)
            for row in _rows(f"{prefix}.{v.get('key', i)}" if isinstance(v, Mapping) else prefix, v)
        ]
    if isinstance(value, list):
        return [(prefix, "; ".join(str(v) for v in value))]
    if value is None:
        return [(prefix, "")]
    if isinstance(value, bool):
        return [(prefix, "yes" if value else "no")]
    return [(prefix, str(value))]


def as_csv(record: Mapping[str, Any]) -> str:
    """One fact per row: section, item (a key or index), attribute, value."""
    out = io.StringIO()
    writer = spreadsheet.writer(out, lineterminator="\n")
    writer.writerow(["section", "item", "attribute", "value"])
    for path, value in _rows("", record):
        parts = path.split(".")
        section, rest = parts[0], parts[1:]
        item = ".".join(rest[:-1]) if len(rest) > 1 else ""
        attribute = rest[-1] if rest else ""
        writer.writerow([section, item, attribute, value])
    return out.getvalue()


def as_html(record: Mapping[str, Any]) -> str:
    lang = str(record["language"])

    def t(key: str, **values: str) -> str:
        return phrase(lang, key, **values)

    return environment().get_template("record.html.j2").render(r=record, t=t, join=lambda xs: join(xs, lang))


def render_record(record: Mapping[str, Any], fmt: str) -> str:
    if fmt == "json":
        return as_json(record)
    if fmt == "csv":
        return as_csv(record)
    if fmt == "html":
        return as_html(record)
    raise ValueError(f"no record as {fmt!r}; formats: {', '.join(FORMATS)}")
