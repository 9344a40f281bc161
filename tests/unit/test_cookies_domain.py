"""The cookie banner's rules without a database: its version, what a choice may say, GPC, and the policy section."""

from __future__ import annotations

import pytest

from personvern.domain.cookies import Method, banner_version, counts, decide, stored
from personvern.domain.errors import InvalidInput
from personvern.policy.loader import PolicyInvalid, load_policy, parse_policy
from personvern.policy.schema import Cookies

VISITOR = "Vb8k2QmX0pLr7TzN4wYcHa"


@pytest.fixture(scope="module")
def cookies() -> Cookies:
    found = load_policy().policy.cookies
    assert found is not None
    return found


def _changed(cookies: Cookies, category: str, **cookie: object) -> Cookies:
    data = cookies.model_dump(mode="json")
    data["categories"][category]["cookies"][0].update(cookie)
    return Cookies.model_validate(data)


def test_the_version_changes_when_a_cookie_or_a_category_changes_and_not_with_the_banner_text(
    cookies: Cookies,
) -> None:
    version = banner_version(cookies)
    assert len(version) == 16 and version == banner_version(cookies)
    assert banner_version(_changed(cookies, "statistics", expiry={"nb": "24 måneder", "en": "24 months"})) != version
    assert banner_version(_changed(cookies, "marketing", name="_fbc")) != version
    data = cookies.model_dump(mode="json")
    data["categories"]["statistics"]["cookies"].append(
        {"name": "_gid", "provider": "Google", "purpose": {"nb": "x", "en": "x"}, "expiry": {"nb": "1", "en": "1"}}
    )
    assert banner_version(Cookies.model_validate(data)) != version
    data = cookies.model_dump(mode="json")
    data["banner_text"] = {"nb": "Ny tekst.", "en": "New text."}
    assert banner_version(Cookies.model_validate(data)) == version


def test_a_choice_keeps_necessary_on_and_refuses_what_it_leaves_out(cookies: Cookies) -> None:
    v = banner_version(cookies)
    chosen, how = decide(cookies, VISITOR, {"statistics": True}, "custom", v, gpc=False)
    assert chosen == {"necessary": True, "statistics": True, "marketing": False} and how is Method.CUSTOM
    chosen, how = decide(cookies, VISITOR, {"statistics": True, "marketing": True}, "accept_all", v, gpc=False)
    assert all(chosen.values()) and how is Method.ACCEPT_ALL
    chosen, how = decide(cookies, VISITOR, {}, "reject_all", v, gpc=False)
    assert chosen == {"necessary": True, "statistics": False, "marketing": False}


@pytest.mark.parametrize("method", ["accept_all", "custom", "reject_all", "gpc"])
def test_gpc_forces_every_optional_category_off_whatever_was_chosen(cookies: Cookies, method: str) -> None:
    choices = {"statistics": method != "reject_all", "marketing": method != "reject_all"}
    chosen, how = decide(cookies, VISITOR, choices, method, banner_version(cookies), gpc=method != "gpc")
    assert chosen == {"necessary": True, "statistics": False, "marketing": False}
    assert how is Method.GPC


@pytest.mark.parametrize(
    ("visitor", "choices", "method", "version", "field"),
    [
        (VISITOR, {"tracking": True}, "custom", None, "choices.tracking"),
        (VISITOR, {"Bad Name!": True}, "custom", None, "choices.?"),
        (VISITOR, {"statistics": 1}, "custom", None, "choices.statistics"),
        (VISITOR, {"necessary": False}, "custom", None, "choices.necessary"),
        ("too-short", {}, "custom", None, "visitor"),
        (VISITOR, {}, "sometimes", None, "method"),
        (VISITOR, {}, "custom", "ABC", "banner_version"),
        (VISITOR, {"statistics": True}, "accept_all", None, "choices"),
        (VISITOR, {"marketing": True}, "reject_all", None, "choices"),
    ],
)
def test_a_bad_choice_names_its_field(
    cookies: Cookies, visitor: str, choices: dict[str, object], method: str, version: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        decide(cookies, visitor, choices, method, version or banner_version(cookies), gpc=False)
    assert [p.field for p in caught.value.problems] == [field]


def test_counts_per_month_and_optional_category(cookies: Cookies) -> None:
    rows = {
        ("2026-10", stored({"necessary": True, "statistics": True, "marketing": False})): 3,
        ("2026-10", stored({"necessary": True, "statistics": False, "marketing": False})): 2,
        ("2026-11", stored({"necessary": True, "statistics": True, "marketing": True})): 1,
    }
    found = {(c.month, c.category): (c.given, c.refused) for c in counts(cookies, rows)}
    assert found == {
        ("2026-10", "statistics"): (3, 2),
        ("2026-10", "marketing"): (0, 5),
        ("2026-11", "statistics"): (1, 0),
        ("2026-11", "marketing"): (1, 0),
    }


def _policy_with(section: str) -> str:
    text = load_policy().text
    return text[: text.index("[cookies]")] + section


GOOD = """
[cookies]
banner_text = { nb = "Tekst", en = "Text" }
[cookies.categories.necessary]
label = { nb = "N", en = "N" }
description = { nb = "N", en = "N" }
necessary = true
[[cookies.categories.necessary.cookies]]
name = "pv_consent"
provider = "site"
purpose = { nb = "p", en = "p" }
expiry = { nb = "1", en = "1" }
[cookies.categories.statistics]
label = { nb = "S", en = "S" }
description = { nb = "S", en = "S" }
[[cookies.categories.statistics.cookies]]
name = "_ga"
provider = "Google"
purpose = { nb = "p", en = "p" }
expiry = { nb = "1", en = "1" }
"""


def test_the_section_is_optional_and_a_good_one_loads() -> None:
    assert parse_policy(_policy_with("")).policy.cookies is None
    assert parse_policy(_policy_with(GOOD)).policy.cookies is not None


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            ("[cookies.categories.statistics]", "[cookies.categories.Statistics]"),
            "cookies.categories.Statistics",
            "lower-case",
        ),
        (("necessary = true\n", ""), "cookies.categories", "necessary = true"),
        (('name = "_ga"', 'name = "pv_consent"'), "cookies.categories.statistics.cookies[0].name", "twice"),
        (
            ('expiry = { nb = "1", en = "1" }\n[cookies.categories.statistics]', "[cookies.categories.statistics]"),
            "cookies.categories.necessary.cookies[0].expiry",
            "missing",
        ),
        (('name = "_ga"', 'name = "a b"'), "cookies.categories.statistics.cookies[0].name", "cookie name"),
        (
            (
                'banner_text = { nb = "Tekst", en = "Text" }',
                'banner_text = { nb = "Tekst", en = "Text" }\nkeep = { months = 6 }',
            ),
            "cookies.keep",
            "at least as long as remember",
        ),
    ],
)
def test_a_bad_section_is_refused_naming_the_path(change: tuple[str, str], path: str, words: str) -> None:
    text = _policy_with(GOOD.replace(*change))
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(text, "p.toml")
    problems = [p for p in caught.value.problems if p.path.startswith(path)]
    assert problems, [str(p) for p in caught.value.problems]
    assert words in problems[0].message and problems[0].line is not None


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_the_notice_and_the_record_list_the_categories_and_their_cookies(lang: str) -> None:
    from datetime import UTC, datetime

    from personvern.reports.notice import render_notice
    from personvern.reports.record import build_record, render_record

    policy = load_policy().policy
    notice = render_notice(policy, lang).text
    assert ("Informasjonskapsler på nettstedet" if lang == "nb" else "Cookies on the website") in notice
    for name in ("pv_consent", "_ga", "_fbp"):
        assert name in notice
    assert "Global Privacy Control" in notice and "§ 2-7b" in notice
    record = build_record(policy, "x" * 64, lang, datetime(2026, 11, 25, tzinfo=UTC), {}, [])
    by_key = {c["key"]: c for c in record["website_cookies"]}
    assert set(by_key) == {"necessary", "statistics", "marketing"}
    assert "2-7b" in by_key["necessary"]["legal_basis"] and "6(1)(a)" not in by_key["necessary"]["legal_basis"]
    assert ("6 nr. 1 bokstav a" if lang == "nb" else "6(1)(a)") in by_key["statistics"]["legal_basis"]
    assert by_key["statistics"]["cookies"] == ["_ga"]
    html = render_record(record, "html")
    assert "_fbp" in html and "website_cookies" in render_record(record, "csv")
    # A policy without the section: no cookie section at all, in either.
    bare = policy.model_copy(update={"cookies": None})
    assert "pv_consent" not in render_notice(bare, lang).text
    assert build_record(bare, "x" * 64, lang, datetime(2026, 11, 25, tzinfo=UTC), {}, [])["website_cookies"] == []
