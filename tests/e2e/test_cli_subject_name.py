"""`subject show|list --name`: people found by full name through a blind index, insensitive to case and accents."""

from __future__ import annotations

from tests.e2e.support import (
    ONE_TIME,
    Cases,
    assert_ok,
    assert_refused,
    bundled_policy_text,
    count,
    person,
    replace_in_table,
    sql,
)


def _add(pv, n: int, name: str) -> str:
    return str(pv.json("subject", "add", *person(n, full_name=name))["id"])


def test_show_by_name_ignores_case_accents_and_spacing(pv_ready):
    bjorn = _add(pv_ready, 1, "Bjørn Ødegård")
    ase = _add(pv_ready, 2, "Åse Kjær")
    jose = _add(pv_ready, 3, "José Martínez")
    for typed, sid in [
        ("Bjørn Ødegård", bjorn),
        ("bjorn  odegard", bjorn),
        ("BJØRN ØDEGÅRD", bjorn),
        ("ase kjaer", ase),
        ("Åse Kjær", ase),
        ("jose martinez", jose),
    ]:
        shown = pv_ready.json("subject", "show", "--name", typed)
        assert shown["id"] == sid, typed
    result = pv_ready("subject", "show", "--name", "ase kjaer")
    assert_ok(result)
    assert "Åse Kjær" in result.stdout and ase in result.stdout


def test_show_by_name_is_a_recorded_read(pv_ready):
    sid = _add(pv_ready, 1, "Kari Nordmann")
    reads = "SELECT count(*) FROM audit_log WHERE action = 'subject.read' AND subject_id = :sid"
    before = sql(pv_ready.db_url, reads, sid=sid)[0][0]
    pv_ready.json("subject", "show", "--name", "kari nordmann")
    assert sql(pv_ready.db_url, reads, sid=sid)[0][0] == before + 1


def test_namesakes_are_listed_not_picked(pv_ready, unchanged):
    first = _add(pv_ready, 1, "Kari Nordmann")
    second = _add(pv_ready, 2, "KARI  NORDMANN")
    _add(pv_ready, 3, "Kari Nordmann-Hansen")
    with unchanged():
        result = pv_ready("subject", "show", "--name", "Kari Nordmann")
    assert_refused(result, 5, "2 subjects", first, second, "subject list --name")
    assert "Kari" not in result.stderr  # the name searched for is not echoed
    listed = pv_ready.json("subject", "list", "--name", "kari nordmann")
    assert listed["total"] == 2
    assert [s["id"] for s in listed["subjects"]] == [first, second]
    assert [s["values"]["full_name"] for s in listed["subjects"]] == ["Kari Nordmann", "KARI NORDMANN"]
    page = pv_ready.json("subject", "list", "--name", "kari nordmann", "--limit", "1", "--offset", "1")
    assert (page["total"], [s["id"] for s in page["subjects"]]) == (2, [second])
    table = pv_ready("subject", "list", "--name", "kari nordmann")
    assert_ok(table)
    assert "2 of 2 subjects" in table.stdout
    assert pv_ready.json("subject", "list", "--name", "kari nordmann", "--kind", "contract_customer")["total"] == 0


def test_no_one_by_that_name(pv_ready, unchanged):
    _add(pv_ready, 1, "Kari Nordmann")
    cases = Cases()
    with unchanged():
        with cases.case("show"):
            result = pv_ready("subject", "show", "--name", "Ola Nordmann")
            assert_refused(result, 4, "name")
            assert "Ola" not in result.stderr
        with cases.case("list"):
            listed = pv_ready.json("subject", "list", "--name", "Ola Nordmann")
            assert (listed["total"], listed["subjects"]) == (0, [])
    cases.check()


def test_bad_name_searches_are_refused(pv_ready, unchanged):
    _add(pv_ready, 1, "Kari Nordmann")
    cases = Cases()
    with unchanged():
        with cases.case("empty"):
            assert_refused(pv_ready("subject", "show", "--name", "   "), 3, "name", "must not be empty")
        with cases.case("control character"):
            assert_refused(pv_ready("subject", "list", "--name", "Kari\x07"), 3, "name", "control characters")
        with cases.case("too long"):
            assert_refused(pv_ready("subject", "show", "--name", "x" * 201), 3, "name", "at most 200")
        with cases.case("name and email at once"):
            result = pv_ready("subject", "show", "--name", "Kari Nordmann", "--email", "person1@example.no")
            assert_refused(result, 3, "exactly one")
        with cases.case("marketing may not"):
            assert_refused(pv_ready("subject", "show", "--name", "Kari Nordmann", "--role", "marketing"), 6)
    cases.check()


def test_a_changed_name_is_found_by_the_new_one_only(pv_ready):
    sid = _add(pv_ready, 1, "Kari Nordmann")
    pv_ready.json("subject", "update", sid, "--set", "full_name=Kari Ødegård")
    assert pv_ready.json("subject", "show", "--name", "kari odegard")["id"] == sid
    assert_refused(pv_ready("subject", "show", "--name", "Kari Nordmann"), 4)


def test_an_existing_register_finds_its_people_by_name_after_the_upgrade(pv, tmp_path):
    """A register made when full_name was plain text: `init` with the new policy indexes everyone already there."""
    old = tmp_path / "old-policy.toml"
    old.write_text(replace_in_table(bundled_policy_text(), "fields.full_name", 'type = "name"', 'type = "text"'))
    assert_ok(pv("init", "--policy", str(old)))
    ids = [
        str(pv.json("subject", "add", *person(n, ONE_TIME, full_name=name))["id"])
        for n, name in enumerate(["Bjørn Ødegård", "Åse Kjær", "José Martínez"], start=1)
    ]
    pv.json("subject", "import", str(_csv(tmp_path)), "--kind", ONE_TIME)
    names = "SELECT count(*) FROM lookups WHERE field = 'full_name'"
    assert sql(pv.db_url, names)[0][0] == 0
    assert_refused(pv("subject", "show", "--name", "Åse Kjær"), 3, "name", "no field of type 'name'")

    upgraded = pv.json("init")
    assert upgraded["policy_changed"] and upgraded["indexed"] == ["full_name"]
    assert sql(pv.db_url, names)[0][0] == count(pv.db_url, "subjects") == 5
    assert pv.json("subject", "show", "--name", "bjorn odegard")["id"] == ids[0]
    assert pv.json("subject", "show", "--name", "ASE KJAER")["id"] == ids[1]
    assert pv.json("subject", "show", "--name", "José Martínez")["id"] == ids[2]
    assert pv.json("subject", "show", "--name", "ingrid asen")["values"]["full_name"] == "Ingrid Åsen"
    # Still found by the unique look-ups as before, and the index build is in the audit chain.
    assert pv.json("subject", "show", "--email", "person1@example.no")["id"] == ids[0]
    assert sql(pv.db_url, "SELECT count(*) FROM audit_log WHERE action = 'subject.index'")[0][0] == 1
    assert pv.json("audit", "verify")["ok"]

    # Back to a policy without names to look up: the name digests go (nothing kept that nobody may use).
    assert pv.json("init", "--policy", str(old))["indexed"] == []
    assert sql(pv.db_url, names)[0][0] == 0


def _csv(tmp_path):
    path = tmp_path / "more.csv"
    path.write_text(
        "full_name,phone,email\nIngrid Åsen,41000004,ingrid@example.no\nOla Nordmann,41000005,ola@example.no\n",
        "utf-8",
    )
    return path
