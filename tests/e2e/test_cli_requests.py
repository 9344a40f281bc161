"""`personvern request …` and `personvern archive …` end to end on both databases: every request type."""

from __future__ import annotations

import json
from pathlib import Path

from personvern.bootstrap import Settings, open_runtime
from personvern.services.erasure import archive_subject
from tests.e2e.support import CONTRACT, Cases, add, assert_refused, count, e164, sql, values

R0 = "2026-01-31T10:00:00+01:00"  # received on the last day of January: due on the last day of February
LATER = "2026-02-10T10:00:00+01:00"
AFTER_FIRST_MONTH = "2026-03-01T10:00:00+01:00"
ANSWER = "2026-02-15T10:00:00+01:00"


def open_request(pv, kind: str, *identity: str, now: str = R0, **more: str) -> dict:
    extra = [x for k, v in more.items() for x in (f"--{k.replace('_', '-')}", v)]
    return pv.json("request", "open", "--type", kind, *identity, *extra, "--now", now)


def verified(pv, kind: str, *identity: str, **more: str) -> dict:
    opened = open_request(pv, kind, *identity, **more)
    pv.json("request", "verify", opened["id"], "--method", "known_email", "--now", LATER)
    return opened


def fulfil(pv, request_id: str, out: Path) -> dict:
    return pv.json("request", "fulfil", request_id, "--out", str(out), "--now", ANSWER)


def test_access_package_and_the_life_of_a_request(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    email = values(1)["email"]
    opened = open_request(pv_ready, "access", "--email", email.upper(), channel="letter")
    assert (opened["subject_id"], opened["matched"], opened["state"]) == (sid, True, "received")
    assert (opened["received_on"], opened["due_on"]) == ("2026-01-31", "2026-02-28")  # Art. 12(3), month end

    listed = pv_ready.json("request", "list", "--now", LATER)
    assert [(r["id"], r["days_left"], r["overdue"]) for r in listed["requests"]] == [(opened["id"], 18, False)]

    pv_ready.json("request", "verify", opened["id"], "--method", "bankid", "--now", LATER)
    pv_ready.json("request", "start", opened["id"], "--now", LATER)
    done = fulfil(pv_ready, opened["id"], tmp_path / "answer")
    assert done["state"] == "completed" and done["files"] == ["data.json", "letter.html"]

    data = json.loads((tmp_path / "answer" / "data.json").read_text())
    assert data["values"] == values(1) | {"phone": e164(1)}
    assert [r["id"] for r in data["requests"]] == [opened["id"]]
    letter = (tmp_path / "answer" / "letter.html").read_text()
    assert "Svar på forespørsel om innsyn" in letter and "Datatilsynet" in letter
    assert values(1)["full_name"] in letter
    assert oct((tmp_path / "answer" / "letter.html").stat().st_mode & 0o777) == "0o600"

    shown = pv_ready.json("request", "show", opened["id"])
    assert shown["identity"] == {"email": email.upper().replace("EXAMPLE.NO", "example.no")}
    assert set(shown["outcome"]["files"]) == {"data.json", "letter.html"}
    actions = [
        a for (a,) in sql(pv_ready.db_url, "SELECT action FROM audit_log ORDER BY seq") if a.startswith("request")
    ]
    assert actions == ["request.open", "request.verify", "request.start", "request.fulfil", "request.read"]
    assert pv_ready.json("request", "list")["requests"] == []
    assert len(pv_ready.json("request", "list", "--all")["requests"]) == 1


def test_the_english_answer(pv_ready, tmp_path):
    add(pv_ready, 1)
    opened = verified(pv_ready, "access", "--phone", values(1)["phone"], lang="en")
    fulfil(pv_ready, opened["id"], tmp_path / "a")
    letter = (tmp_path / "a" / "letter.html").read_text()
    assert 'lang="en"' in letter and "Answer to your request for access" in letter and "Your rights" in letter


def test_an_identity_that_matches_nobody_gets_an_answer_too(pv_ready, tmp_path):
    add(pv_ready, 1)
    opened = open_request(pv_ready, "erasure", "--email", "nobody@example.no")
    assert (opened["matched"], opened["subject_id"]) == (False, None)
    refused = pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / "x"), "--now", ANSWER)
    assert_refused(refused, 5, "verified")
    assert not (tmp_path / "x").exists()
    pv_ready.json("request", "verify", opened["id"], "--method", "known_email", "--now", LATER)
    fulfil(pv_ready, opened["id"], tmp_path / "x")
    letter = (tmp_path / "x" / "letter.html").read_text()
    assert "ingen personopplysninger om deg" in letter
    assert count(pv_ready.db_url, "subjects") == 1


def test_fulfilment_before_verification_is_refused_and_changes_nothing(pv_ready, tmp_path, unchanged):
    add(pv_ready, 1)
    opened = open_request(pv_ready, "erasure", "--email", values(1)["email"])
    with unchanged():
        assert_refused(
            pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / "x"), "--now", ANSWER),
            5,
            "verified",
            "request verify",
        )
    assert count(pv_ready.db_url, "subjects") == 1


def test_extension_once_and_only_within_the_first_month(pv_ready, unchanged):
    add(pv_ready, 1)
    first = open_request(pv_ready, "access", "--email", values(1)["email"])
    extended = pv_ready.json("request", "extend", first["id"], "--reason", "many requests at once", "--now", LATER)
    assert extended["due_on"] == "2026-04-30"  # 31 January + 3 months
    with unchanged():
        assert_refused(
            pv_ready("request", "extend", first["id"], "--reason", "again", "--now", LATER), 5, "already extended"
        )
    late = open_request(pv_ready, "access", "--email", values(1)["email"])
    with unchanged():
        assert_refused(
            pv_ready("request", "extend", late["id"], "--reason", "complex", "--now", AFTER_FIRST_MONTH),
            5,
            "first month",
            "2026-02-28",
        )
    overdue = pv_ready.json("request", "list", "--now", AFTER_FIRST_MONTH)["requests"]
    assert [(r["id"], r["overdue"], r["days_left"]) for r in overdue] == [
        (late["id"], True, -1),
        (first["id"], False, 60),
    ]


def test_rectification_goes_through_the_register_rules(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    opened = verified(pv_ready, "rectification", "--subject", sid, set="full_name=Kari Retta")
    fulfil(pv_ready, opened["id"], tmp_path / "r")
    assert pv_ready.json("subject", "show", sid)["values"]["full_name"] == "Kari Retta"
    assert "Kari Retta" not in repr(sql(pv_ready.db_url, "SELECT details FROM audit_log"))

    bad = verified(pv_ready, "rectification", "--subject", sid, set="email=not-an-email")
    assert_refused(pv_ready("request", "fulfil", bad["id"], "--out", str(tmp_path / "b"), "--now", ANSWER), 3, "email")
    assert pv_ready.json("request", "show", bad["id"])["state"] == "verified"


def test_erasure_keeps_bookkeeping_data_restricted_and_leaves_a_receipt(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    pv_ready.json("relationship", "start", sid, "--type", "order", "--now", "2025-06-01T10:00:00+00:00")
    pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "sms", "--now", "2025-06-01T10:00:00+00:00")
    opened = verified(pv_ready, "erasure", "--email", values(1)["email"])
    fulfil(pv_ready, opened["id"], tmp_path / "e")
    receipt = sql(pv_ready.db_url, "SELECT subject_id, request_id, held_until, details FROM erasure_receipts")
    assert [(r[0], r[1], str(r[2])) for r in receipt] == [(sid, opened["id"], "2031-01-01")]
    details = json.loads(receipt[0][3])
    assert set(details["fields_held"]) == {"full_name", "email"}
    assert "phone" in details["fields_erased"]
    assert values(1)["full_name"] not in receipt[0][3]
    assert count(pv_ready.db_url, "consent_events") == 0
    fields = {f for (f,) in sql(pv_ready.db_url, "SELECT field FROM subject_values")}
    assert fields == {"full_name", "email"}
    shown = pv_ready.json("subject", "show", sid)
    assert [b["kind"] for b in shown["blocks"]] == ["restriction"]
    assert pv_ready.json("request", "show", opened["id"])["identity"] is None
    # What is held is due when the hold ends: the sweep's schedule follows the receipt.
    schedule = sql(pv_ready.db_url, "SELECT retain_until, retain_action FROM subjects WHERE id = :s", s=sid)
    assert [(str(d), a) for d, a in schedule] == [("2031-01-01", "erase")]
    letter = (tmp_path / "e" / "letter.html").read_text()
    assert "Bokføringsloven § 13" in letter and "1. januar 2031" in letter


def test_erasure_without_a_hold_deletes_the_subject_and_its_key(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    opened = verified(pv_ready, "erasure", "--subject", sid)
    fulfil(pv_ready, opened["id"], tmp_path / "e")
    assert count(pv_ready.db_url, "subjects") == 0
    assert sql(pv_ready.db_url, "SELECT count(*) FROM keystore.data_keys WHERE owner_id = :o", o=sid)[0][0] == 0
    assert_refused(pv_ready("subject", "show", sid), 4, sid)


def archive(pv, subject_id: str) -> None:
    """Archive a subject the way the retention sweep does, through the service."""
    rt = open_runtime(Settings.resolve(pv.db_url, "2026-01-20T10:00:00+00:00", "ceo"))
    try:
        ctx = rt.context()
        with ctx.uow() as uow:
            archive_subject(ctx, uow, subject_id, "the agreement ended")
            uow.commit()
    finally:
        rt.close()


def test_erasure_reaches_the_archive(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    archive(pv_ready, sid)
    assert count(pv_ready.db_url, "subjects") == 0
    listed = pv_ready.json("archive", "list")
    assert [r["subject_id"] for r in listed["records"]] == [sid]
    shown = pv_ready.json("archive", "show", sid)
    assert set(shown["values"]) == {"full_name", "email"}
    assert_refused(pv_ready("archive", "list", "--role", "staff"), 6, "archive")

    opened = verified(pv_ready, "erasure", "--email", values(1)["email"])
    assert (opened["matched"], opened["archived"]) == (True, True)
    fulfil(pv_ready, opened["id"], tmp_path / "e")
    assert count(pv_ready.db_url, "archive_records") == 0 and count(pv_ready.db_url, "archive_lookups") == 0
    assert "arkivet" in (tmp_path / "e" / "letter.html").read_text()


def test_restriction_objection_and_portability(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    restricted = verified(pv_ready, "restriction", "--subject", sid)
    fulfil(pv_ready, restricted["id"], tmp_path / "r")
    assert [b["kind"] for b in pv_ready.json("subject", "show", sid)["blocks"]] == ["restriction"]

    objection = verified(pv_ready, "objection", "--subject", sid)
    fulfil(pv_ready, objection["id"], tmp_path / "o")
    assert pv_ready.json("consent", "show", sid)["marketing"]["sms"]["allowed"] is False

    portable = verified(pv_ready, "portability", "--subject", sid)
    done = fulfil(pv_ready, portable["id"], tmp_path / "p")
    assert done["files"] == ["data.csv", "data.json", "letter.html"]
    header, row = (tmp_path / "p" / "data.csv").read_text().splitlines()
    assert "email" in header.split(",") and values(1)["email"] in row


def test_bad_input_is_refused_naming_the_field(pv_ready, tmp_path, unchanged):
    sid = add(pv_ready, 1)
    cases = Cases()
    with unchanged():
        for name, args, code, needles in [
            ("type", ["request", "open", "--type", "complaint", "--subject", sid], 3, ["type", "access"]),
            ("no identity", ["request", "open", "--type", "access"], 3, ["identity"]),
            (
                "two identities",
                ["request", "open", "--type", "access", "--subject", sid, "--email", "a@b.no"],
                3,
                ["identity"],
            ),
            ("email", ["request", "open", "--type", "access", "--email", "not-an-email"], 3, ["email"]),
            ("channel", ["request", "open", "--type", "access", "--subject", sid, "--channel", "fax"], 3, ["channel"]),
            ("language", ["request", "open", "--type", "access", "--subject", sid, "--lang", "de"], 3, ["language"]),
            (
                "future",
                ["request", "open", "--type", "access", "--subject", sid, "--received", "2099-01-01T00:00:00+00:00"],
                3,
                ["received"],
            ),
            ("no corrections", ["request", "open", "--type", "rectification", "--subject", sid], 3, ["--set"]),
            (
                "unknown field",
                ["request", "open", "--type", "rectification", "--subject", sid, "--set", "shoe=42"],
                3,
                ["shoe"],
            ),
            (
                "objection to a contract",
                ["request", "open", "--type", "objection", "--subject", sid, "--purpose", "service"],
                3,
                ["purpose"],
            ),
            ("role", ["request", "open", "--type", "access", "--subject", sid, "--role", "staff"], 6, ["request"]),
            ("unknown request", ["request", "verify", "f" * 32, "--method", "bankid"], 4, ["f" * 32]),
            ("unknown archive record", ["archive", "show", "f" * 32], 4, ["f" * 32]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready(*args), code, *needles)
    opened = open_request(pv_ready, "access", "--subject", sid)
    with unchanged():
        for name, args, code, needles in [
            ("method", ["request", "verify", opened["id"], "--method", "guess"], 3, ["method", "bankid"]),
            ("empty reason", ["request", "reject", opened["id"], "--reason", " "], 3, ["reason"]),
            ("months", ["request", "extend", opened["id"], "--reason", "x", "--months", "3"], 3, ["months"]),
            ("out is a file", ["request", "fulfil", opened["id"], "--out", str(Path(__file__))], 3, ["out"]),
        ]:
            with cases.case(name):
                assert_refused(pv_ready(*args), code, *needles)
    cases.check()
    rejected = pv_ready.json(
        "request",
        "reject",
        opened["id"],
        "--reason",
        "manifestly excessive: the fifth this week",
        "--out",
        str(tmp_path / "no"),
    )
    assert rejected["state"] == "rejected"
    letter = (tmp_path / "no" / "letter.html").read_text()
    assert "manifestly excessive" in letter and "Datatilsynet" in letter
    assert_refused(pv_ready("request", "verify", opened["id"], "--method", "bankid"), 5, "rejected")


def test_erasure_tells_hubspot_and_stops_what_was_queued(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "email", "--now", "2026-01-05T10:00:00+00:00")
    access = verified(pv_ready, "access", "--subject", sid)
    fulfil(pv_ready, access["id"], tmp_path / "a")
    data = json.loads((tmp_path / "a" / "data.json").read_text())
    assert [(r["recipient"], r["pending"]) for r in data["recipients"]] == [("hubspot", 1)]
    assert "HubSpot" in (tmp_path / "a" / "letter.html").read_text()

    erasure = verified(pv_ready, "erasure", "--subject", sid)
    fulfil(pv_ready, erasure["id"], tmp_path / "e")
    rows = sql(pv_ready.db_url, "SELECT kind, state, subject_id FROM outbox ORDER BY created_at")
    assert [(k, s) for k, s, _ in rows] == [("hubspot.upsert", "dead"), ("hubspot.delete", "pending")]
    assert rows[1][2] is None  # the deletion outlives the person's own rows
    receipt = json.loads(sql(pv_ready.db_url, "SELECT details FROM erasure_receipts")[0][0])
    assert receipt["processors"]["hubspot"].startswith("deletion queued")


def test_erasure_during_a_contract_is_refused_until_it_ends(pv_ready, tmp_path, unchanged):
    sid = add(pv_ready, 1, CONTRACT)
    pv_ready.json("relationship", "start", sid, "--type", "contract", "--ends", "2027-06-30", "--now", R0)
    opened = verified(pv_ready, "erasure", "--subject", sid)
    with unchanged():
        refused = pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / "e"), "--now", ANSWER)
        assert_refused(refused, 5, "contract in force until 2027-06-30", "relationship end", "17(1)(a)")
    pv_ready.json("relationship", "end", sid, "--now", ANSWER)
    done = fulfil(pv_ready, opened["id"], tmp_path / "e")
    assert done["state"] == "completed"


def test_erasure_ends_a_one_time_customers_open_order(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    pv_ready.json("relationship", "start", sid, "--type", "order", "--now", R0)
    opened = verified(pv_ready, "erasure", "--subject", sid)
    done = fulfil(pv_ready, opened["id"], tmp_path / "e")
    assert done["outcome"]["orders_ended"] == 1
    ended = sql(pv_ready.db_url, "SELECT ended_on FROM relationships WHERE subject_id = :s", s=sid)
    assert [str(e) for (e,) in ended] == ["2026-02-15"]


def test_a_change_in_the_register_reaches_hubspot_too(pv_ready):
    """Art. 19 applies to every rectification, not only those that came as a request."""
    sid = add(pv_ready, 1)
    pv_ready.json("consent", "give", "--method", "web", sid, "--channel", "email", "--now", "2026-01-05T10:00:00+00:00")
    pv_ready.json("subject", "update", sid, "--set", "full_name=Kari Retta", "--now", "2026-01-06T10:00:00+00:00")
    kinds = [k for (k,) in sql(pv_ready.db_url, "SELECT kind FROM outbox ORDER BY created_at")]
    assert kinds == ["hubspot.upsert", "hubspot.upsert"]
    audit = [a for (a,) in sql(pv_ready.db_url, "SELECT action FROM audit_log ORDER BY seq")]
    assert audit[-1].startswith("processor.")


def test_request_show_reads_as_labelled_lines_not_python(pv_ready, tmp_path):
    sid = add(pv_ready, 1)
    pv_ready.json("relationship", "start", sid, "--type", "order", "--now", "2025-06-01T10:00:00+00:00")

    def show(request_id: str) -> str:
        result = pv_ready("request", "show", request_id, "--now", ANSWER)
        assert result.exit_code == 0, result.stderr
        for python in ("{", "}", "[", "]", "': ", "True", "False", "None"):
            assert python not in result.stdout, f"{python!r} in:\n{result.stdout}"
        return str(result.stdout)

    def line(out: str, label: str) -> str:
        [found] = [x for x in out.splitlines() if x.startswith(f"{label}:")]
        return found.removeprefix(f"{label}:").strip()

    access = verified(pv_ready, "access", "--email", values(1)["email"])
    out = show(access["id"])
    assert out.startswith(f"request {access['id']}: access (Art. 15), verified\n")
    assert line(out, "identity") == f"email {values(1)['email']}"
    assert line(out, "due") == "2026-02-28 (13 days left)"
    files = fulfil(pv_ready, access["id"], tmp_path / "a")
    hashes = pv_ready.json("request", "show", access["id"])["outcome"]["files"]
    out = show(access["id"])
    assert line(out, "outcome") == "the person's data is in the answer's files"
    assert line(out, "files") == f"data.json    sha256 {hashes['data.json']}"
    assert f"          letter.html  sha256 {hashes['letter.html']}" in out.splitlines()
    assert files["files"] == ["data.json", "letter.html"]

    fix = verified(pv_ready, "rectification", "--subject", sid, set="full_name=Kari Retta")
    assert line(show(fix["id"]), "corrections") == "full_name → Kari Retta"
    fulfil(pv_ready, fix["id"], tmp_path / "r")
    assert line(show(fix["id"]), "fields changed") == "full_name"

    late = open_request(pv_ready, "access", "--subject", sid)
    pv_ready.json("request", "extend", late["id"], "--reason", "many requests at once", "--now", LATER)
    assert line(show(late["id"]), "extended").endswith(": many requests at once")
    pv_ready.json(
        "request",
        "reject",
        late["id"],
        "--reason",
        "asked for the same twice",
        "--out",
        str(tmp_path / "x"),
        "--now",
        ANSWER,
    )
    out = show(late["id"])
    assert line(out, "rejected") == "asked for the same twice"
    assert out.startswith(f"request {late['id']}: access (Art. 15), rejected\n")

    objection = verified(pv_ready, "objection", "--subject", sid)
    fulfil(pv_ready, objection["id"], tmp_path / "o")
    assert line(show(objection["id"]), "purpose") == "marketing"
    assert line(show(objection["id"]), "objection").endswith("set: no more marketing")

    erasure = verified(pv_ready, "erasure", "--subject", sid)
    fulfil(pv_ready, erasure["id"], tmp_path / "e")
    out = show(erasure["id"])
    receipt = pv_ready.json("request", "show", erasure["id"])["erasure_receipt"]
    assert line(out, "identity") == "forgotten with the erasure"
    assert line(out, "fields erased") == ", ".join(receipt["details"]["fields_erased"])
    assert line(out, "fields held").startswith("email, full_name, until 2031-01-01: the law requires them kept")
    assert line(out, "processors told").startswith("auditor: nothing held")  # no export gave it the person
    assert line(out, "receipt").startswith(f"erasure receipt {receipt['id']}, ")
    assert line(out, "confirmations") == "all confirmed"
    assert "LINK Mobility Oy (linkmobility): erase the person: not asked: holds nothing after delivery" in out
