"""`personvern policy check|show`: a valid policy is summarised, a broken one is refused with file:line and key path."""

from __future__ import annotations

import json

from tests.e2e.support import (
    KINDS,
    assert_ok,
    assert_refused,
    bundled_policy_path,
    bundled_policy_text,
    line_of,
    replace_in_table,
)

FIELDS = {
    "full_name",
    "phone",
    "email",
    "organisation_number",
    "organisation_name",
    "postal_address",
    "company_name",
    "national_id",
    "role",
    "billing_address",
    "invoice_reference",
}


def test_check_the_bundled_policy_file(pv):
    path = bundled_policy_path()
    result = pv("policy", "check", str(path))
    assert_ok(result)
    assert result.stdout.startswith("ok:")
    assert "3 kinds, 11 fields, 4 purposes, 4 recipients" in result.stdout
    data = pv.json("policy", "check", str(path))
    assert data["ok"] is True
    assert data["problems"] == []
    assert (data["version"], data["kinds"], data["fields"], data["purposes"], data["recipients"]) == (
        "2026.1",
        3,
        11,
        4,
        4,
    )


def test_check_without_a_file_checks_the_policy_in_force(pv_ready):
    data = pv_ready.json("policy", "check")
    assert data["ok"] is True
    assert data["source"] == "policy in force"
    assert data["version"] == "2026.1"


def test_check_a_broken_file_lists_every_problem_with_line_and_key_path(pv, tmp_path):
    text = replace_in_table(bundled_policy_text(), "fields.email", 'collected = "always"', 'collected = "sometimes"')
    text = replace_in_table(text, "purposes.marketing", 'legal_basis = "6(1)(a)"', 'legal_basis = "whim"')
    path = tmp_path / "broken.toml"
    path.write_text(text, "utf-8")
    result = pv("policy", "check", str(path))
    assert_refused(
        result,
        8,
        f"{path}:{line_of(text, 'sometimes')}: error: fields.email.collected",
        f"{path}:{line_of(text, 'whim')}: error: purposes.marketing.legal_basis",
    )
    assert pv("policy", "check", str(path), "--json").stdout == ""  # no JSON claims a broken policy is fine


def test_check_a_dangling_reference_names_its_line_and_key_path(pv, tmp_path):
    text = replace_in_table(
        bundled_policy_text(), "fields.role", 'kinds = ["business_representative"]', 'kinds = ["business_rep"]'
    )
    path = tmp_path / "dangling.toml"
    path.write_text(text, "utf-8")
    line = line_of(text, '"business_rep"')
    assert_refused(
        pv("policy", "check", str(path)),
        8,
        f"{path}:{line}",
        "fields.role.kinds[0]",
        "'business_rep'",
    )


def test_check_a_missing_required_key_names_the_key(pv, tmp_path):
    text = replace_in_table(bundled_policy_text(), "controller", 'city = "Oslo"\n', "")
    path = tmp_path / "no-city.toml"
    path.write_text(text, "utf-8")
    assert_refused(pv("policy", "check", str(path)), 8, "controller.city", "required key is missing")


def test_check_a_file_that_is_not_toml_names_the_line(pv, tmp_path):
    text = bundled_policy_text().replace('city = "Oslo"', "city = Oslo")
    path = tmp_path / "syntax.toml"
    path.write_text(text, "utf-8")
    assert_refused(pv("policy", "check", str(path)), 8, f"{path}:{line_of(text, 'city = Oslo')}", "not valid TOML")


def test_check_a_missing_file(pv, tmp_path):
    missing = tmp_path / "nowhere.toml"
    assert_refused(pv("policy", "check", str(missing)), 8, str(missing), "cannot read")


def test_show_for_a_person(pv_ready):
    result = pv_ready("policy", "show")
    assert_ok(result)
    for text in ("24 Center AS", "2026.1", "Datatilsynet", "Chief Executive Officer", "one-time customer", "HubSpot"):
        assert text in result.stdout
    for name in FIELDS:
        assert name in result.stdout


def test_show_in_norwegian(pv_ready):
    result = pv_ready("policy", "show", "--lang", "nb")
    assert_ok(result)
    for text in ("engangskunde", "avtalekunde", "administrerende direktør"):
        assert text in result.stdout
    assert "one-time customer" not in result.stdout


def test_show_as_json(pv_ready):
    data = pv_ready.json("policy", "show")
    assert data["source"] == "policy in force"
    assert len(data["sha256"]) == 64
    policy = data["policy"]
    assert policy["version"] == "2026.1"
    assert set(policy["kinds"]) == set(KINDS)
    assert set(policy["fields"]) == FIELDS
    assert set(policy["purposes"]) == {"service", "marketing", "bookkeeping", "b2b_contact"}
    assert set(policy["recipients"]) == {"auditor", "finago", "hubspot", "linkmobility"}
    assert policy["fields"]["phone"]["unique"] is True


def test_show_a_file(pv):
    data = pv.json("policy", "show", str(bundled_policy_path()))
    assert data["policy"]["controller"]["name"] == "24 Center AS"
    json.dumps(data)  # one JSON document, nothing else on stdout


def test_show_an_unknown_language_is_refused(pv_ready, unchanged):
    with unchanged():
        assert_refused(pv_ready("policy", "show", "--lang", "de"), 3, "lang", "nb or en")


def test_show_a_broken_file_is_refused(pv, tmp_path):
    text = bundled_policy_text().replace("[review]\n", '[review]\ncolour = "blue"\n')
    path = tmp_path / "broken.toml"
    path.write_text(text, "utf-8")
    assert_refused(pv("policy", "show", str(path)), 8, f"{path}:{line_of(text, 'colour')}", "review.colour")
