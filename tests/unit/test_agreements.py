"""Processor agreements (Art. 28(3)): in the policy, warned of by `policy check`, listed by the record, due soon."""

from __future__ import annotations

from datetime import date

import pytest

from personvern.domain.agreements import AgreementState, agreements, needing_attention
from personvern.domain.errors import Forbidden
from personvern.policy.lint import check_text
from personvern.policy.loader import PolicyInvalid, load_policy, parse_policy
from personvern.policy.schema import Policy
from personvern.services import agreements as agreement_service
from personvern.services import record
from personvern.services.context import Context
from tests.unit.fakes import FixedClock

BUNDLED = load_policy().text
HUBSPOT_AGREEMENT = next(
    line + "\n" for line in BUNDLED.splitlines() if line.startswith("agreement = { signed_on = 2024-03-01")
)


def test_each_processor_of_the_bundled_policy_has_an_agreement(policy: Policy) -> None:
    found = {a.recipient: a.state for a in agreements(policy, date(2026, 11, 25))}
    assert found == dict.fromkeys(("finago", "hubspot", "linkmobility"), AgreementState.CURRENT)  # not the auditor
    assert policy.recipients["hubspot"].agreement is not None
    assert policy.recipients["hubspot"].agreement.version == "HubSpot DPA 2024"


def test_due_within_a_month_past_review_and_missing(policy: Policy) -> None:
    assert needing_attention(policy, date(2026, 11, 25)) == []
    soon = {a.recipient: (a.state, a.days_left) for a in needing_attention(policy, date(2027, 5, 10))}
    assert soon == {"finago": (AgreementState.DUE, 22)}
    late = needing_attention(policy, date(2027, 9, 15))
    assert [(a.recipient, a.state) for a in late] == [
        ("finago", AgreementState.OVERDUE),
        ("hubspot", AgreementState.OVERDUE),
        ("linkmobility", AgreementState.DUE),
    ]
    without = parse_policy(BUNDLED.replace(HUBSPOT_AGREEMENT, ""), "p.toml").policy
    assert [(a.recipient, a.state) for a in needing_attention(without, date(2026, 11, 25))] == [
        ("hubspot", AgreementState.MISSING)
    ]


def test_policy_check_warns_of_a_processor_without_one_or_past_its_review() -> None:
    assert check_text(BUNDLED, "p.toml", date(2026, 11, 25)).problems == []
    result = check_text(BUNDLED.replace(HUBSPOT_AGREEMENT, ""), "p.toml", date(2026, 11, 25))
    [missing] = result.problems
    assert (missing.path, missing.severity, missing.article) == ("recipients.hubspot.agreement", "warning", "28(3)")
    assert result.ok  # a warning, not an error
    [late] = check_text(BUNDLED, "p.toml", date(2027, 6, 2)).problems
    assert (late.path, late.severity) == ("recipients.finago.agreement.next_review", "warning")
    assert "was due for review on 2027-06-01" in late.message


def test_an_agreement_reviewed_before_it_was_signed_is_refused() -> None:
    bad = BUNDLED.replace("signed_on = 2024-03-01", "signed_on = 2028-03-01")
    with pytest.raises(PolicyInvalid, match="next_review must come after signed_on"):
        parse_policy(bad, "p.toml")


def test_the_record_of_processing_lists_each_agreement(ceo: Context) -> None:
    data, html = record.record_of_processing(ceo, "en", "html")
    found = {r["key"]: r["agreement"] for r in data["recipients"]}
    assert found["auditor"] is None
    assert found["hubspot"] == {
        "signed_on": "2024-03-01",
        "version": "HubSpot DPA 2024",
        "reference": "avtalearkiv/databehandler/hubspot-dpa-2024.pdf",
        "next_review": "2027-09-01",
    }
    assert "version HubSpot DPA 2024, signed 2024-03-01" in html
    _data, csv_text = record.record_of_processing(ceo, "en", "csv")
    assert "recipients,hubspot.agreement,next_review,2027-09-01" in csv_text


def test_the_dashboards_function_and_the_workers_reminder(ceo: Context, clock: FixedClock, as_role) -> None:
    assert agreement_service.agreements_due(ceo) == [] and agreement_service.reminders(ceo) == []
    clock.at = clock.at.replace(year=2027, month=5, day=10)
    assert [a.recipient for a in agreement_service.agreements_due(ceo)] == ["finago"]
    assert agreement_service.reminders(ceo) == [
        "the processor agreement with Accountor Finago is due for review on 2027-06-01"
    ]
    assert [a.recipient for a in agreement_service.agreements_due(as_role("auditor"))] == ["finago"]
    with pytest.raises(Forbidden):
        agreement_service.agreements_due(as_role("marketing"))
    assert agreement_service.reminders(as_role("marketing")) == []
