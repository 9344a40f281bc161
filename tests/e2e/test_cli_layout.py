"""What a person reads in an 80- and a 120-column terminal: every table whole or stacked, no id or value cut."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from rich.cells import cell_len

from personvern.bootstrap import Settings, open_runtime
from personvern.services.erasure import archive_subject
from tests.e2e.support import CONTRACT, NOW, ONE_TIME, add, assert_ok, person, values
from tests.fakes_linkmobility import ENV

LATER = "2026-11-25T13:00:00+00:00"
JAN = "2026-01-05T10:00:00+00:00"
DUE_DAY = "2026-02-02T12:00:00+00:00"  # the order of the ended customer ended the day before
LONG_NAME = "Helene Margrethe Myhre-Solberg"
FRAME = set("┏┳┓┃┡╇┩│└┴┘━─")


@dataclass
class Scene:
    """A register with something in every list: subjects, consent, an outbox row, requests, a breach, the archive."""

    contract: str
    one_time: str
    archived: str
    ended: str = ""
    requests: list[str] = field(default_factory=list)
    outbox_row: str = ""
    breach: str = ""


@pytest.fixture
def scene(pv_ready: Any, monkeypatch: pytest.MonkeyPatch) -> Scene:
    for name in [*ENV, "PERSONVERN_LINKMOBILITY_URL"]:
        monkeypatch.delenv(name, raising=False)  # the outbox row waits, with the reason as its last error
    pv = pv_ready
    contract = add(pv, 1, CONTRACT)
    one_time = pv.json("subject", "add", *person(2, ONE_TIME, full_name=LONG_NAME))["id"]
    archived = add(pv, 3)
    s = Scene(contract, one_time, archived)
    _archive(pv.db_url, archived)
    assert_ok(pv("relationship", "start", one_time, "--now", NOW))
    assert_ok(
        pv("consent", "give", contract, "--purpose", "marketing", "--channel", "sms", "--method", "web", "--now", NOW)
    )
    s.outbox_row = pv.json("sms", "send", one_time, "--purpose", "service", "--text", "Nøkkelkort", "--now", NOW)[
        "outbox_id"
    ]
    assert pv.json("worker", "--once", "--now", LATER)["waiting"] == 1
    # Added after the worker's pass, whose retention sweep would otherwise have erased its phone already.
    s.ended = add(
        pv, 4, ONE_TIME, "--set", "billing_address=Storgata 1", "--reason", "billing_address=faktura", "--now", JAN
    )
    assert_ok(pv("relationship", "start", s.ended, "--type", "order", "--on", "2026-01-05", "--now", JAN))
    assert_ok(pv("relationship", "end", s.ended, "--on", "2026-02-01", "--now", DUE_DAY))
    for kind, who, *more in (("access", contract), ("rectification", one_time, "--set", "full_name=Helene Myhre")):
        s.requests.append(pv.json("request", "open", "--type", kind, "--subject", who, *more, "--now", NOW)["id"])
    s.requests.append(pv.json("request", "open", "--type", "erasure", "--email", "nobody@example.no")["id"])
    s.breach = pv.json(
        "breach", "add", "--description", "Kundeliste sendt til feil mottaker", "--discovered", NOW, "--now", NOW
    )["id"]
    return s


def _archive(db_url: str, subject_id: str) -> None:
    """Archive a subject the way the retention sweep does, through the service."""
    rt = open_runtime(Settings.resolve(db_url, NOW, "ceo"))
    try:
        ctx = rt.context()
        with ctx.uow() as uow:
            archive_subject(ctx, uow, subject_id, "the agreement ended")
            uow.commit()
    finally:
        rt.close()


@pytest.fixture(params=[80, 120])
def width(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The terminal's width, as a shell exports it."""
    monkeypatch.setenv("COLUMNS", str(request.param))
    yield request.param


def read(pv: Any, *args: str) -> str:
    result = pv(*args)
    assert_ok(result)
    return str(result.stdout)


def assert_whole(out: str, width: int, labels: list[str], whole: list[str], words: list[str] = ()) -> None:  # type: ignore[assignment]
    """Fits `width`, nothing cut: each label shown, each of `whole` on one line, each word of `words` whole."""
    assert "…" not in out, out
    for line in out.splitlines():
        if FRAME & set(line):
            assert cell_len(line) <= width, f"a table line is wider than the terminal ({width}):\n{out}"
    lines = out.splitlines()
    for label in labels:
        assert re.search(rf"(^|[ ┃]){re.escape(label)}(:| |$)", out, re.MULTILINE), f"{label!r} missing:\n{out}"
    for value in whole:
        assert any(value in line for line in lines), f"{value!r} is not whole on a line:\n{out}"
    for text in words:
        for word in text.split():
            assert re.search(rf"(^|\s){re.escape(word)}(\s|$)", out, re.MULTILINE), f"{word!r} cut:\n{out}"


def test_subject_list_is_stacked_when_narrow_and_never_cut(pv_ready: Any, scene: Scene, width: int) -> None:
    listed = pv_ready.json("subject", "list")["subjects"]
    out = read(pv_ready, "subject", "list")
    one, two = values(1, CONTRACT), values(2)
    assert_whole(
        out,
        width,
        ["id", "kind", "full_name", "email", "phone", "organisation_name"],
        [s["id"] for s in listed] + [one["email"], values(2)["email"], CONTRACT, ONE_TIME],
        [LONG_NAME, one["full_name"], one["organisation_name"]],
    )
    assert two["full_name"] != LONG_NAME
    if width == 80:
        # One block per subject: its id on a line of its own, labelled, so it can be copied whole.
        assert re.search(rf"^id:\s+{scene.one_time}$", out, re.MULTILINE), out
        assert re.search(rf"^full_name:\s+{LONG_NAME}$", out, re.MULTILINE), out


def test_outbox_list_keeps_the_row_id_and_the_error(pv_ready: Any, scene: Scene, width: int) -> None:
    [row] = pv_ready.json("outbox", "list")["rows"]
    assert row["last_error"].startswith("waiting for credentials")
    out = read(pv_ready, "outbox", "list")
    assert_whole(
        out,
        width,
        ["id", "kind", "state", "attempts", "next attempt", "last error"],
        [scene.outbox_row, row["next_attempt_at"]],
        [row["last_error"]],
    )
    retried = pv_ready("outbox", "retry", re.findall(r"[0-9a-f]{32}", out)[0])
    assert "only a dead row can be retried" in retried.stderr  # the id read off the screen is the row's own


def test_request_list_keeps_ids_and_dates(pv_ready: Any, scene: Scene, width: int) -> None:
    listed = pv_ready.json("request", "list", "--all")["requests"]
    out = read(pv_ready, "request", "list", "--all")
    dates = [r["received_on"] for r in listed] + [r["due_on"] for r in listed]
    assert_whole(
        out,
        width,
        ["id", "type", "state", "received", "due", "subject"],
        [*scene.requests, scene.contract, scene.one_time, *dates, "rectification"],
    )


def test_the_other_lists_keep_ids_and_dates(pv_ready: Any, scene: Scene, width: int) -> None:
    breach = read(pv_ready, "breach", "list", "--now", NOW)
    assert_whole(breach, width, ["id", "discovered", "status", "risk"], [scene.breach, "2026-11-25 13:00 (UTC+01:00)"])

    archive = pv_ready.json("archive", "list")["records"]
    out = read(pv_ready, "archive", "list")
    assert_whole(out, width, ["id", "subject", "kind", "archived", "reason"], [archive[0]["id"], scene.archived])

    notices = pv_ready.json("notice", "list")["versions"]
    out = read(pv_ready, "notice", "list")
    assert_whole(out, width, ["sha256", "language", "format", "policy", "published"], [v["sha256"] for v in notices])

    [due] = pv_ready.json("retention", "plan", "--now", DUE_DAY)["subjects"]
    out = read(pv_ready, "retention", "plan", "--now", DUE_DAY)
    assert_whole(
        out,
        width,
        ["subject", "kind", "action", "rule", "since", "fields due", "held until", "then"],
        [scene.ended, due["since"], due["held_until"]],
        ["only " + ", ".join(due["fields_due"])],
    )

    ledger = pv_ready.json("consent", "show", scene.contract)["events"]
    out = read(pv_ready, "consent", "show", scene.contract)
    assert_whole(
        out,
        width,
        ["event", "at", "purpose", "channel", "action", "method", "recorded by", "notice"],
        [ledger[0]["id"]],
    )

    out = read(pv_ready, "marketing", "audience", "--channel", "sms")
    assert_whole(out, width, ["id", "phone"], [scene.contract, "+47" + values(1)["phone"]])

    out = read(pv_ready, "subject", "show", scene.contract)
    assert_whole(out, width, ["id", "kind", "organisation_name"], [scene.contract], [values(1, CONTRACT)["full_name"]])


def test_policy_show_fits(pv_ready: Any, width: int) -> None:
    out = read(pv_ready, "policy", "show")
    assert_whole(out, width, ["field", "purpose", "legal basis", "recipient", "holds while"], ["organisation_number"])
