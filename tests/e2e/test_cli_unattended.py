"""The worker's unattended sweep against a policy that would empty the register in one night (issue 16), both databases.

It does nothing, says so on every pass (and in `retention plan`), until the CEO has looked at the plan and run
`retention run`; then it goes on alone within the policy's [unattended] limit.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.support import ONE_TIME, assert_ok, bundled_policy_text, count, phone

T0 = "2026-03-02T09:00:00+00:00"


def at(day: str) -> str:
    return f"{day}T08:00:00+00:00"


def _people(tmp_path: Path, n: int) -> str:
    path = tmp_path / "people.csv"
    rows = "".join(f"Person {i} Nordmann,{phone(i)},person{i}@example.no\n" for i in range(n))
    path.write_text("full_name,phone,email\n" + rows, "utf-8")
    return str(path)


def test_a_policy_that_would_archive_everyone_waits_for_the_ceo(pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert_ok(pv("init", "--now", T0))
    assert_ok(pv("subject", "import", _people(tmp_path, 60), "--kind", ONE_TIME, "--now", T0))
    # The first sweep is the CEO's; nothing is due (prospects are kept 90 days), and the worker goes on alone.
    assert pv.json("retention", "run", "--now", at("2026-03-02"))["due"] == 0
    assert pv.json("worker", "--once", "--now", at("2026-03-03"))["retention_waiting"] is None
    # A new policy keeps prospects 30 days, not 90: the 60 are due at once, far over 2 % of the register.
    text = bundled_policy_text().replace(
        'keep = { days = 90 }\ndescription = { nb = "Før', 'keep = { days = 30 }\ndescription = { nb = "Før', 1
    )
    assert "days = 30" in text
    policy = tmp_path / "shorter.toml"
    policy.write_text(text.replace('version = "2026.1"', 'version = "2026.2"', 1), "utf-8")
    assert_ok(pv("init", "--policy", str(policy), "--now", at("2026-04-02")))
    for day in ("2026-04-02", "2026-04-02", "2026-04-03"):  # every pass says so, day after day
        passed = pv("worker", "--once", "--now", at(day))
        assert_ok(passed)
        assert f"retention sweep waiting for the CEO: 60 subject(s) are due on {day}" in passed.stdout
        assert "more than the 2 the worker may archive or erase on its own" in passed.stdout
        assert count(pv.db_url, "subjects") == 60 and count(pv.db_url, "archive_records") == 0
    state = pv.json("worker", "--once", "--now", at("2026-04-03"))["retention_waiting"]
    assert (state["due"], state["allowed"], state["register"], state["waiting"]) == (60, 2, 60, True)
    plan = pv("retention", "plan", "--now", at("2026-04-03"))
    assert_ok(plan)
    assert "the worker waits for the CEO: 60 subject(s) are due" in plan.stdout
    assert pv.json("retention", "plan", "--now", at("2026-04-03"))["unattended"]["waiting"] is True
    # The CEO has looked at the plan: the run is the confirmation.
    confirmed = pv("retention", "run", "--now", at("2026-04-03"))
    assert_ok(confirmed)
    assert "archived 60" in confirmed.stdout and "the worker was waiting for this run" in confirmed.stdout
    assert count(pv.db_url, "archive_records") == 60
    after = pv.json("worker", "--once", "--now", at("2026-04-04"))
    assert after["retention_waiting"] is None and after["retention_swept"] == 0
    held = [d for (d,) in _details(pv.db_url, "retention.held")]
    assert len(held) == 2  # once a day: 2 and 3 April


def _details(url: str, action: str) -> list[tuple[str]]:
    from tests.e2e.support import sql

    return sql(url, "SELECT details FROM audit_log WHERE action = :action ORDER BY seq", action=action)


def test_an_import_that_would_archive_too_many_at_once_waits_for_the_ceo(pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert_ok(pv("init", "--now", T0))
    kept = tmp_path / "customers.csv"
    rows = "".join(f"Person {i} Nordmann,{phone(i)},person{i}@example.no,2024-05-01\n" for i in range(60))
    kept.write_text("full_name,phone,email,order_date\n" + rows, "utf-8")
    assert pv.json("subject", "import", str(kept), "--kind", ONE_TIME, "--now", T0)["due_at_once"] == 0
    assert pv.json("retention", "run", "--now", at("2026-03-02"))["due"] == 0  # the CEO's first run: confirmed
    # An old list of leads, received years ago, nothing keeping them: the dry run says what would happen.
    leads = tmp_path / "leads.csv"
    old = "".join(f"Lead {i} Hansen,{phone(i)},lead{i}@example.no,2021-04-01\n" for i in range(100, 130))
    leads.write_text("full_name,phone,email,received_at\n" + old, "utf-8")
    checked = pv("subject", "import", str(leads), "--kind", ONE_TIME, "--check", "--now", at("2026-03-03"))
    assert_ok(checked)
    assert "due for archiving or erasure at once: 30 of them" in checked.stdout
    assert "the worker's next sweep would find 30 due in the register, more than the 2 it may" in checked.stdout
    assert count(pv.db_url, "subjects") == 60
    assert pv.json("subject", "import", str(leads), "--kind", ONE_TIME, "--now", at("2026-03-03"))["worker_waits"]
    stopped = pv("worker", "--once", "--now", at("2026-03-04"))
    assert_ok(stopped)
    assert "retention sweep waiting for the CEO: 30 subject(s) are due on 2026-03-04, more than the 2" in stopped.stdout
    assert count(pv.db_url, "subjects") == 90 and count(pv.db_url, "archive_records") == 0
    assert pv.json("retention", "run", "--now", at("2026-03-04"))["archived"] == 30  # the CEO confirms
    assert pv.json("worker", "--once", "--now", at("2026-03-05"))["retention_waiting"] is None
    assert count(pv.db_url, "subjects") == 60
