"""`personvern policy check` lints against GDPR Art. 13/14: errors fail it (exit 8), warnings are shown."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.support import assert_ok, assert_refused, bundled_policy_path, bundled_policy_text, line_of

SEED = Path(__file__).resolve().parents[1] / "data" / "seed-policy.toml"


def test_the_seed_policy_as_published_fails_with_each_gap_and_its_article(pv):
    text = SEED.read_text("utf-8")
    result = pv("policy", "check", str(SEED))
    assert_refused(
        result,
        8,
        f"{SEED}:{line_of(text, '[fields]')}: error: fields: no category of personal data",
        "(GDPR 14(1)(d), 30(1)(c))",
        f"{SEED}:{line_of(text, '[purposes.service]')}: error: purposes.service.legal_basis",
        f"{SEED}:{line_of(text, '[purposes.marketing]')}: error: purposes.marketing.legal_basis",
        "(GDPR 13(1)(c), 6(1))",
        f"{SEED}:{line_of(text, '[recipients.hubspot]')}: error: recipients.hubspot: HubSpot, Inc.",
        "(GDPR 13(1)(f), 44-49)",
        "warning: kinds.business_representative.source",
    )
    assert pv("policy", "check", str(SEED), "--json").stdout == ""


def test_the_bundled_policy_passes_without_a_warning(pv):
    result = pv("policy", "check", str(bundled_policy_path()))
    assert_ok(result)
    assert "warning" not in result.stdout
    assert pv.json("policy", "check", str(bundled_policy_path()))["problems"] == []


def test_warnings_are_printed_and_do_not_fail_the_check(pv, tmp_path):
    text = bundled_policy_text()
    start = text.index("[security]")
    text = text[:start]  # no description of security measures and breach handling
    path = tmp_path / "no-security.toml"
    path.write_text(text, "utf-8")
    result = pv("policy", "check", str(path))
    assert_ok(result)
    assert "1 warning(s)" in result.stdout
    assert "warning: security: no description of the security measures" in result.stdout
    assert "(GDPR 30(1)(g), 32, 33-34)" in result.stdout
    [warning] = pv.json("policy", "check", str(path))["problems"]
    assert warning == {
        "file": str(path),
        "line": None,
        "path": "security",
        "severity": "warning",
        "message": "no description of the security measures or of how breaches are handled",
        "article": "30(1)(g), 32, 33-34",
    }


def test_the_policy_in_force_is_linted_too(pv_ready):
    data = pv_ready.json("policy", "check")
    assert (data["ok"], data["source"], data["problems"]) == (True, "policy in force", [])


def test_the_readmes_example_is_what_the_check_prints(pv, monkeypatch):
    # Issue 18: the README showed three findings where the check prints ten; it cannot drift again.
    root = Path(__file__).resolve().parents[2]
    command = "personvern policy check tests/data/seed-policy.toml"
    lines = (root / "README.md").read_text("utf-8").splitlines()
    start = lines.index(command) + 1
    shown = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        shown.append(line[2:])
    assert shown, "the README shows no output for the example"
    monkeypatch.chdir(root)
    result = pv("policy", "check", "tests/data/seed-policy.toml")
    assert result.exit_code == 8
    assert result.stdout == ""
    assert result.stderr.rstrip("\n").split("\n") == shown
