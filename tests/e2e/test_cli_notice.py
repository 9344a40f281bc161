"""`personvern notice render|list`: the notice of the policy in force, published by init; old versions are kept."""

from __future__ import annotations

import hashlib

from tests.e2e.support import (
    NOW,
    Cases,
    add,
    assert_ok,
    assert_refused,
    bundled_policy_text,
    count,
    replace_in_table,
    sql,
)


def stored(pv, lang: str, fmt: str) -> tuple[str, str]:
    [(sha, text)] = sql(
        pv.db_url, "SELECT sha256, text FROM notice_versions WHERE language = :l AND format = :f", l=lang, f=fmt
    )
    return sha, text


def test_init_publishes_every_language_and_format(pv_ready):
    assert count(pv_ready.db_url, "notice_versions") == 4
    data = pv_ready.json("init")
    assert data["notice_sha256"] == stored(pv_ready, "nb", "md")[0]
    assert count(pv_ready.db_url, "notice_versions") == 4  # the same policy publishes nothing new


def test_render_prints_the_text_on_stdout_and_its_version_on_stderr(pv_ready):
    result = pv_ready("notice", "render", "--lang", "nb")
    assert_ok(result)
    sha, text = stored(pv_ready, "nb", "md")
    assert result.stdout == text
    assert text.startswith("# Personvernerklæring for 24 Center AS\n")
    assert hashlib.sha256(result.stdout.encode("utf-8")).hexdigest() == sha
    assert f"notice nb/md version {sha} (published)" in result.stderr


def test_render_in_english_as_html(pv_ready):
    data = pv_ready.json("notice", "render", "--lang", "en", "--format", "html")
    sha, text = stored(pv_ready, "en", "html")
    assert (data["sha256"], data["text"], data["language"], data["format"], data["published"]) == (
        sha,
        text,
        "en",
        "html",
        True,
    )
    assert '<html lang="en">' in text and "<h2>Your rights</h2>" in text
    assert "inntil 10 år fra vi mottok opplysningene" in pv_ready.json("notice", "render")["text"]  # nb by default


def test_a_new_policy_publishes_a_new_version_and_the_old_one_stays(pv_ready, tmp_path):
    old_sha, old_text = stored(pv_ready, "nb", "md")
    policy = tmp_path / "new.toml"
    policy.write_text(
        replace_in_table(
            bundled_policy_text(), "controller", 'email = "post@24center.no"', 'email = "hei@24center.no"'
        ),
        "utf-8",
    )
    assert_ok(pv_ready("init", "--policy", str(policy)))
    assert count(pv_ready.db_url, "notice_versions") == 8
    current = pv_ready.json("notice", "render", "--lang", "nb")
    assert current["sha256"] != old_sha and "hei@24center.no" in current["text"]
    old = pv_ready.json("notice", "render", "--version", old_sha[:10])
    assert (old["sha256"], old["text"], old["language"], old["format"]) == (old_sha, old_text, "nb", "md")
    result = pv_ready("notice", "render", "--version", old_sha)
    assert_ok(result)
    assert result.stdout == old_text and "post@24center.no" in result.stdout
    listed = pv_ready.json("notice", "list")["versions"]
    assert len(listed) == 8 and {v["sha256"] for v in listed} >= {old_sha, current["sha256"]}
    assert all("text" not in v for v in listed)


def test_consent_refers_to_the_notice_in_force(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    given = pv_ready.json(
        "consent", "give", "--method", "web", sid, "--purpose", "marketing", "--channel", "sms", "--now", NOW
    )
    assert given["notice_sha256"] == stored(pv_ready, "nb", "md")[0]
    # The notice the person saw can be shown again from its hash.
    assert pv_ready.json("notice", "render", "--version", given["notice_sha256"])["language"] == "nb"


def test_bad_input_is_refused_and_nothing_is_stored(pv_ready, unchanged):
    sha = stored(pv_ready, "en", "md")[0]
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("unknown language", ("--lang", "de"), 3, ("lang", "nb, en")),
            ("unknown format", ("--format", "pdf"), 3, ("format", "md, html")),
            ("version not hex", ("--version", "not-a-hash"), 3, ("version", "hexadecimal")),
            ("version too short", ("--version", sha[:6]), 3, ("version", "8 to 64")),
            ("unknown version", ("--version", "0" * 64), 4, ("no privacy notice with version",)),
            ("version in another language", ("--version", sha, "--lang", "nb"), 3, ("lang", "is in en, not nb")),
            ("version in another format", ("--version", sha, "--format", "html"), 3, ("format", "not html")),
        ]:
            with cases.case(name):
                assert_refused(pv_ready("notice", "render", *args), code, *needles)
    cases.check()


def test_render_and_list_need_an_initialised_database(pv):
    assert_refused(pv("notice", "render"), 9, "personvern init")
    assert_refused(pv("notice", "list"), 9, "personvern init")
