"""`personvern consent give|withdraw|show`, `object`, `restrict` and `marketing audience` on both databases."""

from __future__ import annotations

import json

from tests.e2e.support import Cases, add, assert_ok, assert_refused, e164, sql

T1, T2, T3, T4 = (f"2026-0{m}-01T10:00:00+00:00" for m in (3, 4, 5, 6))
UNKNOWN = "f" * 32


def notice_sha(pv) -> str:
    """The privacy notice init published: the policy's first language, Markdown (what consent refers to)."""
    rows = sql(pv.db_url, "SELECT sha256 FROM notice_versions WHERE language = 'nb' AND format = 'md'")
    assert len(rows) == 1
    return str(rows[0][0])


def audience_count(pv, channel: str) -> int:
    return int(pv.json("marketing", "audience", "--channel", channel, "--count", "--role", "marketing")["count"])


def test_give_withdraw_and_show_the_ledger(pv_ready):
    sid = add(pv_ready, 1)
    given = pv_ready.json(
        "consent", "give", sid, "--purpose", "marketing", "--channel", "sms", "--method", "phone", "--now", T1
    )
    assert (given["subject_id"], given["action"], given["method"], given["channel"]) == (sid, "given", "phone", "sms")
    assert given["at"] == T1
    assert given["notice_sha256"] == notice_sha(pv_ready)
    assert given["lifted_objections"] == []
    notice = "AB" * 32
    withdrawn = pv_ready.json(
        "consent", "withdraw", "--method", "web", sid, "--channel", "sms", "--notice", notice, "--now", T2
    )
    assert (withdrawn["action"], withdrawn["notice_sha256"]) == ("withdrawn", notice.lower())

    ledger = pv_ready.json("consent", "show", sid)
    assert [e["id"] for e in ledger["events"]] == [given["id"], withdrawn["id"]]
    assert ledger["state"] == [
        {
            "purpose": "marketing",
            "channel": "sms",
            "state": "withdrawn",
            "in_force": False,
            "reason": "withdrawn on 2026-04-01 (Art. 7(3))",
            "since": T2,
            "event": withdrawn["id"],
            "block": None,
        },
        {
            "purpose": "marketing",
            "channel": "email",
            "state": "never_given",
            "in_force": False,
            "reason": "never given",
            "since": None,
            "event": None,
            "block": None,
        },
    ]
    assert ledger["marketing"] == {
        "sms": {"allowed": False, "reason": "consent to marketing by sms was withdrawn on 2026-04-01"},
        "email": {"allowed": False, "reason": "no consent to marketing by email"},
    }
    assert ledger["blocks"] == []

    result = pv_ready("consent", "show", sid)
    assert_ok(result)
    assert "marketing by sms: not allowed: consent to marketing by sms was withdrawn on 2026-04-01" in result.stdout
    assert given["id"] in result.stdout and "withdrawn" in result.stdout

    human = pv_ready("consent", "give", "--method", "web", sid, "--channel", "email", "--now", T3)
    assert_ok(human)
    assert "consent to marketing by email given" in human.stdout


def test_a_receipt_for_each_event(pv_ready):
    sid, other = add(pv_ready, 1), add(pv_ready, 2)
    event = pv_ready.json("consent", "give", sid, "--channel", "email", "--method", "paper", "--now", T1)
    result = pv_ready("consent", "show", sid, "--receipt", event["id"])  # JSON without --json: it is a document
    assert_ok(result)
    doc = json.loads(result.stdout)
    assert doc["version"] == "KI-CR-v1.1.0"
    assert (doc["jurisdiction"], doc["language"]) == ("NO", "nb")
    assert doc["consentTimestamp"] == 1772359200
    assert (doc["consentReceiptID"], doc["piiPrincipalId"]) == (event["id"], sid)
    assert doc["collectionMethod"] == "signed paper form"
    assert doc["piiControllers"][0]["piiController"] == "24 Center AS"
    assert doc["services"][0]["purposes"][0]["consentType"] == "EXPLICIT"
    assert "Person 1" not in result.stdout and "person1@" not in result.stdout
    english = json.loads(pv_ready("consent", "show", sid, "--receipt", event["id"], "--lang", "en").stdout)
    assert english["language"] == "en"
    assert english["services"][0]["purposes"][0]["purpose"].startswith("Sending offers")
    assert_refused(pv_ready("consent", "show", sid, "--receipt", UNKNOWN), 4, UNKNOWN)
    assert_refused(pv_ready("consent", "show", other, "--receipt", event["id"]), 4, event["id"], other)
    assert_refused(pv_ready("consent", "show", sid, "--receipt", event["id"], "--lang", "de"), 3, "lang")


def test_an_objection_holds_until_a_fresh_consent_after_it(pv_ready):
    sid = add(pv_ready, 1)
    pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "sms", "--now", T1)
    assert audience_count(pv_ready, "sms") == 1
    block = pv_ready.json("object", sid, "--purpose", "marketing", "--reason", "ringte fra Tromsø", "--now", T2)
    assert (block["kind"], block["purpose"], block["active"], block["reason"]) == (
        "objection",
        "marketing",
        True,
        "ringte fra Tromsø",
    )
    assert audience_count(pv_ready, "sms") == 0
    assert_refused(pv_ready("object", sid, "--purpose", "marketing", "--now", T2), 5, "already objects")
    ledger = pv_ready.json("consent", "show", sid)
    assert ledger["marketing"]["sms"]["reason"].startswith("the person objected to marketing on 2026-04-01")

    fresh = pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "email", "--now", T3)
    [lifted] = fresh["lifted_objections"]
    assert (lifted["id"], lifted["active"], lifted["lifted_at"]) == (block["id"], False, T3)
    assert fresh["id"] in lifted["lift_reason"]
    assert audience_count(pv_ready, "email") == 1
    assert audience_count(pv_ready, "sms") == 0  # that consent came before the objection
    shown = pv_ready("consent", "show", sid)
    assert "given before the objection on 2026-04-01" in shown.stdout
    assert f"lifted {T3}" in shown.stdout
    pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "sms", "--now", T4)
    assert audience_count(pv_ready, "sms") == 1
    # The reason is kept (sealed) but never written to the audit log.
    details = " ".join(row[0] for row in sql(pv_ready.db_url, "SELECT details FROM audit_log"))
    assert "Tromsø" not in details
    actions = [row[0] for row in sql(pv_ready.db_url, "SELECT action FROM audit_log WHERE subject_id = :s", s=sid)]
    assert "objection.set" in actions and "objection.lift" in actions


def test_restriction_stops_marketing_until_lifted(pv_ready):
    sid = add(pv_ready, 1)
    pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "sms", "--now", T1)
    assert_refused(pv_ready("restrict", sid, "--lift"), 5, "not restricted")
    block = pv_ready.json("restrict", sid, "--reason", "bestrider opplysningene", "--now", T2)
    assert (block["kind"], block["purpose"], block["active"]) == ("restriction", None, True)
    assert audience_count(pv_ready, "sms") == 0
    assert pv_ready.json("consent", "show", sid)["marketing"]["sms"]["reason"] == (
        "processing is restricted (Art. 18) since 2026-04-01"
    )
    assert_refused(pv_ready("restrict", sid), 5, "already restricted")
    human = pv_ready("restrict", sid, "--lift", "--reason", "avklart", "--now", T3)
    assert_ok(human)
    assert "lifted" in human.stdout and "avklart" in human.stdout
    assert audience_count(pv_ready, "sms") == 1


def test_the_audience_lists_ids_and_the_address_of_the_channel(pv_ready):
    ids = [add(pv_ready, n) for n in (1, 2, 3)]
    for sid in ids:
        pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "sms", "--now", T1)
    pv_ready.json("consent", "give", "--method", "web", ids[1], "--channel", "email", "--now", T1)
    pv_ready.json("consent", "withdraw", "--method", "web", ids[2], "--channel", "sms", "--now", T2)
    listed = pv_ready.json("marketing", "audience", "--channel", "sms", "--role", "marketing")
    phones = {ids[0]: e164(1), ids[1]: e164(2)}
    assert listed["subjects"] == [{"id": sid, "phone": phones[sid]} for sid in sorted(phones)]
    second = pv_ready.json(
        "marketing", "audience", "--channel", "sms", "--limit", "1", "--offset", "1", "--role", "marketing"
    )
    assert second["subjects"] == listed["subjects"][1:]
    assert pv_ready.json("marketing", "audience", "--channel", "email", "--role", "marketing")["subjects"] == [
        {"id": ids[1], "email": "person2@example.no"}
    ]
    table = pv_ready("marketing", "audience", "--channel", "sms", "--role", "marketing")
    assert_ok(table)
    assert e164(1) in table.stdout and ids[0] in table.stdout
    counted = pv_ready("marketing", "audience", "--channel", "sms", "--count", "--role", "marketing")
    assert_ok(counted)
    assert "2 subjects may be reached by sms" in counted.stdout
    assert pv_ready.json("marketing", "audience", "--channel", "sms", "--count") == {"channel": "sms", "count": 2}


def test_subject_show_has_the_consent_state_and_blocks_in_force(pv_ready):
    sid = add(pv_ready, 1)
    pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "sms", "--now", T1)
    block = pv_ready.json("restrict", sid, "--now", T2)
    shown = pv_ready.json("subject", "show", sid)
    # Restricted (Art. 18): the consent is paused, not in force, and the screen says so (issue 18).
    assert [(c["channel"], c["state"], c["since"]) for c in shown["consent"]] == [
        ("sms", "restricted", T2),
        ("email", "never_given", None),
    ]
    assert [b["id"] for b in shown["blocks"]] == [block["id"]]
    human = pv_ready("subject", "show", sid)
    assert (
        "consent to marketing by sms: restricted (Art. 18): given on 2026-03-01; processing paused since 2026-04-01"
        in (human.stdout)
    )
    assert "restriction of processing (Art. 18)" in human.stdout
    # The auditor reads bookkeeping fields, not the consent ledger.
    assert "consent" not in pv_ready.json("subject", "show", sid, "--role", "auditor")


def test_refusals_name_the_rule_and_store_nothing(pv_ready, unchanged):
    sid = add(pv_ready, 1)
    given = pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "email", "--now", T1)
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            (
                "unknown purpose",
                ["consent", "give", "--method", "web", sid, "--purpose", "newsletter", "--channel", "sms"],
                3,
                ["purpose", "newsletter"],
            ),
            (
                "purpose not on consent",
                ["consent", "give", "--method", "web", sid, "--purpose", "service", "--channel", "sms"],
                3,
                ["6(1)(b)", "not on consent"],
            ),
            (
                "channel not offered",
                ["consent", "give", "--method", "web", sid, "--channel", "fax"],
                3,
                ["channel", "fax", "sms, email"],
            ),
            (
                "unknown method",
                ["consent", "give", sid, "--channel", "sms", "--method", "pigeon"],
                3,
                ["method", "sms_reply"],
            ),
            (
                "bad notice",
                ["consent", "give", "--method", "web", sid, "--channel", "sms", "--notice", "xyz"],
                3,
                ["notice", "sha256"],
            ),
            ("unknown subject", ["consent", "give", "--method", "web", UNKNOWN, "--channel", "sms"], 4, [UNKNOWN]),
            (
                "withdraw without consent",
                ["consent", "withdraw", "--method", "web", sid, "--channel", "sms"],
                5,
                ["no consent to marketing by sms to withdraw", "Art. 7(3)"],
            ),
            (
                "withdraw for an unknown subject",
                ["consent", "withdraw", "--method", "web", UNKNOWN, "--channel", "sms"],
                4,
                [UNKNOWN],
            ),
            (
                "event before the latest",
                ["consent", "withdraw", "--method", "web", sid, "--channel", "email", "--now", "2026-01-01"],
                5,
                ["later event"],
            ),
            (
                "marketing records consent",
                ["consent", "give", "--method", "web", sid, "--channel", "sms", "--role", "marketing"],
                6,
                ["marketing"],
            ),
            (
                "auditor records consent",
                ["consent", "withdraw", "--method", "web", sid, "--channel", "email", "--role", "auditor"],
                6,
                ["auditor"],
            ),
            ("show an unknown subject", ["consent", "show", UNKNOWN], 4, [UNKNOWN]),
            ("marketing reads the ledger", ["consent", "show", sid, "--role", "marketing"], 6, ["marketing"]),
            (
                "marketing reads a receipt",
                ["consent", "show", sid, "--receipt", given["id"], "--role", "marketing"],
                6,
                ["marketing"],
            ),
            ("object to the agreement", ["object", sid, "--purpose", "service"], 3, ["Art. 21"]),
            ("object to an unknown purpose", ["object", sid, "--purpose", "nope"], 3, ["unknown purpose"]),
            ("object for an unknown subject", ["object", UNKNOWN, "--purpose", "marketing"], 4, [UNKNOWN]),
            (
                "objection by marketing",
                ["object", sid, "--purpose", "marketing", "--role", "marketing"],
                6,
                ["marketing"],
            ),
            (
                "a reason too long",
                ["object", sid, "--purpose", "marketing", "--reason", "x" * 501],
                3,
                ["reason", "500"],
            ),
            ("lift what is not restricted", ["restrict", sid, "--lift"], 5, ["not restricted"]),
            ("restrict an unknown subject", ["restrict", UNKNOWN], 4, [UNKNOWN]),
            ("auditor restricts", ["restrict", sid, "--role", "auditor"], 6, ["auditor"]),
            (
                "staff reads the audience",
                ["marketing", "audience", "--channel", "sms", "--role", "staff"],
                6,
                ["staff"],
            ),
            (
                "auditor counts the audience",
                ["marketing", "audience", "--channel", "sms", "--count", "--role", "auditor"],
                6,
                ["auditor"],
            ),
            ("audience on an unknown channel", ["marketing", "audience", "--channel", "fax"], 3, ["channel", "fax"]),
            ("audience page of none", ["marketing", "audience", "--channel", "sms", "--limit", "0"], 3, ["limit"]),
            (
                "audience before the start",
                ["marketing", "audience", "--channel", "sms", "--offset", "-1"],
                3,
                ["offset"],
            ),
        ]:
            with cases.case(name):
                result = pv_ready(*args)
                assert_refused(result, code, *needles)
                assert "person1@" not in result.stderr and "41000001" not in result.stderr
        with cases.case("no channel"):
            assert pv_ready("marketing", "audience").exit_code == 2
    cases.check()


def test_a_refusal_says_in_words_what_the_role_may_not_do(pv_ready):
    # Issue 18: «role 'staff' may not audience read» named the internal action.
    refused = pv_ready("marketing", "audience", "--channel", "sms", "--role", "staff")
    assert_refused(refused, 6, "role 'staff' may not read the marketing audience")
    assert "audience read" not in refused.stderr
