"""What the CLI and the letters tell people is what the rules decided: consent, retention, rectification, look-ups.

Each test reads what a person reads (the CLI's text and JSON, the rendered letters in both languages), on both
databases. A screen or a letter that states something untrue is a defect of the same weight as a wrong rule.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from tests.e2e.support import CONTRACT, ORG_B, REPRESENTATIVE, add, assert_ok, assert_refused, sql, values
from tests.e2e.test_cli_requests import ANSWER, archive, fulfil, verified

T1, T2 = "2025-03-01T10:00:00+00:00", "2025-04-01T10:00:00+00:00"
LANGS = ("nb", "en")


def text_of(letter: Path) -> str:
    """The letter as a person reads it: no tags, entities resolved, whitespace collapsed."""
    body = re.sub(r"<(style|title)>.*?</\1>", " ", letter.read_text("utf-8"), flags=re.DOTALL)
    body = re.sub(r"</?(strong|code|a|em)\b[^>]*>", "", body)  # inline: part of the running text
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def answer(pv, kind: str, sid: str, out: Path, lang: str, **more: str) -> tuple[dict, str]:
    opened = verified(pv, kind, "--subject", sid, lang=lang, **more)
    done = fulfil(pv, opened["id"], out)
    return done, text_of(out / "letter.html")


def broken_punctuation(text: str) -> list[str]:
    """Sentences glued together wrongly: a full stop followed by a colon, a second full stop or an opening bracket."""
    return re.findall(r".{20}(?:\.\s*[:.(]|\s[.:,])(?!\d).{0,20}", text)


# ---------------------------------------------------------------- consent: the state the rules decide (item 1)


def test_a_consent_voided_by_an_objection_is_shown_as_void_everywhere(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    pv_ready.json("consent", "give", sid, "--channel", "sms", "--method", "phone", "--now", T1)
    pv_ready.json("object", sid, "--purpose", "marketing", "--now", T2)

    shown = pv_ready("subject", "show", sid)
    assert_ok(shown)
    assert "consent to marketing by sms: given" not in shown.stdout
    assert "consent to marketing by sms: void: given on 2025-03-01, void since the objection on 2025-04-01" in (
        shown.stdout
    )
    assert "consent to marketing by email: never given" in shown.stdout
    states = {c["channel"]: c for c in pv_ready.json("subject", "show", sid)["consent"]}
    assert (states["sms"]["state"], states["sms"]["in_force"]) == ("void", False)
    assert states["sms"]["since"] == T2 and "objection on 2025-04-01" in states["sms"]["reason"]
    assert (states["email"]["state"], states["email"]["in_force"]) == ("never_given", False)

    ledger = pv_ready.json("consent", "show", sid)
    assert {c["channel"]: c["state"] for c in ledger["state"]} == {"sms": "void", "email": "never_given"}
    human = pv_ready("consent", "show", sid)
    assert "consent to marketing by sms: void: given on 2025-03-01" in human.stdout

    for lang in LANGS:
        _done, letter = answer(pv_ready, "access", sid, tmp_path / lang, lang)
        assert "samtykket til" not in letter and "consented to" not in letter, letter
        if lang == "nb":
            assert "Samtykket du ga til markedsføring på SMS 1. mars 2025, gjelder ikke lenger" in letter, letter
            assert "du protesterte mot markedsføring 1. april 2025" in letter, letter
        else:
            assert "The consent to marketing by SMS you gave on 1 March 2025 no longer applies" in letter, letter
            assert "you objected to marketing on 1 April 2025" in letter, letter
        data = json.loads((tmp_path / lang / "data.json").read_text())
        assert [(c["channel"], c["state"]) for c in data["consent_state"]] == [
            ("sms", "void"),
            ("email", "never_given"),
        ]


def test_consent_states_withdrawn_restricted_and_in_force(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    pv_ready.json("consent", "give", sid, "--channel", "sms", "--method", "phone", "--now", T1)
    pv_ready.json("consent", "give", sid, "--channel", "email", "--method", "web", "--now", T1)
    pv_ready.json("consent", "withdraw", sid, "--channel", "email", "--method", "paper", "--now", T2)
    states = {c["channel"]: c for c in pv_ready.json("subject", "show", sid)["consent"]}
    assert (states["sms"]["state"], states["sms"]["in_force"]) == ("in_force", True)
    assert (states["email"]["state"], states["email"]["since"]) == ("withdrawn", T2)
    shown = pv_ready("subject", "show", sid).stdout
    assert "consent to marketing by sms: in force: given on 2025-03-01" in shown
    assert "consent to marketing by email: withdrawn on 2025-04-01" in shown
    _done, letter = answer(pv_ready, "access", sid, tmp_path / "a", "en")
    assert "You have consented to: marketing by SMS" in letter, letter
    assert "You withdrew your consent to marketing by email on 1 April 2025" in letter, letter

    pv_ready.json("restrict", sid, "--now", "2025-05-01T10:00:00+00:00")
    states = {c["channel"]: c for c in pv_ready.json("subject", "show", sid)["consent"]}
    assert (states["sms"]["state"], states["sms"]["in_force"]) == ("restricted", False)
    assert (
        "consent to marketing by sms: restricted (Art. 18): given on 2025-03-01; processing paused since 2025-05-01"
        in (pv_ready("subject", "show", sid).stdout)
    )


# ---------------------------------------------------------------- the letters say what the engine decided (item 2)


def test_a_one_time_customer_is_not_told_of_fields_they_do_not_have(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    pv_ready.json("relationship", "start", sid, "--type", "order", "--now", T1)
    for lang in LANGS:
        _done, letter = answer(pv_ready, "access", sid, tmp_path / lang, lang)
        for label in ("organisasjonsnummer", "organisasjonsnavn", "fakturaadresse", "organisation number", "billing"):
            assert label not in letter, (label, letter)
        assert ("fullt navn og e-postadresse" if lang == "nb" else "full name and email address") in letter, letter
        assert broken_punctuation(letter) == [], letter
        data = json.loads((tmp_path / lang / "data.json").read_text())
        held = [r["fields"] for r in data["retention"]["reasons"] if r["rule"] == "bookkeeping"]
        assert held == [["full_name", "email"]]


def test_a_contract_customers_letter_reads_as_sentences(pv_ready, tmp_path):
    sid = add(pv_ready, 1, CONTRACT)
    pv_ready.json("relationship", "start", sid, "--type", "contract", "--on", "2025-01-01", "--ends", "2027-12-31")
    for lang in LANGS:
        _done, letter = answer(pv_ready, "access", sid, tmp_path / lang, lang)
        assert ".:" not in letter and ". :" not in letter, letter
        assert broken_punctuation(letter) == [], letter
        if lang == "nb":
            assert "For deg betyr det: til 31. desember 2027, da avtalen din med oss slutter." in letter, letter
        else:
            assert "For you this means: until 31 December 2027, when your contract with us ends." in letter, letter


def test_an_erasure_held_by_the_organisations_contract_says_why(pv_ready, tmp_path):
    company = add(pv_ready, 1, CONTRACT, org=ORG_B)
    pv_ready.json("relationship", "start", company, "--type", "contract", "--on", "2025-01-01", "--ends", "2028-12-31")
    for n, lang in ((2, "nb"), (3, "en")):
        rep = add(pv_ready, n, REPRESENTATIVE, org=ORG_B)
        done, letter = answer(pv_ready, "erasure", rep, tmp_path / lang, lang)
        assert done["outcome"]["held_until"] == "2034-01-01"
        assert broken_punctuation(letter) == [], letter
        if lang == "nb":
            assert "til 1. januar 2034" in letter, letter
            assert (
                "regnes fra utgangen av regnskapsåret 2028, da kontrakten organisasjonen din har med oss, slutter"
                in (letter)
            ), letter
        else:
            assert "until 1 January 2034" in letter, letter
            assert "counts from the end of the financial year 2028, in which the contract your organisation has" in (
                letter
            ), letter
        assert values(n, REPRESENTATIVE, ORG_B)["full_name"] not in letter


# ---------------------------------------------------------------- no default states a method that was not used (3)


def test_consent_needs_the_method_it_was_given_or_withdrawn_by(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    with unchanged():
        for action in ("give", "withdraw"):
            result = pv_ready("consent", action, sid, "--channel", "sms", "--now", T1)
            assert_refused(result, 2, "--method")
    pv_ready.json("consent", "give", sid, "--channel", "sms", "--method", "paper", "--now", T1)
    assert [e["method"] for e in pv_ready.json("consent", "show", sid)["events"]] == ["paper"]


# ---------------------------------------------------------------- a rectification that changed nothing says so (4)


def test_a_rectification_to_the_value_already_stored_says_nothing_was_changed(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    same = values(1)["full_name"]
    for lang in LANGS:
        opened = verified(pv_ready, "rectification", "--subject", sid, set=f"full_name={same}", lang=lang)
        result = pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / lang), "--now", ANSWER)
        assert_ok(result)
        assert "nothing was changed: the data was already as asked" in result.stdout
        letter = text_of(tmp_path / lang / "letter.html")
        assert "slik du ba om (artikkel 16): ." not in letter and "as you asked (Article 16): ." not in letter
        if lang == "nb":
            assert "Opplysningene var allerede slik du ba om, så vi har ikke endret noe (artikkel 16)." in letter, (
                letter
            )
        else:
            assert "The data was already as you asked, so we have changed nothing (Article 16)." in letter, letter
        assert broken_punctuation(letter) == [], letter
    changed = verified(pv_ready, "rectification", "--subject", sid, set="full_name=Kari Retta", lang="en")
    result = pv_ready("request", "fulfil", changed["id"], "--out", str(tmp_path / "c"), "--now", ANSWER)
    assert "changed: full_name" in result.stdout
    assert "We have corrected this data as you asked (Article 16): full name." in text_of(
        tmp_path / "c" / "letter.html"
    )


# ---------------------------------------------------------------- who was archived or erased (item 11)


def test_subject_show_tells_the_ceo_that_a_person_was_archived_or_erased(pv_ready, tmp_path):
    archived = add(pv_ready, 1)
    archive(pv_ready, archived)
    [(record,)] = sql(pv_ready.db_url, "SELECT id FROM archive_records")
    for how in ([archived], ["--email", values(1)["email"].upper()]):
        result = pv_ready("subject", "show", *how)
        assert_refused(result, 4, "live register", "archived on 2026-01-20", f"archive show {record}")
        assert values(1)["full_name"] not in result.stderr and values(1)["email"] not in result.stderr
        staff = pv_ready("subject", "show", *how, "--role", "staff")
        assert_refused(staff, 4)
        assert "archive" not in staff.stderr

    # The CEO's look-up in the archive is in the audit chain (ids only), the staff's found nothing there.
    looked = sql(pv_ready.db_url, "SELECT subject_id, role FROM audit_log WHERE action = 'archive.lookup'")
    assert [tuple(r) for r in looked] == [(archived, "ceo")] * 2

    # The archive keeps no phone number: it cannot be looked up by one, and the CEO is told so.
    by_phone = pv_ready("subject", "show", "--phone", values(1)["phone"])
    assert_refused(by_phone, 4, "no subject in the register has that phone (the archive keeps no phone)")

    erased = add(pv_ready, 2)
    done = fulfil(pv_ready, verified(pv_ready, "erasure", "--subject", erased)["id"], tmp_path / "e")
    receipt = done["outcome"]["receipt"]
    by_id = pv_ready("subject", "show", erased)
    assert_refused(by_id, 4, "erased on 2026-02-15", f"receipt {receipt}")
    assert "receipt" not in pv_ready("subject", "show", erased, "--role", "staff").stderr
    # An erased person's email is gone by design: no look-up can find it again.
    assert_refused(
        pv_ready("subject", "show", "--email", values(2)["email"]), 4, "no subject in the register (nor the archive)"
    )
