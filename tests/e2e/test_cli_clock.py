"""The clock: a register initialised with --now is a simulation; a real one takes --now for previews only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from personvern.bootstrap import Settings, open_runtime
from tests.e2e.support import NOW, ONE_TIME, add, assert_ok, assert_refused, person, sql

LATER = "2040-01-01T12:00:00+00:00"


def _real_register_with_a_finished_order(pv):  # type: ignore[no-untyped-def]
    assert_ok(pv("init"))
    sid = add(pv, 1)
    assert_ok(pv("relationship", "start", sid, "--type", "order"))
    assert_ok(pv("relationship", "end", sid))
    return sid


def _simulation(url: str) -> bool:
    runtime = open_runtime(Settings.resolve(url))
    try:
        return runtime.simulation
    finally:
        runtime.close()


def test_a_register_initialised_without_now_is_real_and_with_now_a_simulation(pv, db_url):
    assert pv.json("init")["simulation"] is False
    assert _simulation(db_url) is False
    assert pv.json("init", "--now", NOW)["simulation"] is False  # fixed at the first init, for good


def test_a_simulation_register_takes_now_for_changes(pv_ready, db_url):
    assert _simulation(db_url) is True
    sid = add(pv_ready, 1, ONE_TIME, "--now", NOW)
    assert_ok(pv_ready("relationship", "start", sid, "--type", "order", "--now", NOW))
    assert_ok(pv_ready("relationship", "end", sid, "--now", NOW))
    run = pv_ready.json("retention", "run", "--now", LATER)
    assert run["archived"] + run["erased"] + run["erased_except_held"] == 1


def test_a_real_register_refuses_now_for_every_change(pv, unchanged, monkeypatch):
    sid = _real_register_with_a_finished_order(pv)
    with unchanged():
        # The reviewer's case: people archived and erased years early, and a sweep dated 2040.
        assert_refused(pv("retention", "run", "--now", LATER), 6, "--now", "PERSONVERN_NOW", "real")
        assert_refused(pv("--now", LATER, "subject", "add", *person(2)), 6, "--now")
        assert_refused(pv("subject", "update", sid, "--set", "full_name=Kari", "--now", LATER), 6, "--now")
        assert_refused(pv("request", "open", "--type", "access", "--subject", sid, "--now", LATER), 6, "--now")
        assert_refused(pv("worker", "--once", "--now", LATER), 6, "--now")
        monkeypatch.setenv("PERSONVERN_NOW", LATER)
        assert_refused(pv("retention", "run"), 6, "PERSONVERN_NOW")
        assert_refused(pv("relationship", "start", sid, "--type", "order"), 6, "PERSONVERN_NOW")


def test_a_real_register_previews_on_a_moved_clock_and_audits_at_the_real_time(pv, db_url):
    sid = _real_register_with_a_finished_order(pv)
    before = datetime.now(UTC) - timedelta(minutes=1)
    plan = pv.json("retention", "plan", "--now", LATER)
    assert [s["subject_id"] for s in plan["subjects"]] == [sid]
    assert pv.json("request", "list", "--now", LATER)["requests"] == []
    assert_ok(pv("subject", "show", sid, "--now", LATER))
    [(at, details)] = sql(db_url, "SELECT at, details FROM audit_log ORDER BY seq DESC LIMIT 1")
    at = at if isinstance(at, datetime) else datetime.fromisoformat(at).replace(tzinfo=UTC)
    assert before <= at <= datetime.now(UTC) + timedelta(minutes=1)  # the real time, not 2040
    assert json.loads(details)["simulated_at"] == LATER
    assert pv.json("audit", "verify")["ok"] is True
    # Nothing was carried out: the person is still due, without --now the plan is the real one.
    assert [s["subject_id"] for s in pv.json("retention", "plan", "--now", LATER)["subjects"]] == [sid]


def test_a_demo_register_is_a_simulation(pv, db_url):
    assert pv.json("demo", "--subjects", "3")["simulation"] is True
    assert _simulation(db_url) is True
    assert_ok(pv("retention", "run", "--now", LATER))


def test_demo_on_an_empty_real_register_makes_it_a_simulation_and_never_one_that_holds_people(pv, db_url):
    assert pv.json("init")["simulation"] is False
    assert pv.json("demo", "--subjects", "2")["simulation"] is True
    assert _simulation(db_url) is True


def test_demo_leaves_a_real_register_with_people_real(pv, db_url):
    assert_ok(pv("init"))
    add(pv, 1)
    data = pv.json("demo", "--subjects", "2")
    assert (data["added"], data["simulation"]) == (0, False)
    assert _simulation(db_url) is False


def test_a_preview_on_a_real_register_first_brings_stale_schedules_up_to_date_at_the_real_time(pv, db_url):
    sid = _real_register_with_a_finished_order(pv)
    sql(db_url, "UPDATE subjects SET retention_at = NULL")  # as a new policy version leaves them
    plan = pv.json("retention", "plan", "--now", LATER)
    assert [s["subject_id"] for s in plan["subjects"]] == [sid]
    [(computed,)] = sql(db_url, "SELECT retention_at FROM subjects")
    computed = computed if isinstance(computed, datetime) else datetime.fromisoformat(computed).replace(tzinfo=UTC)
    assert computed < datetime(2030, 1, 1, tzinfo=UTC)  # computed for today, not for 2040
