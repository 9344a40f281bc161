"""Every recipient covered, through the CLI on both databases: an erasure waits for HubSpot and Finago, tasks,
the accounting export, the auditor's view and processor agreements."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import NOW, add, assert_ok, assert_refused, bundled_policy_text, count
from tests.fakes_hubspot import FakeHubSpot, Reply, pointed_at
from tests.saft_schema import errors

T1 = "2026-11-25T13:00:00+00:00"
DUE = "2026-11-25T13:20:00+00:00"  # the deletion's ten minutes have passed
LATER = "2026-11-25T13:40:00+00:00"
MONTH_ON = "2026-12-24T12:00:00+00:00"


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot()
    with pointed_at(fake, monkeypatch):
        yield fake


def customer(pv, n: int) -> str:
    """Person n with an order (a customer of the accounts), shared with HubSpot on consent to email marketing."""
    sid = add(pv, n)
    assert_ok(pv("relationship", "start", sid, "--type", "order", "--now", NOW))
    assert_ok(pv("consent", "give", "--method", "web", sid, "--channel", "email", "--now", NOW))
    return sid


def recipients(pv, request_id: str, now: str = LATER) -> dict[str, dict]:
    shown = pv.json("request", "show", request_id, "--now", now)
    return {r["recipient"]: r for r in shown["recipients"]}


def test_an_erasure_completes_only_after_hubspots_deletion_and_the_ceos_finago_task(
    pv_ready, hubspot: FakeHubSpot, tmp_path: Path
) -> None:
    sid = customer(pv_ready, 1)
    assert pv_ready.json("worker", "--once", "--now", T1)["delivered"] == 1
    exported = pv_ready.json("export", "saft", "--out", str(tmp_path / "saft.xml"), "--now", T1)
    assert (exported["recipient"], exported["customers"]) == ("finago", 1)
    opened = pv_ready.json("request", "open", "--type", "erasure", "--subject", sid, "--now", T1)
    assert_ok(pv_ready("request", "verify", opened["id"], "--method", "bankid", "--now", T1))
    fulfilled = pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / "e"), "--now", T1)
    assert_ok(fulfilled)
    assert f"request {opened['id']} carried out" in fulfilled.stdout
    assert "finago: erase the person; keep only full_name, email until" in fulfilled.stdout
    assert "stays in progress until every recipient has confirmed" in fulfilled.stdout
    seen = recipients(pv_ready, opened["id"], T1)
    assert {k: (v["confirm_by"], v["state"]) for k, v in seen.items()} == {
        "auditor": ("nothing", "not_needed"),
        "finago": ("task", "pending"),
        "hubspot": ("outbox", "pending"),
        "linkmobility": ("nothing", "not_needed"),
    }
    # HubSpot is down when the deletion falls due.
    hubspot.then(Reply(503, {"status": "error", "category": "INTERNAL_ERROR"}))
    assert pv_ready.json("worker", "--once", "--now", DUE)["retrying"] == 1
    shown = pv_ready("request", "show", opened["id"], "--now", DUE)
    assert f"request {opened['id']}: erasure (Art. 17), in progress" in shown.stdout
    assert "waiting for the delivery of outbox row" in shown.stdout and "HTTP 503" in shown.stdout
    assert pv_ready.json("request", "show", opened["id"], "--now", DUE)["state"] == "in_progress"
    # HubSpot back: its deletion is delivered and confirmed; Finago's task still open.
    assert pv_ready.json("worker", "--once", "--now", LATER)["delivered"] == 1
    assert hubspot.contacts == {} and hubspot.deleted == ["1001"]
    seen = recipients(pv_ready, opened["id"])
    assert seen["hubspot"]["state"] == "confirmed" and seen["hubspot"]["confirmed_at"] == LATER
    assert pv_ready.json("request", "show", opened["id"], "--now", LATER)["state"] == "in_progress"
    [task] = pv_ready.json("task", "list", "--now", LATER)["tasks"]
    assert (task["id"], task["recipient"], task["overdue"]) == (seen["finago"]["id"], "finago", False)
    done = pv_ready("task", "done", task["id"], "--note", "slettet i Finago, sak 4411", "--now", LATER)
    assert_ok(done)
    assert f"task {task['id']} done: Accountor Finago: erase the person" in done.stdout
    final = pv_ready.json("request", "show", opened["id"], "--now", LATER)
    assert final["state"] == "completed" and final["closed_at"] == LATER
    assert {r["recipient"]: r["state"] for r in final["recipients"]} == {
        "auditor": "not_needed",
        "finago": "confirmed",
        "hubspot": "confirmed",
        "linkmobility": "not_needed",
    }
    assert pv_ready.json("task", "list", "--now", LATER)["tasks"] == []
    assert [t["note"] for t in pv_ready.json("task", "list", "--all", "--now", LATER)["tasks"]] == [
        "slettet i Finago, sak 4411"
    ]
    assert_ok(pv_ready("audit", "verify"))


def test_an_overdue_task_shows_on_the_request_and_the_task_list(pv_ready, tmp_path: Path) -> None:
    sid = customer(pv_ready, 1)
    pv_ready.json("export", "customers", "--format", "csv", "--out", str(tmp_path / "k.csv"), "--now", T1)
    fix = ("--set", "full_name=Kari Berg")
    opened = pv_ready.json("request", "open", "--type", "rectification", "--subject", sid, *fix, "--now", T1)
    assert_ok(pv_ready("request", "verify", opened["id"], "--method", "bankid", "--now", T1))
    assert_ok(pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / "r"), "--now", T1))
    [task] = pv_ready.json("task", "list", "--now", MONTH_ON)["tasks"]
    assert task["overdue"] is True and task["action"] == "correct full_name"
    listed = pv_ready("task", "list", "--now", MONTH_ON)
    assert "OVERDUE" in listed.stdout
    shown = pv_ready("request", "show", opened["id"], "--now", MONTH_ON)
    assert "OVERDUE since 2026-12-22" in shown.stdout
    worker = pv_ready.json("worker", "--once", "--now", MONTH_ON)
    assert any(r.startswith("1 task(s) for recipients of requests are overdue") for r in worker["reminders"])


def test_task_done_refuses_bad_input_and_other_roles_and_stores_nothing(pv_ready, unchanged, tmp_path: Path) -> None:
    sid = customer(pv_ready, 1)
    pv_ready.json("export", "saft", "--out", str(tmp_path / "s.xml"))
    opened = pv_ready.json("request", "open", "--type", "erasure", "--subject", sid)
    assert_ok(pv_ready("request", "verify", opened["id"], "--method", "bankid"))
    assert_ok(pv_ready("request", "fulfil", opened["id"], "--out", str(tmp_path / "e")))
    seen = recipients(pv_ready, opened["id"], NOW)
    task, hub = seen["finago"]["id"], seen["hubspot"]
    with unchanged():
        assert pv_ready("task", "done", task).exit_code == 2  # --note is required
        assert_refused(pv_ready("task", "done", task, "--note", "  "), 3, "note")
        assert_refused(pv_ready("task", "done", "nosuchtask", "--note", "done"), 4, "nosuchtask")
        assert_refused(pv_ready("task", "done", task, "--note", "done", "--role", "staff"), 6, "staff")
        assert_refused(pv_ready("task", "list", "--role", "auditor"), 6, "auditor")
        assert_refused(pv_ready("task", "list", "--limit", "0"), 3, "limit")
        assert hub["confirm_by"] == "outbox"  # shared on consent: HubSpot may hold the person (no token here)
        assert_refused(pv_ready("task", "done", hub["id"], "--note", "x"), 5, "delivery of outbox row")
    assert_ok(pv_ready("task", "done", task, "--note", "done"))
    assert_refused(pv_ready("task", "done", task, "--note", "again"), 5, "confirmed already")


def test_the_saft_export_of_the_demo_register_validates(pv, tmp_path: Path) -> None:
    assert_ok(pv("demo", "--subjects", "60", "--now", NOW))
    out = tmp_path / "saft.xml"
    said = pv("export", "saft", "--out", str(out))
    assert_ok(said)
    assert "customers for finago (saft, sha256" in said.stdout
    content = out.read_bytes()
    assert errors(content) == []
    assert "Ø".encode() in content or "Å".encode() in content or "æ".encode() in content
    assert b"<Type>Private</Type>" in content and b"<Type>Company</Type>" in content
    assert out.stat().st_mode & 0o777 == 0o600
    csv_text = pv("export", "customers", "--format", "csv")
    assert_ok(csv_text)
    rows = list(csv.DictReader(io.StringIO(csv_text.stdout.lstrip("\ufeff"))))
    assert rows and "phone" not in rows[0] and "national_id" not in rows[0]
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    assert "each customer's disclosure is recorded" in csv_text.stderr  # the file went to stdout


def test_export_refuses_bad_input_and_records_nothing(pv_ready, tmp_path: Path) -> None:
    customer(pv_ready, 1)
    taken = tmp_path / "taken.xml"
    taken.write_text("mine")
    before = count(pv_ready.db_url, "exports")
    assert_refused(pv_ready("export", "customers", "--format", "xlsx"), 3, "format")
    assert_refused(pv_ready("export", "saft", "--json"), 3, "--out")
    assert_refused(pv_ready("export", "saft", "--out", str(taken)), 3, "exists")
    assert taken.read_text() == "mine"
    assert_refused(pv_ready("export", "saft", "--recipient", "hubspot"), 3, "recipient")
    assert_refused(pv_ready("export", "saft", "--role", "marketing"), 6, "marketing")
    assert_refused(pv_ready("export", "saft", "--role", "auditor", "--recipient", "finago"), 6, "auditor")
    assert count(pv_ready.db_url, "exports") == before == 0
    assert not (tmp_path / "nothing.xml").exists()


def test_the_auditor_reads_exactly_the_accounting_view(pv_ready, tmp_path: Path) -> None:
    sid = customer(pv_ready, 1)
    auditor = ("--role", "auditor")
    exported = pv_ready.json("export", "saft", "--out", str(tmp_path / "a.xml"), *auditor)
    assert exported["recipient"] == "auditor"
    assert_ok(pv_ready("record", "export", *auditor))
    assert pv_ready.json("audit", "verify", *auditor)["ok"] is True
    for refused in (
        ("marketing", "audience", "--channel", "sms", "--count"),
        ("sms", "list"),
        ("consent", "show", sid),
        ("archive", "list"),
        ("outbox", "list"),
        ("audit", "log"),
        ("request", "list"),
        ("task", "list"),
        ("processors", "reconcile", "hubspot"),
    ):
        assert_refused(pv_ready(*refused, *auditor), 6, "auditor")


def test_policy_check_warns_of_processor_agreements(pv, tmp_path: Path) -> None:
    text = bundled_policy_text()
    line = next(x for x in text.splitlines() if x.startswith("agreement = { signed_on = 2024-03-01"))
    without = tmp_path / "p.toml"
    without.write_text(text.replace(line + "\n", ""), "utf-8")
    checked = pv("policy", "check", str(without), "--now", NOW, db=False)
    assert_ok(checked)
    assert "warning: recipients.hubspot.agreement: processor 'hubspot' has no processor agreement" in checked.stdout
    late = pv("policy", "check", "src/personvern/policy/bundled/24center.toml", "--now", "2027-07-01", db=False)
    assert_ok(late)
    assert "the processor agreement with 'finago' was due for review on 2027-06-01" in late.stdout


def test_processors_agreements_lists_where_each_stands(pv_ready) -> None:
    now = pv_ready.json("processors", "agreements", "--now", NOW)["agreements"]
    assert {a["recipient"]: a["state"] for a in now} == dict.fromkeys(("finago", "hubspot", "linkmobility"), "current")
    soon = pv_ready.json("processors", "agreements", "--now", "2027-05-10")["agreements"]
    assert [(a["recipient"], a["state"], a["days_left"]) for a in soon if a["state"] != "current"] == [
        ("finago", "due", 22)
    ]
    assert_refused(pv_ready("processors", "agreements", "--role", "marketing"), 6, "marketing")
    record = json.loads(pv_ready("record", "export").stdout)
    assert {r["key"]: bool(r["agreement"]) for r in record["recipients"]} == {
        "auditor": False,
        "finago": True,
        "hubspot": True,
        "linkmobility": True,
    }
