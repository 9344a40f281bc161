"""The forms on a customer's page: consent given and withdrawn, objection, restriction, orders and contracts."""

from __future__ import annotations

from personvern.services import register
from tests.e2e.support import ONE_TIME, count, values


def _add(console, n=1, order=False):
    ctx = console.runtime.context()
    sid = register.add_subject(ctx, ONE_TIME, values(n), {}).id
    if order:
        register.start_relationship(ctx, sid, "order", description="Key card")
    return sid


def test_consent_is_given_and_withdrawn_with_its_method_and_refused_without(console):
    kari = _add(console)
    page = console.signed_in("staff")
    shown = page.get(f"/console/subjects/{kari}")
    for name in ("c_target", "c_method"):
        assert f'id="f-{name}"' in shown.text and f'for="f-{name}"' in shown.text, name
    assert 'value="marketing:sms"' in shown.text and 'value="marketing:email"' in shown.text
    before = count(console.pv.db_url, "consent_events")
    # The method is required, as the command line requires --method: the receipt records it (Art. 7(1)).
    no_method = page.post(f"/console/subjects/{kari}/consent", {"c_target": "marketing:sms", "action": "give"})
    assert no_method.status_code == 422 and 'id="f-c_method-error"' in no_method.text
    assert 'href="#f-c_method"' in no_method.text  # the summary leads to the field
    assert 'value="marketing:sms" selected' in no_method.text  # what was chosen is kept
    bad = page.post(
        f"/console/subjects/{kari}/consent", {"c_target": "service:sms", "c_method": "phone", "action": "give"}
    )
    assert bad.status_code == 422 and 'id="f-c_target-error"' in bad.text and "not on consent" in bad.text
    odd = page.post(
        f"/console/subjects/{kari}/consent", {"c_target": "marketing:sms", "c_method": "telepathy", "action": "give"}
    )
    assert odd.status_code == 422 and 'id="f-c_method-error"' in odd.text
    nothing = page.post(
        f"/console/subjects/{kari}/consent", {"c_target": "marketing:sms", "c_method": "phone", "action": "withdraw"}
    )
    assert nothing.status_code == 409 and "no consent to marketing by sms to withdraw" in nothing.text
    assert count(console.pv.db_url, "consent_events") == before
    given = page.post(
        f"/console/subjects/{kari}/consent", {"c_target": "marketing:sms", "c_method": "phone", "action": "give"}
    )
    assert given.status_code == 303
    after = page.follow(given)
    assert "The consent is recorded" in after.text and "in force" in after.text
    withdrawn = page.post(
        f"/console/subjects/{kari}/consent", {"c_target": "marketing:sms", "c_method": "web", "action": "withdraw"}
    )
    assert withdrawn.status_code == 303 and "marketing on that channel stops" in page.follow(withdrawn).text
    assert count(console.pv.db_url, "consent_events") == before + 2
    auditor = console.signed_in("auditor")
    shown = auditor.get(f"/console/subjects/{kari}")
    assert shown.status_code == 200 and 'id="f-c_method"' not in shown.text  # not offered
    refused = auditor.post(
        f"/console/subjects/{kari}/consent", {"c_target": "marketing:sms", "c_method": "phone", "action": "give"}
    )
    assert refused.status_code == 403 and "may not record consents" in refused.text
    assert count(console.pv.db_url, "consent_events") == before + 2


def test_an_objection_and_a_restriction_set_and_lifted(console):
    kari = _add(console)
    page = console.signed_in("staff")
    blocks = count(console.pv.db_url, "subject_blocks")
    long = page.post(f"/console/subjects/{kari}/objection", {"o_purpose": "marketing", "o_reason": "x" * 501})
    assert long.status_code == 422 and 'id="f-o_reason-error"' in long.text
    unknown = page.post(f"/console/subjects/{kari}/objection", {"o_purpose": "service"})
    assert unknown.status_code == 422 and 'id="f-o_purpose-error"' in unknown.text
    assert count(console.pv.db_url, "subject_blocks") == blocks
    objected = page.post(f"/console/subjects/{kari}/objection", {"o_purpose": "marketing", "o_reason": "on the phone"})
    assert objected.status_code == 303 and "The objection is recorded" in page.follow(objected).text
    twice = page.post(f"/console/subjects/{kari}/objection", {"o_purpose": "marketing"})
    assert twice.status_code == 409 and "already objects to marketing" in twice.text
    shown = page.get(f"/console/subjects/{kari}")
    assert "Restrict processing" in shown.text
    restricted = page.post(f"/console/subjects/{kari}/restriction", {"action": "restrict", "r_reason": "disputed"})
    assert restricted.status_code == 303
    shown = page.follow(restricted)
    assert "Processing is restricted" in shown.text and "Lift the restriction" in shown.text
    again = page.post(f"/console/subjects/{kari}/restriction", {"action": "restrict"})
    assert again.status_code == 409 and "already restricted" in again.text
    lifted = page.post(f"/console/subjects/{kari}/restriction", {"action": "lift"})
    assert lifted.status_code == 303 and "The restriction is lifted." in page.follow(lifted).text
    nothing = page.post(f"/console/subjects/{kari}/restriction", {"action": "lift"})
    assert nothing.status_code == 409 and "nothing to lift" in nothing.text
    assert count(console.pv.db_url, "subject_blocks") == blocks + 2
    refused = console.signed_in("auditor").post(f"/console/subjects/{kari}/restriction", {"action": "restrict"})
    assert refused.status_code == 403
    assert count(console.pv.db_url, "subject_blocks") == blocks + 2


def test_orders_and_contracts_are_started_and_ended_by_field(console):
    kari = _add(console)
    other = _add(console, 2, order=True)
    page = console.signed_in("staff")
    before = count(console.pv.db_url, "relationships")
    bad_day = page.post(f"/console/subjects/{kari}/relationships", {"s_type": "order", "s_on": "25.11.2026"})
    assert bad_day.status_code == 422 and 'id="f-s_on-error"' in bad_day.text
    order_end = page.post(f"/console/subjects/{kari}/relationships", {"s_type": "order", "s_ends": "2027-01-01"})
    assert order_end.status_code == 422 and 'id="f-s_ends-error"' in order_end.text
    assert "only a contract states its end" in order_end.text
    assert count(console.pv.db_url, "relationships") == before
    started = page.post(
        f"/console/subjects/{kari}/relationships",
        {"s_type": "contract", "s_on": "2026-11-01", "s_ends": "2027-11-01", "s_description": "Office 12"},
    )
    assert started.status_code == 303
    shown = page.follow(started)
    assert "The order or contract is registered." in shown.text and "Office 12" in shown.text
    assert count(console.pv.db_url, "relationships") == before + 1
    rel_id = register.show_subject(console.runtime.context(), subject_id=kari).relationships[0].id
    assert f'<option value="{rel_id}"' in shown.text
    foreign = register.show_subject(console.runtime.context(), subject_id=other).relationships[0].id
    # Another customer's order is not this page's to end, whatever the form says.
    not_theirs = page.post(f"/console/subjects/{kari}/relationships/end", {"e_relationship": foreign})
    assert not_theirs.status_code == 422 and 'id="f-e_relationship-error"' in not_theirs.text
    end = f"/console/subjects/{kari}/relationships/end"
    too_early = page.post(end, {"e_relationship": rel_id, "e_on": "2026-10-01"})
    assert too_early.status_code == 422 and 'id="f-e_on-error"' in too_early.text
    ended = page.post(end, {"e_relationship": rel_id, "e_on": "2026-11-20"})
    assert ended.status_code == 303 and "The order or contract is ended." in page.follow(ended).text
    again = page.post(end, {"e_relationship": rel_id})
    assert again.status_code == 409 and "has already ended" in again.text
    theirs = register.show_subject(console.runtime.context(), subject_id=other).relationships
    assert [r.ended_on for r in theirs] == [None]
    refused = console.signed_in("auditor").post(f"/console/subjects/{kari}/relationships", {"s_type": "order"})
    assert refused.status_code == 403 and "may not add or change customers" in refused.text
    assert count(console.pv.db_url, "relationships") == before + 1


def test_the_forms_are_in_norwegian_for_a_norwegian_user(console):
    kari = _add(console)
    page = console.signed_in("staff", language="nb")
    shown = page.get(f"/console/subjects/{kari}")
    assert "Samtykke gitt" in shown.text and "Registrer en bestilling eller en kontrakt" in shown.text
