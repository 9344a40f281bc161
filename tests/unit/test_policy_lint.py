"""The Art. 13/14 lint: the bundled policy passes, the seed's literal text does not, and each gap is one finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from personvern.policy.lint import CheckResult, check_file, check_text
from personvern.policy.loader import PolicyInvalid, Problem, load_policy

BUNDLED = load_policy().text
SEED = Path(__file__).resolve().parents[1] / "data" / "seed-policy.toml"


def edit(text: str, old: str, new: str, *, after: str | None = None) -> str:
    at = text.index(old, text.index(after) if after else 0)
    return text[:at] + new + text[at + len(old) :]


def at(result: CheckResult, path: str) -> Problem:
    found = [p for p in result.problems if p.path == path]
    assert len(found) == 1, result.problems
    return found[0]


def test_the_bundled_policy_has_no_finding_at_all() -> None:
    result = check_text(BUNDLED, "bundled")
    assert result.ok
    assert result.problems == []


def test_the_seed_policy_as_published_has_the_gaps_the_issue_names() -> None:
    result = check_file(SEED)
    assert not result.ok
    fields = at(result, "fields")
    assert (fields.severity, fields.article) == ("error", "14(1)(d), 30(1)(c)")
    assert "no category of personal data" in fields.message
    for purpose in ("service", "marketing"):
        basis = at(result, f"purposes.{purpose}.legal_basis")
        assert (basis.severity, basis.article) == ("error", "13(1)(c), 6(1)")
        assert "no legal basis" in basis.message
    hubspot = at(result, "recipients.hubspot")
    assert (hubspot.severity, hubspot.article) == ("error", "13(1)(f), 44-49")
    assert "HubSpot, Inc." in hubspot.message and "US" in hubspot.message
    contact = at(result, "privacy_contact.email")
    assert contact.severity == "error" and contact.article is not None and "13(1)(a)" in contact.article
    for problem in result.problems:
        assert problem.file == str(SEED)
        assert problem.line is not None, problem


def test_every_lint_finding_cites_an_article_and_the_line_of_its_key() -> None:
    result = check_file(SEED)
    lines = SEED.read_text("utf-8").splitlines()
    linted = [p for p in result.problems if p.article]
    assert len(linted) >= 8
    for p in linted:
        assert p.line is not None
        head = p.path.split(".")[0]
        assert head in lines[p.line - 1] or "=" in lines[p.line - 1], p


def test_a_recipient_outside_the_eea_without_basis_is_one_error_with_the_article() -> None:
    text = edit(BUNDLED, "transfer_basis = {", "# transfer_basis = {", after="[recipients.hubspot]")
    result = check_text(text, "p.toml")
    problem = at(result, "recipients.hubspot.country")
    assert (problem.severity, problem.article) == ("error", "13(1)(f), 44-49")
    assert result.loaded is None  # the loader refuses it too; the lint's finding stands for both


def test_a_known_vendor_said_to_be_in_the_eea_is_a_warning() -> None:
    text = edit(BUNDLED, 'country = "US"', 'country = "NO"', after="[recipients.hubspot]")
    text = edit(text, "transfer_basis = {", "# transfer_basis = {", after="[recipients.hubspot]")
    result = check_text(text, "p.toml")
    problem = at(result, "recipients.hubspot.country")
    assert problem.severity == "warning"
    assert result.ok  # a warning does not fail the check


def test_legitimate_interests_must_be_named() -> None:
    text = edit(BUNDLED, "legal_basis_detail = ", "# legal_basis_detail = ", after="[purposes.b2b_contact]")
    problem = at(check_text(text, "p.toml"), "purposes.b2b_contact.legal_basis_detail")
    assert (problem.severity, problem.article) == ("error", "13(1)(d)")


def test_a_legal_obligation_should_name_its_law() -> None:
    text = edit(BUNDLED, "legal_basis_detail = ", "# legal_basis_detail = ", after="[purposes.bookkeeping]")
    result = check_text(text, "p.toml")
    problem = at(result, "purposes.bookkeeping.legal_basis_detail")
    assert (problem.severity, problem.article) == ("warning", "6(3), 13(1)(c)")
    assert result.ok


def test_a_recipient_may_only_receive_fields_that_serve_its_purposes() -> None:
    text = edit(BUNDLED, 'fields = ["phone"]', 'fields = ["phone", "role"]', after="[recipients.linkmobility]")
    problem = at(check_text(text, "p.toml"), "recipients.linkmobility.fields[1]")
    assert (problem.severity, problem.article) == ("error", "5(1)(b), 13(1)(e)")
    assert "'role'" in problem.message


def test_consent_needs_a_retention_rule_that_ends_with_it() -> None:
    text = edit(BUNDLED, 'holds_while = "consent_active"', 'holds_while = "always"', after="[retention.marketing")
    problem = at(check_text(text, "p.toml"), "purposes.marketing")
    assert (problem.severity, problem.article) == ("warning", "7(3), 13(2)(a)")


def test_a_purpose_no_field_serves_is_a_warning() -> None:
    text = edit(
        BUNDLED,
        "[purposes.service]",
        '[purposes.lottery]\nlabel = { nb = "lotteri", en = "lottery" }\n'
        'description = { nb = "Trekning.", en = "A draw." }\nlegal_basis = "6(1)(b)"\n'
        'kinds = ["one_time_customer"]\n\n[purposes.service]',
    )
    problem = at(check_text(text, "p.toml"), "purposes.lottery")
    assert problem.severity == "warning" and "no field serves it" in problem.message


def test_the_optional_accountability_texts_are_warnings_when_missing() -> None:
    text = BUNDLED[
        : BUNDLED.index("# ---------------------------------------------------------------- the privacy notice")
    ]
    text = text.replace("[risks.", "[old_risks.").split("[old_risks.")[0]
    text = edit(text, "source = {", "# source = {", after="[kinds.business_representative]")
    result = check_text(text, "p.toml")
    assert result.ok
    expected = {
        "mandatory": "13(2)(e)",
        "security": "30(1)(g), 32, 33-34",
        "risks": "24(1), 32(2)",
        "kinds.business_representative.source": "14(2)(f)",
    }
    assert {p.path: p.article for p in result.warnings} == expected


def test_a_missing_supervisory_authority_is_an_error() -> None:
    start = BUNDLED.index("[supervisory_authority]")
    end = BUNDLED.index("# ----", start)
    result = check_text(BUNDLED[:start] + BUNDLED[end:], "p.toml")
    problem = at(result, "supervisory_authority")
    assert (problem.severity, problem.article) == ("error", "13(2)(d), 77")


def test_text_that_is_not_toml_is_refused_with_its_line() -> None:
    with pytest.raises(PolicyInvalid) as info:
        check_text(BUNDLED.replace('city = "Oslo"', "city = Oslo"), "p.toml")
    assert "not valid TOML" in str(info.value)


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalid, match="cannot read"):
        check_file(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("navn = 'Østensjø'".encode("latin-1"))
    with pytest.raises(PolicyInvalid, match="not UTF-8"):
        check_file(bad)


PROSPECT_RULE = """[retention.prospect]
purpose = "service"
kinds = ["one_time_customer", "contract_customer", "business_representative"]
holds_while = "prospect"
counts_from = "received"
keep = { days = 90 }
"""


def test_a_kind_whose_people_are_due_the_day_they_are_added_is_flagged() -> None:
    assert PROSPECT_RULE in BUNDLED
    start = BUNDLED.index(PROSPECT_RULE)
    result = check_text(BUNDLED[:start] + BUNDLED[BUNDLED.index("\n\n", start) + 2 :], "p")
    assert result.ok  # a warning: the policy still loads, and `init` prints it
    for kind in ("one_time_customer", "contract_customer", "business_representative"):
        found = at(result, f"kinds.{kind}")
        assert (found.severity, found.article) == ("warning", "6(1)(b), 13(2)(a)")
        assert "due for archiving or erasure the day they are added" in found.message and "prospect" in found.message
    # A rule for some kinds only leaves the others flagged; a period of nothing keeps nobody.
    some = BUNDLED.replace(PROSPECT_RULE, PROSPECT_RULE.replace('"contract_customer", "business_representative"', ""))
    flagged = [p.path for p in check_text(some, "p").warnings]
    assert flagged == ["kinds.contract_customer", "kinds.business_representative"]
    nothing = BUNDLED.replace(PROSPECT_RULE, PROSPECT_RULE.replace("days = 90", "days = 0"))
    assert len(check_text(nothing, "p").warnings) == 3
    # A rule held always from receipt keeps newcomers as well (some policies keep every contact a year).
    always = BUNDLED.replace(PROSPECT_RULE, PROSPECT_RULE.replace('holds_while = "prospect"', 'holds_while = "always"'))
    assert check_text(always, "p").problems == []
