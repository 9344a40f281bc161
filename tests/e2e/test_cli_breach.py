"""`personvern breach …`: due at T + 72 h and overdue after it, phased notification, the report, SMS to the people."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.support import NOW, Cases, add, assert_ok, assert_refused, count, e164, sql
from tests.fakes_linkmobility import FakeLink, pointed_at

T = "2026-11-25T12:00:00+00:00"  # the breach is discovered
DUE = "2026-11-28T12:00:00+00:00"  # T + 72 h
AFTER = "2026-11-28T12:00:01+00:00"
LATER = "2026-11-30T12:00:00Z"
DESCRIPTION = "Uttrekk av kunderegisteret sendt til feil mottaker på e-post"


@pytest.fixture
def link(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLink]:
    fake = FakeLink()
    with pointed_at(fake, monkeypatch):
        yield fake


def record(pv, *more: str, now: str = T) -> dict:
    return pv.json("breach", "add", "--description", DESCRIPTION, "--discovered", T, "--now", now, *more)


def test_a_breach_added_at_t_is_due_at_t_plus_72_hours_and_overdue_after(pv_ready):
    breach = record(pv_ready)
    assert (breach["deadline"], breach["status"], breach["overdue"]) == (DUE, "due", False)
    listed = pv_ready("breach", "list", "--now", T)
    assert_ok(listed)
    assert "due 2026-11-28 13:00 (UTC+01:00) (in 72 h)" in listed.stdout
    at_deadline = pv_ready.json("breach", "list", "--now", DUE)["breaches"]
    assert [(b["id"], b["status"]) for b in at_deadline] == [(breach["id"], "due")]
    assert pv_ready.json("breach", "list", "--overdue", "--now", DUE)["breaches"] == []
    overdue = pv_ready.json("breach", "list", "--overdue", "--now", AFTER)["breaches"]
    assert [(b["id"], b["status"], b["overdue"]) for b in overdue] == [(breach["id"], "overdue", True)]
    shown = pv_ready("breach", "list", "--overdue", "--now", "2026-11-28T15:00:00+00:00")
    assert "OVERDUE since 2026-11-28 13:00 (UTC+01:00) (by 3 h)" in shown.stdout


def test_every_breach_is_documented_notified_or_not(pv_ready):
    kept = record(pv_ready, "--risk", "unlikely", "--risk-reason", "Filen var kryptert, nøkkelen ble ikke sendt")
    notified = record(pv_ready)
    assert_ok(pv_ready("breach", "notify", notified["id"], "--authority", "--reference", "AR-1", "--now", T))
    later = pv_ready.json("breach", "list", "--now", "2026-12-10T00:00:00+00:00")["breaches"]
    assert {b["id"]: b["status"] for b in later} == {kept["id"]: "not_required", notified["id"]: "notified"}
    assert pv_ready.json("breach", "list", "--overdue", "--now", "2026-12-10T00:00:00+00:00")["breaches"] == []


def test_show_gives_the_report_for_the_form_in_norwegian_and_english(pv_ready):
    b = record(pv_ready, "--cause", "Menneskelig feil", "--categories", "navn", "--categories", "e-postadresse")
    nb = pv_ready("breach", "show", b["id"], "--now", T)
    assert_ok(nb)
    assert f"breach {b['id']}: due 2026-11-28 13:00 (UTC+01:00)" in nb.stdout
    for line in (
        "Type melding: Foreløpig melding",
        "Hovedårsak: Menneskelig feil",
        "Når ble bruddet oppdaget: 2026-11-25 13:00 (UTC+01:00)",
        f"Hva har skjedd, og hvordan: {DESCRIPTION}",
        "Hvilke typer personopplysninger er berørt: navn og e-postadresse",
        "Kontaktperson: administrerende direktør, personvern@24center.no",
    ):
        assert line in nb.stdout
    en = pv_ready.json("breach", "show", b["id"], "--lang", "en", "--now", T)
    assert "Kind of notification: Initial notification" in en["report"]
    assert "Which types of personal data are affected: navn and e-postadresse" in en["report"]


def test_phased_notification_to_the_authority_with_the_reason_when_late(pv_ready, unchanged):
    b = record(pv_ready)
    late = "2026-11-29T09:00:00+00:00"
    with unchanged():
        assert_refused(
            pv_ready("breach", "notify", b["id"], "--authority", "--reference", "AR-7", "--now", late),
            3,
            "late-reason",
            "93 h after the breach was discovered",
            "Art. 33(1)",
        )
    done = pv_ready.json(
        "breach", "notify", b["id"], "--authority", "--reference", "AR-7", "--late-reason", "Omfanget var uklart",
        "--now", late,
    )  # fmt: skip
    assert (done["phase"], done["at"], done["reference"], done["late_reason"]) == (
        "initial",
        late,
        "AR-7",
        "Omfanget var uklart",
    )
    assert "Foreløpig melding" in done["content"]
    updated = pv_ready.json(
        "breach", "update", b["id"], "--consequences", "Kan gi phishing", "--measures-taken", "Mottaker slettet",
        "--records", "120", "--now", "2026-11-30T09:00:00+00:00",
    )  # fmt: skip
    assert updated["changed"] == ["consequences", "measures_taken", "records"]
    assert updated["next_phase"] == "follow_up"
    final = pv_ready.json(
        "breach", "notify", b["id"], "--authority", "--reference", "AR-7", "--phase", "final",
        "--now", "2026-11-30T10:00:00+00:00",
    )  # fmt: skip
    assert final["phase"] == "final" and "Kan gi phishing" in final["content"]
    shown = pv_ready.json("breach", "show", b["id"], "--now", "2026-11-30T11:00:00+00:00")
    assert [n["phase"] for n in shown["notifications"]] == ["initial", "final"]
    assert "Grunn til at meldingen kommer senere enn 72 timer: Omfanget var uklart" in shown["report"]
    assert_refused(
        pv_ready("breach", "notify", b["id"], "--authority", "--reference", "AR-7", "--phase", "final", "--now", LATER),
        5,
        "is closed: the final notification was given",
    )


def test_the_people_affected_are_told_by_sms_through_the_outbox(pv_ready, link):
    first, second = add(pv_ready, 1), add(pv_ready, 2)
    b = record(pv_ready, "--subject", first, "--risk", "high")
    assert b["subjects_must_be_told"] is True
    assert_ok(pv_ready("breach", "update", b["id"], "--subject", second, "--now", T))
    text = "24 Center: Vi har hatt et sikkerhetsbrudd som kan gjelde deg. Les mer på 24center.no."
    done = pv_ready.json("breach", "notify", b["id"], "--subjects", "--text", text, "--now", T)
    assert sorted(q["subject_id"] for q in done["queued"]) == sorted([first, second])
    assert (done["no_phone"], done["not_in_register"], done["restricted"]) == ([], [], [])
    assert pv_ready.json("worker", "--once", "--now", "2026-11-25T12:05:00+00:00")["delivered"] == 2
    assert sorted(r["destination"] for r in link.received) == sorted([e164(1), e164(2)])
    assert {r["userData"] for r in link.received} == {text}
    shown = pv_ready.json("breach", "show", b["id"], "--now", "2026-11-25T13:00:00+00:00")
    assert shown["subjects_must_be_told"] is False
    told = "Er de berørte varslet, og hvordan: Ja, på SMS 2026-11-25 13:00 (UTC+01:00) til 2 person(er)"
    assert told in shown["report"]


def test_a_restricted_person_gets_no_sms_and_is_named(pv_ready):
    reached, restricted = add(pv_ready, 1), add(pv_ready, 2)
    assert_ok(pv_ready("restrict", restricted, "--reason", "bestrider opplysningene", "--now", T))
    b = record(pv_ready, "--subject", reached, "--subject", restricted)
    result = pv_ready("breach", "notify", b["id"], "--subjects", "--text", "Sikkerhetsbrudd: ring oss.", "--now", T)
    assert_ok(result)
    assert "queued 1 SMS" in result.stdout
    assert f"{restricted}: processing restricted (Art. 18): no SMS; tell them another way" in result.stdout
    assert count(pv_ready.db_url, "outbox") == 1


def test_the_audit_trail_holds_every_change_and_no_free_text(pv_ready):
    pv_ready = pv_ready
    sid = add(pv_ready, 1)
    b = record(pv_ready, "--cause", "Feilsendt e-post", "--subject", sid)
    assert_ok(pv_ready("breach", "update", b["id"], "--consequences", "Svindelforsøk", "--now", T))
    assert_ok(pv_ready("breach", "notify", b["id"], "--authority", "--reference", "AR-3", "--now", T))
    rows = sql(
        pv_ready.db_url, "SELECT action, subject_id, details FROM audit_log WHERE action LIKE 'breach.%' ORDER BY seq"
    )
    assert [(a, s) for a, s, _ in rows] == [
        ("breach.add", None),
        ("breach.affect", sid),
        ("breach.update", None),
        ("breach.notify", None),
    ]
    trail = " ".join(d for _, _, d in rows)
    for secret in (DESCRIPTION, "Feilsendt e-post", "Svindelforsøk"):
        assert secret not in trail
    assert json.loads(rows[2][2])["changed"] == ["consequences"]
    assert pv_ready.json("audit", "verify")["ok"]


def test_bad_input_is_refused_and_nothing_is_stored(pv_ready, unchanged):
    b = record(pv_ready)
    sid = add(pv_ready, 1)
    cases = Cases()
    add_ = ("breach", "add", "--description", DESCRIPTION, "--now", NOW)
    with unchanged():
        for name, args, code, needles in [
            ("no description", ("breach", "add", "--discovered", T), 2, ("--description",)),
            ("bad time", (*add_, "--discovered", "yesterday"), 3, ("discovered", "ISO-8601")),
            ("discovered in the future", (*add_, "--discovered", "2026-12-01"), 3, ("discovered", "in the future")),
            (
                "occurred after discovery",
                (*add_, "--discovered", T, "--occurred", "2026-11-25T13:00:00Z"),
                3,
                ("occurred", "after the breach was discovered"),
            ),
            ("negative count", (*add_, "--discovered", T, "--people", "-2"), 3, ("people", "whole number")),
            ("not a number", (*add_, "--discovered", T, "--records", "many"), 2, ("--records",)),
            ("unknown risk", (*add_, "--discovered", T, "--risk", "severe"), 3, ("risk", "unlikely")),
            ("no risk reason", (*add_, "--discovered", T, "--risk", "unlikely"), 3, ("risk-reason",)),
            ("unknown subject", (*add_, "--discovered", T, "--subject", "nobody"), 4, ("subject", "nobody")),
            (
                "fewer people than listed",
                (*add_, "--discovered", T, "--subject", sid, "--people", "0"),
                3,
                ("people", "1 affected subjects"),
            ),
            ("control characters", (*add_, "--discovered", T, "--cause", "a\x07b"), 3, ("cause", "control")),
            ("staff", (*add_, "--discovered", T, "--role", "staff"), 6, ("role 'staff' may not",)),
            ("auditor lists", ("breach", "list", "--role", "auditor"), 6, ("role 'auditor' may not",)),
            ("unknown breach", ("breach", "show", "nope"), 4, ("no breach with id nope",)),
            ("report language", ("breach", "show", b["id"], "--lang", "de"), 3, ("lang",)),
            ("update nothing", ("breach", "update", b["id"]), 3, ("nothing to change",)),
            ("update unknown", ("breach", "update", "nope", "--cause", "x"), 4, ("no breach with id nope",)),
            ("notify both", ("breach", "notify", b["id"], "--authority", "--subjects"), 3, ("exactly one",)),
            ("notify neither", ("breach", "notify", b["id"]), 3, ("exactly one",)),
            ("no reference", ("breach", "notify", b["id"], "--authority", "--now", T), 3, ("reference",)),
            (
                "unknown phase",
                ("breach", "notify", b["id"], "--authority", "--reference", "R", "--phase", "2", "--now", T),
                3,
                ("phase", "initial, follow_up or final"),
            ),
            (
                "first is a follow-up",
                ("breach", "notify", b["id"], "--authority", "--reference", "R", "--phase", "follow_up", "--now", T),
                3,
                ("phase", "first notification is initial"),
            ),
            (
                "told before discovery",
                ("breach", "notify", b["id"], "--authority", "--reference", "R", "--at", "2026-11-24", "--now", T),
                3,
                ("at", "before the breach was discovered"),
            ),
            (
                "late reason on time",
                ("breach", "notify", b["id"], "--authority", "--reference", "R", "--late-reason", "x", "--now", T),
                3,
                ("late-reason", "within 72 hours"),
            ),
            ("no text", ("breach", "notify", b["id"], "--subjects", "--now", T), 3, ("text",)),
            (
                "nobody listed",
                ("breach", "notify", b["id"], "--subjects", "--text", "Hei", "--now", T),
                3,
                ("subjects",),
            ),
            (
                "reference for subjects",
                ("breach", "notify", b["id"], "--subjects", "--text", "Hei", "--reference", "R"),
                3,
                ("reference", "is for --authority"),
            ),
            (
                "facts for subjects",
                ("breach", "notify", b["id"], "--subjects", "--text", "Hei", "--records", "3"),
                3,
                ("records", "is for --authority or breach update"),
            ),
        ]:
            with cases.case(name):
                assert_refused(pv_ready(*args), code, *needles)
    cases.check()


def test_times_are_shown_in_the_controllers_time_zone_with_its_offset(pv_ready):
    # Issue 18: «--discovered 2026-11-25T10:00+01:00 shows as 09:00 UTC»; the report goes to Datatilsynet's form.
    b = pv_ready.json(
        "breach", "add", "--description", DESCRIPTION, "--discovered", "2026-11-25T10:00+01:00",
        "--occurred", "2026-07-01T08:30+02:00", "--now", "2026-11-25T11:00+01:00",
    )  # fmt: skip
    # JSON stays ISO-8601 in UTC, as every other command's (DESIGN §4).
    assert (b["discovered_at"], b["deadline"]) == ("2026-11-25T09:00:00+00:00", "2026-11-28T09:00:00+00:00")
    listed = pv_ready("breach", "list", "--now", "2026-11-25T11:00+01:00")
    assert_ok(listed)
    assert "2026-11-25 10:00 (UTC+01:00)" in listed.stdout
    assert "due 2026-11-28 10:00 (UTC+01:00) (in 71 h)" in " ".join(listed.stdout.split())
    assert "UTC)" not in listed.stdout.replace("(UTC+01:00)", "")
    for lang, lines in {
        "nb": (
            "Når ble bruddet oppdaget: 2026-11-25 10:00 (UTC+01:00)",
            "Frist for melding, 72 timer etter oppdagelsen: 2026-11-28 10:00 (UTC+01:00)",
            "Når skjedde bruddet, og over hvilken periode: fra 2026-07-01 08:30 (UTC+02:00)",
        ),
        "en": (
            "When was the breach discovered: 2026-11-25 10:00 (UTC+01:00)",
            "Deadline for notification, 72 hours after discovery: 2026-11-28 10:00 (UTC+01:00)",
        ),
    }.items():
        shown = pv_ready("breach", "show", b["id"], "--lang", lang, "--now", "2026-11-25T11:00+01:00")
        assert_ok(shown)
        assert f"breach {b['id']}: due 2026-11-28 10:00 (UTC+01:00) (in 71 h)" in shown.stdout
        for line in lines:
            assert line in shown.stdout
        assert "09:00" not in shown.stdout
    told = pv_ready("breach", "notify", b["id"], "--authority", "--reference", "AR-9", "--now", "2026-11-25T12:00Z")
    assert_ok(told)
    assert "notification to the authority 2026-11-25 13:00 (UTC+01:00)" in told.stdout


def test_after_the_final_notification_the_breach_is_closed_and_later_facts_are_follow_ups(pv_ready, unchanged):
    b = record(pv_ready)
    final = pv_ready.json(
        "breach", "notify", b["id"], "--authority", "--reference", "AR-8", "--phase", "final",
        "--now", "2026-11-26T10:00:00+00:00",
    )  # fmt: skip
    assert final["phase"] == "final"
    # What the authority was given says what it was: the final notification, not the next phase.
    assert "Type melding: Endelig melding" in final["content"]
    later = "2026-12-01T10:00:00+00:00"
    shown = pv_ready.json("breach", "show", b["id"], "--now", later)
    assert (shown["status"], shown["closed"], shown["next_phase"]) == ("closed", True, "follow_up")
    listed = pv_ready("breach", "list", "--now", later)
    assert "closed: final notification 2026-11-26 11:00 (UTC+01:00)" in " ".join(listed.stdout.split())
    text = pv_ready("breach", "show", b["id"], "--now", later)
    assert f"breach {b['id']}: closed: final notification 2026-11-26 11:00 (UTC+01:00)" in text.stdout
    with unchanged():
        assert_refused(
            pv_ready("breach", "update", b["id"], "--records", "120", "--now", later),
            5,
            f"breach {b['id']} is closed",
            "final notification",
            "follow-up notification",
            f"breach notify {b['id']} --authority --phase follow_up",
        )
        assert_refused(
            pv_ready(
                "breach", "notify", b["id"], "--authority", "--reference", "AR-8", "--phase", "final", "--now", later
            ),
            5,
            "closed",
            "follow_up",
        )
    # Later facts go to the authority as a follow-up, recorded with it in one step.
    follow = pv_ready.json(
        "breach", "notify", b["id"], "--authority", "--reference", "AR-8", "--records", "120",
        "--consequences", "Kan gi phishing", "--now", later,
    )  # fmt: skip
    assert follow["phase"] == "follow_up"
    assert "Type melding: Oppfølgende melding" in follow["content"]
    assert "Omtrent hvor mange registreringer er berørt: 120" in follow["content"]
    after = pv_ready.json("breach", "show", b["id"], "--now", later)
    assert (after["status"], after["records"], after["consequences"]) == ("closed", 120, "Kan gi phishing")
    assert [n["phase"] for n in after["notifications"]] == ["final", "follow_up"]
