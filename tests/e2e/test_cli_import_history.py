"""`subject import` with the history columns, `--check` and `--columns`, end to end on both databases (issue 16)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.support import NOW, ONE_TIME, Cases, assert_ok, assert_refused, count, phone, snapshot

ROOT = Path(__file__).resolve().parents[2]
HISTORY = (
    "received_at,order_date,contract_start,contract_end,consent_sms_at,consent_email_at,consent_method,consent_proof"
)
HEADER = "full_name,phone,email," + HISTORY
NOTICE = "ab" * 32


def _file(tmp_path: Path, *lines: str, header: str = HEADER) -> str:
    path = tmp_path / "history.csv"
    path.write_text("\n".join([header, *lines]) + "\n", "utf-8")
    return str(path)


def _line(n: int, history: str) -> str:
    return f"Person {n} Nordmann,{phone(n)},person{n}@example.no,{history}"


def test_an_import_with_history_stores_each_persons_reasons(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _file(
        tmp_path,
        _line(1, "2019-03-01,2024-05-01,,,2020-01-01 10:00,,web,HubSpot form «Nyhetsbrev» 2020"),
        _line(2, ",,2025-01-01,2027-06-30,,,,"),
        _line(3, f"2021-05-05,,,,,05.05.2021,paper,{NOTICE}"),
        _line(4, "2019-03-01,,,,,,,"),
    )
    checked = pv_ready.json("subject", "import", path, "--kind", ONE_TIME, "--check", "--now", NOW)
    assert (checked["stored"], checked["imported"], checked["would_import"]) == (False, 0, 4)
    assert (checked["orders"], checked["contracts"], checked["consents"], checked["due_at_once"]) == (
        1,
        1,
        {"sms": 1, "email": 1},
        1,
    )
    assert checked["hubspot_shares"] == 1 and checked["worker_waits"] is True  # no sweep confirmed yet
    assert count(pv_ready.db_url, "subjects") == 0
    text = pv_ready("subject", "import", path, "--kind", ONE_TIME, "--check", "--now", NOW)
    assert_ok(text)
    assert "4 one_time_customer subjects would be imported; nothing was stored" in text.stdout
    assert "due for archiving or erasure at once: 1 of them" in text.stdout

    done = pv_ready.json("subject", "import", path, "--kind", ONE_TIME, "--now", NOW)
    assert (done["stored"], done["imported"], done["orders"], done["contracts"]) == (True, 4, 1, 1)
    first = pv_ready.json("subject", "show", "--email", "person1@example.no", "--now", NOW)
    assert first["received_at"] == "2019-02-28T23:00:00+00:00"  # midnight in Oslo
    assert [r["type"] for r in first["relationships"]] == ["order"]
    ledger = pv_ready.json("consent", "show", first["id"], "--now", NOW)
    [event] = ledger["events"]
    assert (event["method"], event["notice_sha256"], event["proof"]) == ("web", None, "HubSpot form «Nyhetsbrev» 2020")
    shown = pv_ready("consent", "show", first["id"], "--now", NOW)
    assert "unknown; proof:" in shown.stdout and "Nyhetsbrev" in shown.stdout  # the cell may wrap
    third = pv_ready.json("subject", "show", "--email", "person3@example.no", "--now", NOW)
    [proved] = pv_ready.json("consent", "show", third["id"], "--now", NOW)["events"]
    assert (proved["channel"], proved["notice_sha256"], proved["proof"]) == ("email", NOTICE, None)
    second = pv_ready.json("subject", "show", "--email", "person2@example.no", "--now", NOW)
    [contract] = second["relationships"]
    assert (contract["type"], contract["started_on"], contract["ends_on"]) == ("contract", "2025-01-01", "2027-06-30")
    plan = pv_ready.json("retention", "plan", "--now", NOW)
    fourth = pv_ready.json("subject", "show", "--email", "person4@example.no", "--now", NOW)["id"]
    assert [(s["subject_id"], s["rule"]) for s in plan["subjects"]] == [(fourth, "prospect")]
    assert count(pv_ready.db_url, "outbox") == 1  # the email consent: HubSpot is told, as `consent give` tells it


def test_bad_history_is_refused_by_line_and_nothing_is_stored(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(pv_ready.db_url)
    cases = Cases()
    with cases.case("rows"):
        path = _file(
            tmp_path,
            _line(1, "2019-03-01,2024-05-01,,,,,,"),
            _line(2, "2030-01-01,,,,,,,"),
            _line(3, ",,,,2020-01-01,,,proof"),
            _line(4, ",,2026-01-01,2025-12-31,,,,"),
            _line(5, ",31.02.2024,,,,,,"),
        )
        refused = pv_ready("subject", "import", path, "--kind", ONE_TIME, "--now", NOW)
        assert_refused(
            refused,
            3,
            "nothing was imported: 4 problem(s)",
            "line 3: received_at: is after the import",
            "line 4: consent_method: is required with a consent",
            "line 5: contract_end: must be after the contract's start (2026-01-01)",
            "line 6: order_date: must be a date",
        )
    with cases.case("header"):
        path = _file(tmp_path, "x", header="full_name,phone,email,contract_end,consent_sms_at")
        refused = pv_ready("subject", "import", path, "--kind", ONE_TIME, "--check", "--now", NOW)
        assert_refused(refused, 3, "the header does not fit", "contract_end", "consent_method", "consent_proof")
    cases.check()
    assert snapshot(pv_ready.db_url) == before


def test_a_hubspot_export_through_its_column_map(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    export = ROOT / "examples" / "hubspot-contacts.csv"
    columns = ROOT / "examples" / "hubspot-columns.toml"
    checked = pv_ready.json("subject", "import", str(export), "--kind", ONE_TIME, "--columns", str(columns), "--check")
    assert (checked["would_import"], checked["orders"], checked["consents"], checked["due_at_once"]) == (
        6,
        3,
        {"email": 3, "sms": 2},
        1,
    )
    done = pv_ready.json("subject", "import", str(export), "--kind", ONE_TIME, "--columns", str(columns))
    assert done["imported"] == 6
    sigrid = pv_ready.json("subject", "show", "--email", "sigrid.aasen@example.com")
    assert sigrid["values"]["full_name"] == "Sigrid Aasen" and sigrid["values"]["phone"] == "+4741290001"
    assert "Phone Number" not in str(sigrid) and "Mona Berg" not in str(sigrid)  # left out, as the map says
    # A column the map neither takes nor leaves out is refused: nothing is dropped unseen.
    extra = tmp_path / "export.csv"
    lines = export.read_text("utf-8").splitlines()
    extra.write_text("\n".join([lines[0] + ",Favourite colour"] + [line + ",blue" for line in lines[1:]]) + "\n")
    before = snapshot(pv_ready.db_url)
    refused = pv_ready("subject", "import", str(extra), "--kind", ONE_TIME, "--columns", str(columns))
    assert_refused(refused, 3, "Favourite colour: column is neither mapped to a field nor listed in the map's ignore")
    bad_map = tmp_path / "map.toml"
    bad_map.write_text("[columns]\nemail = 3\n")
    assert_refused(
        pv_ready("subject", "import", str(export), "--kind", ONE_TIME, "--columns", str(bad_map)), 3, "columns"
    )
    missing = pv_ready("subject", "import", str(export), "--kind", ONE_TIME, "--columns", str(tmp_path / "none.toml"))
    assert_refused(missing, 3, "does not exist")
    assert snapshot(pv_ready.db_url) == before
