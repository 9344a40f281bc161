"""The console's side of issues 15 and 16 on both databases: the CEO's tasks for recipients on the overview and the
request, closed with a note; the nightly sweep waiting for the CEO; processor agreements due for review."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Console
from tests.e2e.support import NOW, add, assert_ok, bundled_policy_text, count, sql


def _erased_with_a_finago_task(console, tmp_path: Path) -> tuple[str, str]:
    """A customer with an order, exported to Finago, then erased: Finago's part is a task for the CEO."""
    pv = console.pv
    sid = add(pv, 1)
    assert_ok(pv("relationship", "start", sid, "--type", "order", "--now", NOW))
    assert_ok(pv("export", "saft", "--out", str(tmp_path / "saft.xml"), "--now", NOW))
    opened = pv.json("request", "open", "--type", "erasure", "--subject", sid, "--now", NOW)
    assert_ok(pv("request", "verify", opened["id"], "--method", "bankid", "--now", NOW))
    assert_ok(pv("request", "fulfil", opened["id"], "--out", str(tmp_path / "answer"), "--now", NOW))
    [task] = pv.json("task", "list", "--now", NOW)["tasks"]
    assert task["recipient"] == "finago"
    return opened["id"], task["id"]


def test_a_finago_task_is_on_the_overview_and_closed_on_the_request(console, tmp_path: Path) -> None:
    request_id, task_id = _erased_with_a_finago_task(console, tmp_path)
    page = console.signed_in("ceo")
    overview = page.get("/console/")
    assert "Tasks for recipients" in overview.text and f"/console/requests/{request_id}#h-recipients" in overview.text
    listed = page.get("/console/tasks")
    assert listed.status_code == 200 and f"/console/requests/{request_id}#h-recipients" in listed.text
    assert console.signed_in("marketing").get("/console/tasks").status_code == 403
    shown = page.get(f"/console/requests/{request_id}")
    assert shown.status_code == 200
    assert "Recipients" in shown.text and "a task for the CEO" in shown.text and "Done at " in shown.text
    assert "waits for the recipients above" in shown.text and "Fulfil and download" not in shown.text

    # A task is closed with a note saying how: without one it is refused beside the note, and nothing changes.
    empty = page.post(f"/console/tasks/{task_id}/done", {"request": request_id, f"note-{task_id}": "  "})
    assert empty.status_code == 422 and f'id="f-note-{task_id}-error"' in empty.text
    assert sql(console.pv.db_url, "SELECT state FROM recipient_confirmations WHERE id = :i", i=task_id) == [
        ("pending",)
    ]
    staff = console.signed_in("staff")
    refused = staff.post(f"/console/tasks/{task_id}/done", {"request": request_id, f"note-{task_id}": "done"})
    assert refused.status_code == 403
    assert (
        page.post("/console/tasks/no-such-task/done", {"request": request_id, "note-no-such-task": "x"}).status_code
        == 404
    )

    done = page.post(f"/console/tasks/{task_id}/done", {"request": request_id, f"note-{task_id}": "slettet i Finago"})
    assert done.status_code == 303
    after = page.follow(done)
    assert "The task is marked as done" in after.text and "slettet i Finago" in after.text
    assert console.pv.json("request", "show", request_id, "--now", NOW)["state"] == "completed"
    assert "No task is open." in page.get("/console/").text and "No task is open." in page.get("/console/tasks").text
    # Closed once: a second note is a conflict, not a second confirmation.
    again = page.post(f"/console/tasks/{task_id}/done", {"request": request_id, f"note-{task_id}": "again"})
    assert again.status_code == 409
    assert count(console.pv.db_url, "recipient_confirmations") >= 1


def test_the_overview_says_the_nightly_sweep_waits_for_the_ceo(console) -> None:
    # Past the prospect rule's 90 days: due, and no sweep of this register has been confirmed by the CEO yet.
    add(console.pv, 1, "one_time_customer", "--now", "2026-07-25T12:00:00+00:00")
    page = console.signed_in("ceo")
    overview = page.get("/console/").text
    assert "The nightly sweep waits for you" in overview and "Look at the plan, then run it" in overview
    ran = page.post("/console/retention/run", {"confirm": "yes"})
    assert ran.status_code in (200, 303)
    assert "The nightly sweep waits for you" not in page.get("/console/").text
    # Staff see none of it.
    assert "The next retention run" not in console.signed_in("staff").get("/console/").text


def test_the_overview_warns_of_an_agreement_due_for_review(console, tmp_path: Path) -> None:
    # Finago's agreement is due for review on 2027-06-01 in the bundled policy; a policy that moves it to within a
    # month of NOW is warned of on the overview (Art. 28(3)), to those who read the record of processing.
    text = bundled_policy_text()
    assert "next_review = 2027-06-01" in text
    path = tmp_path / "policy.toml"
    path.write_text(
        text.replace("next_review = 2027-06-01", "next_review = 2026-12-10").replace(
            'version = "2026.1"', 'version = "2026.2"', 1
        ),
        "utf-8",
    )
    assert_ok(console.pv("init", "--policy", str(path), "--now", NOW))
    fresh = Console(console.pv)  # a server started after the policy was loaded
    try:
        page = fresh.signed_in("ceo")
        overview = page.get("/console/").text
        assert "Processor agreements" in overview and "is due for review on" in overview and "Finago" in overview
        assert "Processor agreements" not in fresh.signed_in("marketing").get("/console/").text
    finally:
        fresh.close()
