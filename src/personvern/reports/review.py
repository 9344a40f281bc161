"""The annual review's report as HTML and JSON: record ids and the reason that keeps each, no personal values."""

from __future__ import annotations

from typing import Any

from personvern.policy.schema import Policy
from personvern.reports.environment import capitalised, environment, join

# (nb, en) — the review's own words for what is not named in the policy: the retention engine's reasons that
# are no rule of the policy, and what happens to a record without a reason.
PHRASES: dict[str, tuple[str, str]] = {
    "reason_none": ("Ingen grunn", "No reason"),
    "reason_open_request": ("En henvendelse om rettigheter er under behandling", "An open data subject request"),
    "reason_restriction": ("Behandlingen er begrenset (artikkel 18)", "Processing restricted (Article 18)"),
    "reason_legal_hold": ("Lovpålagt oppbevaring", "Kept as the law requires"),
    "reason_archive": ("Arkivert etter personvernreglene", "Archived as the policy says"),
    "action_archive": ("Arkiveres", "Archived"),
    "action_erase": ("Slettes", "Erased"),
    "scope_all": ("Alle opplysninger", "All data"),
}


def _phrase(lang: str, key: str) -> str:
    nb, en = PHRASES[key]
    return en if lang == "en" else nb


def labels(policy: Policy, lang: str) -> dict[str, dict[str, str]]:
    """Every code the report holds (kinds, reasons, fields, actions), as the reader of `lang` says it."""
    reasons = {key: _phrase(lang, key) for key in PHRASES if key.startswith("reason_")}
    reasons = {key.removeprefix("reason_"): text for key, text in reasons.items()}
    for key, rule in policy.retention.items():
        # A retention rule keeps the data for its purpose; the purpose's label is the reason in words.
        purpose = policy.purposes.get(rule.purpose)
        reasons[key] = capitalised(purpose.label.get(lang)) if purpose else key
    return {
        "kind": {key: kind.label.get(lang) for key, kind in policy.kinds.items()},
        "reason": reasons,
        "field": {key: spec.label.get(lang) for key, spec in policy.fields.items()},
        "action": {a: _phrase(lang, f"action_{a}") for a in ("archive", "erase")},
        "scope_all": {"all": _phrase(lang, "scope_all")},
    }


def render_html(
    policy: Policy, report: dict[str, Any], review_id: str, sha256: str, lang: str, signed: Any = None
) -> str:
    """The review as a page for the person who signs it; the JSON file is the signed text itself."""
    template = environment().get_template("review.html.j2")
    rules = {key: rule.description.get(lang) for key, rule in policy.retention.items()}
    rules["archive"] = policy.archive.description.get(lang)
    named = labels(policy, lang)

    def scope(value: str | list[str]) -> str:
        if value == "all":
            return named["scope_all"]["all"]
        return join((named["field"].get(f, f) for f in value), lang)

    return template.render(
        policy=policy,
        report=report,
        review_id=review_id,
        sha256=sha256,
        lang=lang,
        rules=rules,
        signed=signed,
        kind=lambda k: named["kind"].get(k, k),
        reason=lambda r: named["reason"].get(r, r),
        action=lambda a: named["action"].get(a, a) if a else "",
        scope=scope,
    )
