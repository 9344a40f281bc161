"""The annual review's report as HTML and JSON: record ids and the reason that keeps each, no personal values."""

from __future__ import annotations

from typing import Any

from personvern.policy.schema import Policy
from personvern.reports.environment import environment


def render_html(
    policy: Policy, report: dict[str, Any], review_id: str, sha256: str, lang: str, signed: Any = None
) -> str:
    """The review as a page for the person who signs it; the JSON file is the signed text itself."""
    template = environment().get_template("review.html.j2")
    rules = {key: rule.description.get(lang) for key, rule in policy.retention.items()}
    rules["archive"] = policy.archive.description.get(lang)
    return template.render(
        policy=policy,
        report=report,
        review_id=review_id,
        sha256=sha256,
        lang=lang,
        rules=rules,
        signed=signed,
    )
