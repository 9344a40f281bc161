"""`personvern sms …`, `outbox …` and `worker --once` against a fake LINK Mobility server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import NOW, Cases, add, assert_ok, assert_refused, count, e164, phone, sql
from tests.fakes_linkmobility import ENV, FakeLink, pointed_at

LATER = "2026-11-25T13:00:00+00:00"
TEXT = "Nøkkelkortet ditt er klart i resepsjonen."
OPT_OUT = "Svar STOPP for å melde deg av"
AGREEMENT_SMS = "send SMS about a customer's agreement"  # what a role without sms.send is told it may not do
LINK_VARIABLES = [*ENV, "PERSONVERN_LINKMOBILITY_URL"]


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLink]:
    """A fake LINK Mobility on 127.0.0.1, and the settings that point the worker at it."""
    fake = FakeLink()
    with pointed_at(fake, monkeypatch):
        yield fake


@pytest.fixture
def no_link(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LINK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def customer(pv, n: int, relationship: bool = True) -> str:
    sid = add(pv, n)
    if relationship:
        assert_ok(pv("relationship", "start", sid, "--now", NOW))
    return sid


def send(pv, sid: str, purpose: str = "service", text: str = TEXT, *more: str) -> dict:
    return pv.json("sms", "send", sid, "--purpose", purpose, "--text", text, "--now", NOW, *more)


def write(tmp_path: Path, name: str, data: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), "utf-8")
    return str(path)


def test_a_service_sms_goes_through_the_outbox_to_link_mobility(pv_ready, link, tmp_path):
    pv_ready = pv_ready
    sid = customer(pv_ready, 1)
    queued = send(pv_ready, sid)
    assert {k: queued[k] for k in ("encoding", "segments", "characters", "opt_out_appended", "status")} == {
        "encoding": "GSM-7",
        "segments": 1,
        "characters": len(TEXT),
        "opt_out_appended": False,
        "status": "pending",
    }
    listed = pv_ready("outbox", "list", "--json")
    assert_ok(listed)
    for secret in (phone(1), e164(1), "Nøkkelkortet"):
        assert secret not in listed.stdout  # never a personal value in the outbox's listing
    [row] = json.loads(listed.stdout)["rows"]
    assert (row["id"], row["state"], row["attempts"]) == (queued["outbox_id"], "pending", 0)
    assert row["payload"] == {"message_id": queued["message_id"], "purpose": "service", "channel": "sms"}

    tally = pv_ready.json("worker", "--once", "--now", LATER)
    retention = {"retention_swept", "retention_waiting", "reminders", "audit_checkpoint", "reconciled"}
    assert {k: v for k, v in tally.items() if k not in retention} == {
        "delivered": 1,
        "retrying": 0,
        "dead": 0,
        "waiting": 0,
        "skipped": 0,
        "cancelled": 0,
        "pending": 0,
        "next_attempt_at": None,
        "texts_dropped": 0,
        "errors": [],
    }
    assert tally["retention_swept"] == 0  # the customer's order keeps the data
    [request] = link.received
    assert (request["destination"], request["userData"], request["refId"]) == (e164(1), TEXT, queued["outbox_id"])
    assert pv_ready.json("outbox", "list")["total"] == 0
    [delivered] = pv_ready.json("outbox", "list", "--all")["rows"]
    assert delivered["state"] == "delivered"
    assert delivered["result"] == {"messageId": "lm-000001", "resultCode": 1005, "description": "Queued"}

    report = {"refId": queued["outbox_id"], "id": "lm-000001", "resultCode": 1001, "operator": "no.telenor"}
    recorded = pv_ready.json("sms", "report", write(tmp_path, "dr.json", report), "--now", LATER)
    assert recorded["recorded"] == [
        {
            "refId": queued["outbox_id"],
            "message_id": queued["message_id"],
            "result_code": 1001,
            "meaning": "delivered",
            "status": "delivered",
            "changed": True,
            "result": "recorded",
        }
    ]
    assert recorded["counts"] == {"recorded": 1, "repeated": 0, "late": 0, "unknown": 0}
    assert pv_ready.json("audit", "verify")["ok"]


def test_the_encoding_and_segments_are_shown_before_asking(pv_ready):
    sid = customer(pv_ready, 1)
    declined = pv_ready("sms", "send", sid, "--purpose", "service", "--text", TEXT + " ✓", "--now", NOW, input="n\n")
    assert declined.exit_code == 1
    assert "UCS-2, 1 segment, 43 characters" in declined.stderr
    assert "nothing was sent" in declined.stderr
    assert count(pv_ready.db_url, "outbox") == 0

    long_text = "Hei! " * 40  # 200 GSM-7 characters: two segments
    accepted = pv_ready("sms", "send", sid, "--purpose", "service", "--text", long_text, "--now", NOW, input="y\n")
    assert_ok(accepted)
    assert "GSM-7, 2 segments, 200 characters" in accepted.stderr
    assert "queued message" in accepted.stdout
    assert count(pv_ready.db_url, "outbox") == count(pv_ready.db_url, "messages") == 1


def test_marketing_needs_consent_and_carries_the_opt_out_line(pv_ready, link):
    sid = customer(pv_ready, 1, relationship=False)
    assert_refused(
        pv_ready("sms", "send", sid, "--purpose", "marketing", "--text", "Tilbud!", "--yes", "--now", NOW),
        6,
        "no consent to marketing by sms",
    )
    assert_ok(
        pv_ready(
            "consent",
            "give",
            "--method",
            "web",
            sid,
            "--purpose",
            "marketing",
            "--channel",
            "sms",
            "--now",
            NOW,
        )
    )
    preview = pv_ready("sms", "send", sid, "--purpose", "marketing", "--text", "Tilbud!", "--now", NOW, input="n\n")
    assert OPT_OUT in preview.stderr
    queued = pv_ready.json(
        "sms", "send", sid, "--purpose", "marketing", "--text", "Tilbud!", "--role", "marketing", "--now", NOW
    )
    assert queued["opt_out_appended"] is True
    assert pv_ready.json("worker", "--once", "--now", LATER)["delivered"] == 1
    # The person's own consent link (issue 14) on the line above the opt-out line, counted in the length.
    text, url, stop = link.received[0]["userData"].split("\n")
    assert (text, stop) == ("Tilbud!", OPT_OUT)
    assert url.startswith("http://127.0.0.1:8000/personvern/samtykke/") and sid not in url
    assert queued["characters"] == len(f"Tilbud!\n{url}\n{OPT_OUT}")
    assert "GSM-7, 1 segment, " + str(queued["characters"]) + " characters" in preview.stderr  # as sent
    from fastapi.testclient import TestClient

    from personvern.api.app import create_app
    from personvern.bootstrap import Settings, open_runtime

    runtime = open_runtime(Settings.resolve(pv_ready.db_url, LATER, "ceo"))
    with TestClient(create_app(runtime)) as client:  # the link opens the person's consent page
        opened = client.get(url.removeprefix("http://127.0.0.1:8000"))
    assert opened.status_code == 200 and "Markedsføring på SMS" in opened.text


def test_refusals_name_the_rule_and_change_nothing(pv_ready, unchanged):
    with_order = customer(pv_ready, 1)
    without = customer(pv_ready, 2, relationship=False)
    consented = customer(pv_ready, 3, relationship=False)
    withdrew = customer(pv_ready, 4, relationship=False)
    objected = customer(pv_ready, 5, relationship=False)
    restricted = customer(pv_ready, 6)
    for sid in (consented, withdrew, objected, restricted):
        assert_ok(
            pv_ready(
                "consent",
                "give",
                "--method",
                "web",
                sid,
                "--purpose",
                "marketing",
                "--channel",
                "sms",
                "--now",
                NOW,
            )
        )
    assert_ok(
        pv_ready(
            "consent",
            "withdraw",
            "--method",
            "web",
            withdrew,
            "--purpose",
            "marketing",
            "--channel",
            "sms",
            "--now",
            NOW,
        )
    )
    assert_ok(pv_ready("object", objected, "--purpose", "marketing", "--now", NOW))
    assert_ok(pv_ready("restrict", restricted, "--now", NOW))

    def sms(sid: str, purpose: str = "service", text: str = TEXT, *more: str):
        return pv_ready("sms", "send", sid, "--purpose", purpose, "--text", text, "--yes", "--now", NOW, *more)

    cases = Cases()
    with unchanged():
        with cases.case("service without an order or contract"):
            assert_refused(sms(without), 6, "a service SMS needs an active order or contract", without)
        with cases.case("marketing without consent"):
            assert_refused(sms(with_order, "marketing"), 6, "no marketing SMS", "no consent to marketing by sms")
        with cases.case("marketing after withdrawal"):
            assert_refused(sms(withdrew, "marketing"), 6, "consent to marketing by sms was withdrawn on 2026-11-25")
        with cases.case("marketing after objection"):
            assert_refused(sms(objected, "marketing"), 6, "objected to marketing", "Art. 21(3)")
        with cases.case("marketing to a restricted subject"):
            assert_refused(sms(restricted, "marketing"), 6, "processing is restricted (Art. 18)")
        with cases.case("service to a restricted subject"):
            assert_refused(sms(restricted), 6, "processing is restricted (Art. 18)")
        with cases.case("unknown subject"):
            assert_refused(sms("f" * 32), 4, "no subject with id")
        with cases.case("unknown purpose"):
            assert_refused(sms(with_order, "bookkeeping"), 3, "purpose: must be one of: service, marketing")
        with cases.case("empty text"):
            assert_refused(sms(with_order, "service", "   "), 3, "text: must not be empty")
        with cases.case("emoji"):
            assert_refused(sms(with_order, "service", "Hei 😀"), 3, "text: contains an emoji")
        with cases.case("too long"):
            assert_refused(sms(with_order, "service", "a" * 2000), 3, "text: takes 14 SMS", "at most 10")
        with cases.case("the auditor"):
            assert_refused(
                sms(with_order, "service", TEXT, "--role", "auditor"), 6, f"role 'auditor' may not {AGREEMENT_SMS}"
            )
        with cases.case("marketing sends no service SMS"):
            assert_refused(sms(with_order, "service", TEXT, "--role", "marketing"), 6, f"may not {AGREEMENT_SMS}")
        with cases.case("missing --text"):
            result = pv_ready("sms", "send", with_order, "--purpose", "service")
            assert result.exit_code == 2
    cases.check()
    # The rules stop marketing only: the consented customer and the one with an order still get SMS.
    assert send(pv_ready, consented, "marketing", "Tilbud!")["status"] == "pending"
    assert send(pv_ready, with_order)["status"] == "pending"


def test_delivery_reports_of_every_class(pv_ready, link, tmp_path, unchanged):
    sids = [customer(pv_ready, n) for n in range(1, 5)]
    rows = [send(pv_ready, sid)["outbox_id"] for sid in sids]
    assert pv_ready.json("worker", "--once", "--now", LATER)["delivered"] == 4
    reports = [
        {"refId": rows[0], "id": "lm-1", "resultCode": 1001},
        {"refId": rows[1], "id": "lm-2", "resultCode": 1000},
        {"refId": rows[2], "id": "lm-3", "resultCode": 2104},
        {"refId": rows[3], "id": "lm-4", "resultCode": 1010},
    ]
    done = pv_ready.json("sms", "report", write(tmp_path, "reports.json", reports), "--now", LATER)["recorded"]
    assert [(r["status"], r["meaning"]) for r in done] == [
        ("delivered", "delivered"),
        ("sent", "sent to the operator"),
        ("failed", "unknown subscriber"),
        ("unknown", "expired without a report from the operator; outcome unknown"),
    ]
    late = [{"refId": rows[0], "resultCode": 1005}, {"refId": rows[1], "resultCode": 1001}]
    done = pv_ready.json("sms", "report", write(tmp_path, "late.json", late), "--now", LATER)["recorded"]
    assert [(r["status"], r["changed"]) for r in done] == [("delivered", False), ("delivered", True)]

    human = pv_ready("sms", "report", write(tmp_path, "one.json", {"refId": rows[2], "resultCode": 1006}))
    assert_ok(human)
    line, summary = human.stdout.splitlines()
    assert line.endswith(
        ": stays failed; ignored 1006 not delivered: the message's status is final, and a later report cannot change it"
    )
    assert summary == "1 report: 0 changed a message's status, 1 changed nothing"

    # One unknown refId (an erased person's message, say) no longer fails the batch: each report is answered.
    fresh = send(pv_ready, sids[0])["outbox_id"]
    assert pv_ready.json("worker", "--once", "--now", LATER)["delivered"] == 1
    stranger = [{"refId": "0" * 32, "resultCode": 1001}, {"refId": fresh, "id": "lm-5", "resultCode": 1001}]
    mixed = pv_ready("sms", "report", write(tmp_path, "stranger.json", stranger), "--now", LATER)
    assert_ok(mixed)
    assert mixed.stdout.splitlines()[0] == (
        f"refId {'0' * 32}: ignored (1001 delivered): no message was sent with this refId from this register "
        "(its person may have been erased)"
    )
    assert mixed.stdout.splitlines()[1].endswith(": delivered — 1001 delivered")
    assert mixed.stdout.splitlines()[2] == "2 reports: 1 changed a message's status, 1 changed nothing"
    as_json = pv_ready.json("sms", "report", write(tmp_path, "stranger.json", stranger), "--now", LATER)
    assert [(r["refId"], r["message_id"], r["status"], r["result"]) for r in as_json["recorded"]] == [
        ("0" * 32, None, None, "unknown"),
        (fresh, as_json["recorded"][1]["message_id"], "delivered", "late"),
    ]
    assert [tuple(r) for r in sql(pv_ready.db_url, "SELECT status FROM messages WHERE outbox_id = :r", r=fresh)] == [
        ("delivered",)
    ]

    with unchanged():
        bad = [{"refId": rows[0], "resultCode": 1001}, {"refId": rows[1]}]
        assert_refused(pv_ready("sms", "report", write(tmp_path, "bad.json", bad)), 3, "report 2: resultCode")
        (tmp_path / "broken.json").write_text("{refId", "utf-8")
        assert_refused(pv_ready("sms", "report", str(tmp_path / "broken.json")), 3, "is not JSON")
        assert_refused(pv_ready("sms", "report", str(tmp_path / "missing.json")), 3, "does not exist")


def test_stopp_from_a_known_number_withdraws_sms_marketing_consent(pv_ready, tmp_path, unchanged):
    sid = customer(pv_ready, 1, relationship=False)
    assert_ok(
        pv_ready(
            "consent",
            "give",
            "--method",
            "web",
            sid,
            "--purpose",
            "marketing",
            "--channel",
            "sms",
            "--now",
            NOW,
        )
    )
    mo = {"source": e164(1)[1:], "destination": "NO2000", "content": {"type": "text", "userData": "  Stopp\n"}}
    known = pv_ready("sms", "inbound", write(tmp_path, "mo.json", mo), "--now", LATER)
    assert_ok(known)
    ledger = pv_ready.json("consent", "show", sid)
    assert [(e["action"], e["method"]) for e in ledger["events"]] == [("given", "web"), ("withdrawn", "sms_reply")]
    assert ledger["marketing"]["sms"]["allowed"] is False
    assert_refused(
        pv_ready("sms", "send", sid, "--purpose", "marketing", "--text", "Tilbud!", "--yes", "--now", LATER),
        6,
        "was withdrawn",
    )

    with unchanged():
        stranger = {"source": e164(99), "content": {"userData": "STOPP"}}
        unknown = pv_ready("sms", "inbound", write(tmp_path, "stranger.json", stranger), "--now", LATER)
        assert_ok(unknown)
        assert unknown.stdout == known.stdout  # the answer does not tell whether the number is a customer's
        assert e164(99) not in unknown.stdout + unknown.stderr
        again = pv_ready("sms", "inbound", write(tmp_path, "again.json", mo), "--now", LATER)
        assert again.stdout == known.stdout  # no consent left to withdraw: nothing changes, no error either
        chatter = pv_ready.json("sms", "inbound", write(tmp_path, "hei.json", mo | {"content": {"userData": "Hei"}}))
        assert chatter == {"keyword": None}
        nonsense = {"source": "not a number", "content": {"userData": "STOPP"}}
        assert_ok(pv_ready("sms", "inbound", write(tmp_path, "nonsense.json", nonsense)))
        assert_refused(pv_ready("sms", "inbound", write(tmp_path, "empty.json", {})), 3, "source")


def test_without_credentials_rows_wait_visibly(pv_ready, no_link):
    sid = customer(pv_ready, 1)
    row_id = send(pv_ready, sid)["outbox_id"]
    tally = pv_ready.json("worker", "--once", "--now", LATER)
    assert (tally["waiting"], tally["delivered"]) == (1, 0)
    assert tally["errors"][0].startswith("waiting for credentials: set PERSONVERN_LINKMOBILITY_USER, ")
    [row] = pv_ready.json("outbox", "list")["rows"]
    assert (row["id"], row["state"], row["attempts"]) == (row_id, "pending", 0)
    assert row["last_error"] == tally["errors"][0]
    human = pv_ready("worker", "--once", "--now", "2026-11-25T14:00:00+00:00")
    assert_ok(human)
    assert "delivered 0, retrying 0, dead 0, waiting 1" in human.stdout


def test_refused_credentials_make_the_row_dead_until_retried(pv_ready, link, monkeypatch):
    sid = customer(pv_ready, 1)
    row_id = send(pv_ready, sid)["outbox_id"]
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", "wrong")
    assert pv_ready.json("worker", "--once", "--now", LATER)["dead"] == 1
    [dead] = pv_ready.json("outbox", "list", "--dead")["rows"]
    assert dead["id"] == row_id
    assert "refused the credentials: check PERSONVERN_LINKMOBILITY_USER" in dead["last_error"]
    listed = pv_ready("outbox", "list", "--dead")
    assert_ok(listed)
    assert row_id in listed.stdout and "dead" in listed.stdout

    assert_refused(pv_ready("outbox", "retry", "f" * 32), 4, "no outbox row")
    monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", ENV["PERSONVERN_LINKMOBILITY_PASSWORD"])
    retried = pv_ready.json("outbox", "retry", row_id, "--now", LATER)
    assert (retried["state"], retried["attempts"]) == ("pending", 0)
    assert_refused(pv_ready("outbox", "retry", row_id), 5, "is pending; only a dead row can be retried")
    assert pv_ready.json("worker", "--once", "--now", LATER)["delivered"] == 1
    assert [r["refId"] for r in link.received] == [row_id]  # the refused attempt never reached the fake's log
    assert_refused(pv_ready("outbox", "list", "--role", "marketing"), 6, "may not see the outbox")
    assert_refused(pv_ready("worker", "--once", "--role", "auditor"), 6, "may not run deliveries from the outbox")


def test_the_worker_forgets_message_texts_after_the_policys_period(pv_ready, link):
    sid = customer(pv_ready, 1)
    queued = send(pv_ready, sid)
    stored = "SELECT text_ct IS NOT NULL, status FROM messages WHERE id = :id"
    assert pv_ready.json("worker", "--once", "--now", LATER)["texts_dropped"] == 0
    assert [tuple(r) for r in sql(pv_ready.db_url, stored, id=queued["message_id"])] == [(True, "queued")]
    # 90 days in the bundled policy: on day 91 the text goes, the metadata stays.
    assert pv_ready.json("worker", "--once", "--now", "2027-02-24T12:00:00+00:00")["texts_dropped"] == 1
    assert [tuple(r) for r in sql(pv_ready.db_url, stored, id=queued["message_id"])] == [(False, "queued")]


@pytest.mark.parametrize(
    "reply", ["STOPP", "STOP", "Stopp.", "«STOPP»", " stop! ", "Avmeld", "UNSUBSCRIBE", "Meld meg av"]
)
def test_every_plain_stop_reply_withdraws(pv_ready, tmp_path, reply):
    sid = customer(pv_ready, 1, relationship=False)
    assert_ok(
        pv_ready("consent", "give", sid, "--purpose", "marketing", "--channel", "sms", "--method", "web", "--now", NOW)
    )
    mo = write(tmp_path, "mo.json", {"source": e164(1), "content": {"userData": reply}})
    assert pv_ready.json("sms", "inbound", mo, "--now", LATER) == {"keyword": "STOPP"}
    assert pv_ready.json("consent", "show", sid)["marketing"]["sms"]["allowed"] is False


@pytest.mark.parametrize("reply", ["Stopp nå", "ikke stopp", "STOPPE", "Stopp reklame takk", "Hei"])
def test_a_reply_that_is_not_clearly_a_stop_word_changes_nothing(pv_ready, tmp_path, unchanged, reply):
    sid = customer(pv_ready, 1, relationship=False)
    assert_ok(
        pv_ready("consent", "give", sid, "--purpose", "marketing", "--channel", "sms", "--method", "web", "--now", NOW)
    )
    mo = write(tmp_path, "mo.json", {"source": e164(1), "content": {"userData": reply}})
    with unchanged():
        said = pv_ready("sms", "inbound", mo, "--now", LATER)
    assert_ok(said)
    assert said.stdout.strip() == "not a keyword; nothing to do"


def test_the_report_and_inbound_file_formats_are_in_the_help(pv):
    report = pv("sms", "report", "--help")
    assert_ok(report)
    for needle in ('"refId"', '"resultCode"', "ignored", "final"):
        assert needle in report.stdout
    inbound = pv("sms", "inbound", "--help")
    assert_ok(inbound)
    for needle in ("STOPP", "STOP", "UNSUBSCRIBE", "AVMELD", "userData"):
        assert needle in inbound.stdout
