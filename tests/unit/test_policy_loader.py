"""The policy loader: the bundled 24 Center policy, and every kind of broken policy reported with file:line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from personvern.policy.loader import LoadedPolicy, PolicyInvalid, Problem, load_policy, parse_policy
from personvern.policy.schema import Collected, LegalBasis, RetentionStart, key_path

BUNDLED = load_policy().text
ALWAYS = {"full_name", "phone", "email", "organisation_number", "organisation_name"}
WHEN_NEEDED = {"postal_address", "company_name", "national_id", "role", "billing_address", "invoice_reference"}
KINDS = {"one_time_customer", "contract_customer", "business_representative"}


def edit(text: str, old: str, new: str, *, after: str | None = None) -> tuple[str, int]:
    """`text` with the first `old` (after the anchor `after`) replaced by `new`, and the line `old` started on."""
    at = text.index(old, text.index(after) if after else 0)
    return text[:at] + new + text[at + len(old) :], text.count("\n", 0, at) + 1


def line_of(text: str, needle: str, *, after: str | None = None) -> int:
    return edit(text, needle, needle, after=after)[1]


def problems(text: str) -> list[Problem]:
    with pytest.raises(PolicyInvalid) as info:
        parse_policy(text, "p.toml")
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return info.value.problems


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].file == "p.toml"
    assert found[0].severity == "error"
    return found[0]


# ------------------------------------------------------------------ the bundled policy


def test_bundled_policy_loads_with_its_source_and_hash(loaded: LoadedPolicy) -> None:
    assert loaded.source == "bundled:24center.toml"
    assert loaded.sha256 == hashlib.sha256(loaded.text.encode("utf-8")).hexdigest()
    assert parse_policy(loaded.text).policy == loaded.policy


def test_bundled_policy_uses_the_names_fixed_in_the_design(loaded: LoadedPolicy) -> None:
    policy = loaded.policy
    assert set(policy.kinds) == KINDS
    assert set(policy.fields) == ALWAYS | WHEN_NEEDED
    assert {n for n, f in policy.fields.items() if f.collected is not Collected.WHEN_NEEDED} == ALWAYS
    assert {n for n, f in policy.fields.items() if f.collected is Collected.WHEN_NEEDED} == WHEN_NEEDED
    assert set(policy.purposes) == {"service", "marketing", "bookkeeping", "b2b_contact"}
    assert policy.purposes["marketing"].channels == ["sms", "email"]
    assert set(policy.recipients) == {"auditor", "finago", "hubspot", "linkmobility"}
    assert set(policy.roles) == {"ceo", "staff", "marketing", "auditor"}


def test_bundled_policy_encodes_the_company_rules(loaded: LoadedPolicy) -> None:
    policy = loaded.policy
    required = {kind: {n for n, f in policy.fields_for(kind).items() if f.required} for kind in KINDS}
    assert required["one_time_customer"] == {"full_name", "phone", "email"}
    assert required["contract_customer"] == ALWAYS
    assert required["business_representative"] == ALWAYS
    assert {n for n, f in policy.fields.items() if f.unique} == {"phone", "email", "national_id"}
    assert {n: p.legal_basis for n, p in policy.purposes.items()} == {
        "service": LegalBasis.CONTRACT,
        "marketing": LegalBasis.CONSENT,
        "bookkeeping": LegalBasis.LEGAL_OBLIGATION,
        "b2b_contact": LegalBasis.LEGITIMATE_INTERESTS,
    }
    consent = policy.retention["marketing_consent"]
    assert (consent.counts_from, consent.keep and consent.keep.years) == (RetentionStart.RECEIVED, 10)
    assert policy.archive.readable_by == ["ceo"]
    assert policy.review.signed_by == "ceo"
    assert policy.privacy_contact.role.get("en") == "Chief Executive Officer"


# ------------------------------------------------------------------ syntax and schema errors


def test_toml_syntax_error_gives_its_line() -> None:
    text, line = edit(BUNDLED, 'name = "24 Center AS"', 'name == "24 Center AS"')
    problem = only(text)
    assert problem.line == line
    assert problem.message.startswith("not valid TOML")
    assert str(problem).startswith(f"p.toml:{line}: error: not valid TOML")


def test_unterminated_string_is_a_syntax_problem_with_its_line() -> None:
    text, line = edit(BUNDLED, 'name = "24 Center AS"', 'name = "24 Center AS')
    problem = only(text)
    assert (problem.line, problem.message.startswith("not valid TOML")) == (line, True)


def test_the_bundled_policy_finds_people_by_full_name() -> None:
    policy = parse_policy(BUNDLED, "p.toml").policy
    assert policy.fields["full_name"].type.value == "name"
    assert set(policy.lookup_fields()) == {"full_name", "phone", "email", "organisation_number", "national_id"}


def test_a_name_cannot_be_unique() -> None:
    text, _ = edit(BUNDLED, 'type = "name"', 'type = "name"\nunique = true', after="[fields.full_name]")
    problem = only(text)
    assert problem.path.startswith("fields.full_name")
    assert "unique is only possible for types" in problem.message and "'name'" not in problem.message


def test_the_same_table_twice_is_a_syntax_problem() -> None:
    text, line = edit(BUNDLED, "[kinds.contract_customer]", "[kinds.one_time_customer]")
    assert only(text).line == line


def test_unknown_key_is_reported_at_its_line() -> None:
    text, line = edit(BUNDLED, "unique = true", 'unique = true\ncolour = "red"', after="[fields.phone]")
    problem = only(text)
    assert (problem.line, problem.path) == (line + 1, "fields.phone.colour")
    assert problem.message == "unknown key (not part of the policy schema)"


def test_unknown_key_inside_an_inline_table_is_reported_at_the_table_line() -> None:
    text, line = edit(BUNDLED, "keep = { years = 10 }", "keep = { years = 10, weeks = 2 }")
    problem = only(text)
    assert (problem.line, problem.path) == (line, "retention.marketing_consent.keep.weeks")


def test_misspelt_top_level_table_is_an_unknown_key_and_the_real_one_is_missing() -> None:
    text, line = edit(BUNDLED, "[review]", "[reveiw]")
    found = {(p.path, p.line, p.message) for p in problems(text)}
    assert ("reveiw", line, "unknown key (not part of the policy schema)") in found
    assert ("review", None, "required key is missing") in found


def test_missing_required_key_is_reported_at_its_table() -> None:
    header = line_of(BUNDLED, "[purposes.service]")
    text, _ = edit(BUNDLED, 'legal_basis = "6(1)(b)"\n', "", after="[purposes.service]")
    problem = only(text)
    assert (problem.line, problem.path, problem.message) == (
        header,
        "purposes.service.legal_basis",
        "required key is missing",
    )


def test_missing_language_in_an_inline_table_is_reported_at_its_line() -> None:
    old = 'label = { nb = "engangskunde", en = "one-time customer" }'
    text, line = edit(BUNDLED, old, 'label = { nb = "engangskunde" }')
    problem = only(text)
    assert (problem.line, problem.path, problem.message) == (
        line,
        "kinds.one_time_customer.label.en",
        "required key is missing",
    )


@pytest.mark.parametrize(
    ("old", "new", "after", "path"),
    [
        ('type = "phone"', 'type = "telephone"', None, "fields.phone.type"),
        ('collected = "always"', 'collected = "sometimes"', "[fields.email]", "fields.email.collected"),
        ('legal_basis = "6(1)(b)"', 'legal_basis = "6(1)(g)"', None, "purposes.service.legal_basis"),
        ('category = "processor"', 'category = "vendor"', "[recipients.finago]", "recipients.finago.category"),
        ('holds_while = "relationship_active"', 'holds_while = "forever"', None, "retention.agreement.holds_while"),
        ('business_representative = "erase"', 'business_representative = "shred"', None, "archive.on_expiry"),
    ],
)
def test_wrong_enum_value_names_the_key_and_the_allowed_values(
    old: str, new: str, after: str | None, path: str
) -> None:
    text, line = edit(BUNDLED, old, new, after=after)
    problem = only(text)
    assert problem.line == line
    assert problem.path.startswith(path)
    assert problem.message.startswith("must be one of ") and "Input should" not in problem.message


@pytest.mark.parametrize(
    ("old", "new", "after", "path", "message"),
    [
        ('name = "24 Center AS"', 'name = ""', None, "controller.name", "must not be empty"),
        ('name = "24 Center AS"', "name = 5", None, "controller.name", "must be text (in quotes)"),
        ('country = "NO"', 'country = "Norway"', "[controller]", "controller.country",
         "must be a country's two capital letters (ISO 3166), such as NO"),
        ('country = "NO"', 'country = "NO"\ntimezone = "Mars/Base"', "[controller]", "controller",
         "unknown time zone 'Mars/Base'; use an IANA name such as Europe/Oslo"),
        ('languages = ["nb", "en"]', 'languages = ["nb", "de"]', None, "languages[1]", "must be nb or en"),
        ('languages = ["nb", "en"]', "languages = []", None, "languages", "the list is empty: give at least 1 entry"),
        ("month = 12", "month = 13", None, "review.month", "must be at most 12"),
        ("month = 12", 'month = "december"', None, "review.month", "must be a whole number"),
        ("unique = true", "unique = 3", None, "fields.phone.unique", "must be true or false"),
    ],
)  # fmt: skip
def test_schema_problems_are_said_in_words_naming_the_rule(
    old: str, new: str, after: str | None, path: str, message: str
) -> None:
    # Issue 18: `policy check` printed pydantic's own text ("Dictionary should have at least 1 item after validation").
    text, _ = edit(BUNDLED, old, new, after=after)
    problem = only(text)
    assert (problem.path, problem.message) == (path, message)


def test_several_schema_problems_are_all_reported_each_at_its_line() -> None:
    text, unknown = edit(BUNDLED, "unique = true", 'unique = true\ncolour = "red"', after="[fields.phone]")
    text, enum = edit(text, 'type = "email"', 'type = "e-mail"')
    text, _ = edit(text, 'legal_basis = "6(1)(b)"\n', "", after="[purposes.service]")
    text, month = edit(text, "month = 12", "month = 13")
    found = {(p.path, p.line) for p in problems(text)}
    assert found == {
        ("fields.phone.colour", unknown + 1),
        ("fields.email.type", enum),
        ("purposes.service.legal_basis", line_of(text, "[purposes.service]")),
        ("review.month", month),
    }


# ------------------------------------------------------------------ references between sections


REFERENCES = [
    pytest.param(
        'purposes = ["service", "marketing", "b2b_contact"]',
        'purposes = ["service", "sales", "b2b_contact"]',
        "[fields.phone]",
        "fields.phone.purposes[1]",
        "unknown purpose 'sales'",
        id="field-purpose",
    ),
    pytest.param(
        'kinds = ["business_representative"]',
        'kinds = ["business_rep"]',
        "[fields.role]",
        "fields.role.kinds[0]",
        "unknown subject kind 'business_rep'",
        id="field-kind",
    ),
    pytest.param(
        'purpose = "service"',
        'purpose = "services"',
        "[retention.agreement]",
        "retention.agreement.purpose",
        "unknown purpose 'services'",
        id="retention-purpose",
    ),
    pytest.param(
        'fields = ["phone"]',
        'fields = ["phone", "mobile"]',
        "[recipients.linkmobility]",
        "recipients.linkmobility.fields[1]",
        "unknown field 'mobile'",
        id="recipient-field",
    ),
    pytest.param(
        'readable_by = ["ceo"]',
        'readable_by = ["ceo", "cfo"]',
        "[archive]",
        "archive.readable_by[1]",
        "unknown role 'cfo'",
        id="archive-role",
    ),
]


@pytest.mark.parametrize(("old", "new", "after", "path", "message"), REFERENCES)
def test_unresolved_reference_is_reported_at_its_line(old: str, new: str, after: str, path: str, message: str) -> None:
    text, line = edit(BUNDLED, old, new, after=after)
    problem = only(text)
    assert problem.line == line
    assert problem.path.startswith(path)
    assert problem.message.startswith(message)
    assert "declared:" in problem.message  # says what the name could have been


def test_unresolved_scalar_reference_has_a_path_without_an_index() -> None:
    text, _ = edit(BUNDLED, 'purpose = "service"', 'purpose = "services"', after="[retention.agreement]")
    assert only(text).path == "retention.agreement.purpose"


def test_unresolved_references_are_all_reported() -> None:
    text = BUNDLED
    expected = []
    for param in REFERENCES:
        old, new, after, path, _ = param.values
        text, line = edit(text, str(old), str(new), after=str(after))
        expected.append((str(path), line))
    found = problems(text)
    assert len(found) == len(expected)
    for path, line in expected:
        assert any(p.path.startswith(path) and p.line == line for p in found), (path, line, found)


def test_recipient_outside_the_eea_needs_a_transfer_basis() -> None:
    text, _ = edit(BUNDLED, "transfer_basis = {", "# transfer_basis = {", after="[recipients.hubspot]")
    problem = only(text)
    assert problem.path == "recipients.hubspot.country"
    assert problem.line == line_of(text, 'country = "US"', after="[recipients.hubspot]")
    assert "outside the EEA" in problem.message and "transfer_basis" in problem.message


@pytest.mark.parametrize(("country", "ok"), [("FI", True), ("SE", True), ("IS", True), ("CH", False), ("GB", False)])
def test_only_recipients_outside_the_eea_need_a_transfer_basis(country: str, ok: bool) -> None:
    text, line = edit(BUNDLED, 'country = "FI"', f'country = "{country}"', after="[recipients.linkmobility]")
    if ok:
        parse_policy(text)
    else:
        problem = only(text)
        assert (problem.path, problem.line) == ("recipients.linkmobility.country", line)


def test_consent_purpose_without_channels_is_refused() -> None:
    text, _ = edit(BUNDLED, 'channels = ["sms", "email"]\n', "", after="[purposes.marketing]")
    problem = only(text)
    assert problem.path == "purposes.marketing.channels"
    assert problem.line == line_of(text, "[purposes.marketing]")


def test_kind_without_retention_rule_or_expiry_action_is_refused() -> None:
    text, _ = edit(
        BUNDLED,
        "[fields.full_name]",
        '[kinds.visitor]\nlabel = { nb = "besøkende", en = "visitor" }\n\n[fields.full_name]',
    )
    found = {(p.path, p.message) for p in problems(text)}
    assert ("kinds.visitor", "no retention rule covers kind 'visitor'") in found
    assert ("kinds.visitor", "kind 'visitor' has no required field") in found
    assert ("archive.on_expiry", "no expiry action (archive or erase) for kind 'visitor'") in found


# ------------------------------------------------------------------ files


def test_load_policy_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BUNDLED, "utf-8")
    loaded = load_policy(path)
    assert (loaded.source, loaded.text) == (str(path), BUNDLED)


def test_problems_name_the_file_they_come_from(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    text, line = edit(BUNDLED, 'type = "phone"', 'type = "telephone"')
    path.write_text(text, "utf-8")
    with pytest.raises(PolicyInvalid) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}:{line}: error: fields.phone.type:")


def test_missing_file_is_a_problem_not_an_os_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PolicyInvalid) as info:
        load_policy(path)
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.path) == (str(path), None, "")
    assert problem.message.startswith("cannot read the file")


def test_a_directory_is_a_problem_not_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyInvalid) as info:
        load_policy(tmp_path)
    assert info.value.problems[0].message.startswith("cannot read the file")


def test_non_utf8_file_is_a_problem_not_a_decode_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(BUNDLED.encode("latin-1", errors="replace"))
    with pytest.raises(PolicyInvalid) as info:
        load_policy(path)
    [problem] = info.value.problems
    assert (problem.file, problem.message) == (str(path), "the file is not UTF-8 text")


def test_problem_renders_file_line_path_and_article() -> None:
    assert str(Problem("p.toml", 3, "a.b", "bad")) == "p.toml:3: error: a.b: bad"
    assert str(Problem("p.toml", None, "", "bad")) == "p.toml: error: bad"
    assert (
        str(Problem("p.toml", 1, "x", "m", "warning", "Art. 13(1)(a)"))
        == "p.toml:1: warning: x: m (GDPR Art. 13(1)(a))"
    )


@pytest.mark.parametrize(
    ("parts", "rendered"),
    [
        (("fields", "phone", "kinds", 2), "fields.phone.kinds[2]"),
        (("a-b", "c_d"), "a-b.c_d"),
        (("kinds", "One time", "label"), 'kinds."One time".label'),
        ((), ""),
    ],
)
def test_key_path(parts: tuple[str | int, ...], rendered: str) -> None:
    assert key_path(parts) == rendered
