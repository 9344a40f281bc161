"""What was queued while a person still said yes does not go once they say no (GDPR Art. 7(3), 18, 21), both DBs.

And rows that waited for credentials go on the first `worker --once` after the credentials are set.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.support import NOW, add, assert_ok, assert_refused, e164, sql
from tests.fakes_hubspot import FakeHubSpot
from tests.fakes_hubspot import pointed_at as hubspot_at
from tests.fakes_linkmobility import ENV, FakeLink
from tests.fakes_linkmobility import pointed_at as link_at

T1 = "2026-11-25T13:00:00+00:00"
T2 = "2026-11-25T14:00:00+00:00"
T3 = "2026-11-25T15:00:00+00:00"
UNCONFIGURED = [*ENV, "PERSONVERN_LINKMOBILITY_URL", "PERSONVERN_HUBSPOT_TOKEN", "PERSONVERN_HUBSPOT_URL"]
MESSAGE_STATUS = "SELECT status, status_text FROM messages WHERE outbox_id = :row"


@pytest.fixture
def unconfigured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in UNCONFIGURED:
        monkeypatch.delenv(name, raising=False)


def marketing_sms(pv, sid: str, now: str = NOW) -> str:
    args = ("sms", "send", sid, "--purpose", "marketing", "--text", "Tilbud!", "--now", now)
    return str(pv.json(*args)["outbox_id"])


def dead_rows(pv) -> dict[str, dict]:
    return {r["id"]: r for r in pv.json("outbox", "list", "--dead")["rows"]}


def test_withdrawal_and_restriction_stop_what_waited_for_credentials(pv_ready, unconfigured, monkeypatch):
    """The reviewer's case: queued without credentials, then withdrawn and restricted; the next pass sends nothing."""
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("consent", "give", sid, "--channel", "sms", "--method", "web", "--now", NOW))
    assert_ok(
        pv_ready("consent", "give", sid, "--channel", "email", "--method", "web", "--now", NOW)
    )  # queues the HubSpot share
    sms_row = marketing_sms(pv_ready, sid)
    waiting = pv_ready.json("worker", "--once", "--now", T1)
    assert (waiting["waiting"], waiting["delivered"]) == (2, 0)
    [share_row] = [r["id"] for r in pv_ready.json("outbox", "list")["rows"] if r["kind"] == "hubspot.upsert"]

    assert_ok(pv_ready("consent", "withdraw", sid, "--channel", "sms", "--method", "web", "--now", T1))
    assert_ok(pv_ready("restrict", sid, "--reason", "disputes the data", "--now", T1))

    link, hubspot = FakeLink(), FakeHubSpot()
    with link_at(link, monkeypatch), hubspot_at(hubspot, monkeypatch):
        tally = pv_ready.json("worker", "--once", "--now", T2)
    assert link.received == []
    assert hubspot.contacts == {}  # no contact created «with freely given consent»
    assert tally["delivered"] == 0

    dead = dead_rows(pv_ready)
    assert dead[sms_row]["last_error"] == "cancelled: consent to marketing by sms was withdrawn on 2026-11-25"
    assert dead[share_row]["last_error"] == "cancelled: processing is restricted (Art. 18) since 2026-11-25"
    listed = pv_ready("outbox", "list", "--dead")
    assert_ok(listed)
    assert "cancelled: consent to marketing by sms" in listed.stdout
    for secret in (e164(1), "person1@", "Tilbud", "disputes"):
        assert secret not in listed.stdout + json.dumps(dead)
    assert [tuple(r) for r in sql(pv_ready.db_url, MESSAGE_STATUS, row=sms_row)] == [
        ("cancelled", "cancelled: consent to marketing by sms was withdrawn on 2026-11-25")
    ]
    assert_ok(pv_ready("audit", "verify"))


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("stopp", "consent to marketing by sms was withdrawn on 2026-11-25"),
        ("object", "the person objected to marketing on 2026-11-25 (Art. 21(3): absolute for direct marketing)"),
        ("restrict", "processing is restricted (Art. 18) since 2026-11-25"),
    ],
)
def test_each_way_of_saying_no_cancels_the_queued_marketing_sms(pv_ready, unconfigured, tmp_path, how, reason):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("relationship", "start", sid, "--now", NOW))
    assert_ok(pv_ready("consent", "give", sid, "--channel", "sms", "--method", "web", "--now", NOW))
    row = marketing_sms(pv_ready, sid)
    service = pv_ready.json("sms", "send", sid, "--purpose", "service", "--text", "Kortet er klart", "--now", NOW)
    if how == "stopp":
        mo = tmp_path / "mo.json"
        mo.write_text(json.dumps({"source": e164(1)[1:], "content": {"userData": "Stopp."}}), "utf-8")
        assert_ok(pv_ready("sms", "inbound", str(mo), "--now", T1))
    elif how == "object":
        assert_ok(pv_ready("object", sid, "--purpose", "marketing", "--now", T1))
    else:
        assert_ok(pv_ready("restrict", sid, "--now", T1))
    # At once, before any worker: the row is dead and says why.
    dead = dead_rows(pv_ready)
    assert dead[row]["last_error"] == f"cancelled: {reason}"
    # The service message is the customer's order's; only a restriction stops it too (Art. 18(2)).
    assert (service["outbox_id"] in dead) is (how == "restrict")


def test_outbox_retry_does_not_revive_what_is_no_longer_allowed(pv_ready, monkeypatch, unchanged):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("consent", "give", sid, "--channel", "sms", "--method", "web", "--now", NOW))
    row = marketing_sms(pv_ready, sid)
    link = FakeLink()
    with link_at(link, monkeypatch):
        monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", "wrong")
        assert pv_ready.json("worker", "--once", "--now", T1)["dead"] == 1
        assert_ok(pv_ready("consent", "withdraw", sid, "--channel", "sms", "--method", "web", "--now", T1))
        monkeypatch.setenv("PERSONVERN_LINKMOBILITY_PASSWORD", ENV["PERSONVERN_LINKMOBILITY_PASSWORD"])
        with unchanged():
            assert_refused(
                pv_ready("outbox", "retry", row, "--now", T2),
                6,
                f"outbox row {row} may no longer be sent: consent to marketing by sms was withdrawn on 2026-11-25",
            )
        assert pv_ready.json("worker", "--once", "--now", T3)["delivered"] == 0
    assert link.accepted == []


def test_rows_that_waited_for_credentials_go_on_the_next_pass(pv_ready, unconfigured, monkeypatch):
    sid = add(pv_ready, 1)
    assert_ok(pv_ready("relationship", "start", sid, "--now", NOW))
    rows = [
        pv_ready.json("sms", "send", sid, "--purpose", "service", "--text", f"Melding {n}", "--now", NOW)["outbox_id"]
        for n in range(7)
    ]
    waiting = pv_ready("worker", "--once", "--now", T1)
    assert_ok(waiting)
    assert "waiting 7; 7 rows still pending; the 7 waiting are tried again on the next pass" in waiting.stdout
    assert all(r["last_error"].startswith("waiting for credentials") for r in pv_ready.json("outbox", "list")["rows"])

    link = FakeLink()
    with link_at(link, monkeypatch):
        # The same instant: no minute's wait once the credentials are there.
        done = pv_ready("worker", "--once", "--now", T1)
    assert_ok(done)
    assert "delivered 7, retrying 0, dead 0, waiting 0; nothing pending" in done.stdout
    assert sorted(link.accepted) == sorted(rows)


def test_the_pass_says_when_the_next_row_is_due(pv_ready, monkeypatch):
    from tests.fakes_linkmobility import Reply

    sid = add(pv_ready, 1)
    assert_ok(pv_ready("relationship", "start", sid, "--now", NOW))
    pv_ready.json("sms", "send", sid, "--purpose", "service", "--text", "Hei", "--now", NOW)
    link = FakeLink().then(Reply(503, {"description": "Service Unavailable"}, {"Retry-After": "120"}))
    with link_at(link, monkeypatch):
        tally = pv_ready.json("worker", "--once", "--now", T1)
    assert (tally["retrying"], tally["pending"], tally["next_attempt_at"]) == (1, 1, "2026-11-25T13:02:00+00:00")
