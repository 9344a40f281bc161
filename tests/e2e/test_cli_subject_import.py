"""`personvern subject import FILE.csv --kind K`: every row or none; every bad row named by its line in the file."""

from __future__ import annotations

from tests.e2e.support import (
    CONTRACT,
    NOW,
    ONE_TIME,
    ORG_A,
    REPRESENTATIVE,
    Cases,
    add,
    assert_ok,
    assert_refused,
    count,
    e164,
    phone,
)

HEADER = "full_name,phone,email"


def _csv(tmp_path, text, name="people.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def _rows(*numbers, sep=","):
    return "".join(f"Person {n}{sep}{phone(n)}{sep}person{n}@example.no\n" for n in numbers)


def _listed(pv):
    return {s["values"]["email"]: s for s in pv.json("subject", "list", "--limit", "10000")["subjects"]}


def test_import_with_semicolons_a_bom_and_crlf(pv_ready, tmp_path):
    text = "\ufefffull_name;phone;email\r\nÅse Ødegård;+47 " + phone(1) + ";Aase@Example.no\r\n" + "Per;" + phone(2)
    path = _csv(tmp_path, text + ";per@example.no\r\n")
    data = pv_ready.json("subject", "import", path, "--kind", ONE_TIME, "--now", NOW)
    assert (data["imported"], data["kind"], data["stored"]) == (2, ONE_TIME, True)
    assert (data["orders"], data["contracts"], data["consents"]) == (0, 0, {})
    listed = _listed(pv_ready)
    assert set(listed) == {"Aase@example.no", "per@example.no"}
    aase = listed["Aase@example.no"]
    assert aase["values"]["full_name"] == "Åse Ødegård"
    assert aase["values"]["phone"] == e164(1)
    assert aase["source"] == "import"
    assert aase["created_at"] == aase["received_at"] == NOW
    assert pv_ready.json("subject", "show", "--email", "aase@example.no")["id"] == aase["id"]


def test_import_with_commas_and_quoted_values(pv_ready, tmp_path):
    text = f'{HEADER},billing_address\n"Nordmann, Kari",{phone(1)},kari@example.no,"Storgata 1\n0155 Oslo"\n'
    path = _csv(tmp_path, text + f"Per,{phone(2)},per@example.no,\n")
    result = pv_ready("subject", "import", path, "--kind", ONE_TIME, "--reason", "billing_address=invoices")
    assert_ok(result)
    assert "imported 2" in result.stdout
    listed = _listed(pv_ready)
    assert listed["kari@example.no"]["values"]["full_name"] == "Nordmann, Kari"
    assert listed["kari@example.no"]["values"]["billing_address"] == "Storgata 1\n0155 Oslo"
    assert "billing_address" not in listed["per@example.no"]["values"]  # an empty cell is no value


def test_import_with_tabs(pv_ready, tmp_path):
    path = _csv(tmp_path, "full_name\tphone\temail\n" + _rows(1, 2, sep="\t"))
    assert pv_ready.json("subject", "import", path, "--kind", ONE_TIME)["imported"] == 2


def test_import_business_subjects_links_them_to_their_organisation(pv_ready, tmp_path):
    customer = add(pv_ready, 1, CONTRACT, org=ORG_A)
    header = f"{HEADER},organisation_number,organisation_name\n"
    path = _csv(tmp_path, header + f"Rep,{phone(2)},rep@example.no,923 609 016,Firma AS\n")
    assert pv_ready.json("subject", "import", path, "--kind", REPRESENTATIVE)["imported"] == 1
    linked = pv_ready.json("subject", "list", "--organisation", ORG_A)
    assert linked["total"] == 2
    assert customer in {s["id"] for s in linked["subjects"]}


def test_import_is_recorded_in_the_audit_log(pv_ready, tmp_path):
    before = pv_ready.json("audit", "verify")["entries"]
    pv_ready.json("subject", "import", _csv(tmp_path, HEADER + "\n" + _rows(1, 2, 3)), "--kind", ONE_TIME)
    assert pv_ready.json("audit", "verify")["entries"] == before + 3


def test_import_lists_every_bad_row_by_line_and_field_and_imports_nothing(pv_ready, tmp_path, unchanged):
    existing = add(pv_ready, 90)
    lines = [
        HEADER,  # 1
        f"Good One,{phone(1)},one@example.no",  # 2
        "Bad Phone,4123,two@example.no",  # 3
        f"Bad Email,{phone(3)},three@",  # 4
        f",{phone(4)},four@example.no",  # 5: no name
        "",  # 6: a blank line still counts
        f"Good Two,{phone(7)},seven@example.no",  # 7
        f"Same Email,{phone(8)},ONE@example.no",  # 8: as line 2
        f"Existing,+47 {phone(90)},nine@example.no",  # 9: the phone of a subject in the register
        f"Missing Email,{phone(10)}",  # 10: a short row
    ]
    path = _csv(tmp_path, "\n".join(lines) + "\n")
    before = count(pv_ready.db_url, "subjects")
    with unchanged():
        result = pv_ready("subject", "import", path, "--kind", ONE_TIME)
    assert_refused(
        result,
        3,
        "nothing was imported",
        "line 3: phone: ",
        "line 4: email: ",
        "line 5: full_name: is required",
        "line 8: email: the same value as line 2",
        f"line 9: phone: is already registered for subject {existing}",
        "line 10: email: is required",
    )
    for good in ("line 2:", "line 6:", "line 7:"):
        assert good not in result.stderr
    assert count(pv_ready.db_url, "subjects") == before == 1
    assert pv_ready.json("subject", "list")["total"] == 1


def test_import_duplicates_within_the_file_in_other_forms(pv_ready, tmp_path, unchanged):
    text = f"{HEADER}\nA,{phone(1)},a@example.no\nB,+47 {phone(1)},b@example.no\nC,{phone(3)},A@EXAMPLE.NO\n"
    with unchanged():
        result = pv_ready("subject", "import", _csv(tmp_path, text), "--kind", ONE_TIME)
    assert_refused(result, 3, "line 3: phone: the same value as line 2", "line 4: email: the same value as line 2")


def test_import_refusals_of_the_whole_file(pv_ready, tmp_path, unchanged):
    cases = Cases()
    files = {
        "empty": "",
        "header only": HEADER + "\n",
        "unknown column": f"{HEADER},shoe_size\nKari,{phone(1)},kari@example.no,42\n",
        "column of another kind": f"{HEADER},organisation_number\nKari,{phone(1)},kari@example.no,{ORG_A}\n",
        "too many columns": f"{HEADER}\n{_rows(1)}Per,{phone(2)},per@example.no,surplus\n",
    }
    expected = {
        "empty": ["file", "empty"],
        "header only": ["file", "no data rows"],
        "unknown column": ["shoe_size", "not declared", "nothing was imported"],
        "column of another kind": ["organisation_number", "not declared"],
        "too many columns": ["file", "line 3", "more columns than the header"],
    }
    with unchanged():
        for name, text in files.items():
            with cases.case(name):
                result = pv_ready("subject", "import", _csv(tmp_path, text, f"{name}.csv"), "--kind", ONE_TIME)
                assert_refused(result, 3, *expected[name])
        with cases.case("missing file"):
            missing = str(tmp_path / "nowhere.csv")
            assert_refused(pv_ready("subject", "import", missing, "--kind", ONE_TIME), 3, "file", missing)
        with cases.case("not UTF-8"):
            path = _csv(tmp_path, f"{HEADER}\nÅse,{phone(1)},aase@example.no\n", "latin1.csv", "latin-1")
            assert_refused(pv_ready("subject", "import", path, "--kind", ONE_TIME), 3, "file", "UTF-8")
        good = _csv(tmp_path, HEADER + "\n" + _rows(1))
        with cases.case("unknown kind"):
            assert_refused(pv_ready("subject", "import", good, "--kind", "vip"), 3, "kind", "vip")
        with cases.case("no kind"):
            assert_refused(pv_ready("subject", "import", good), 2, "--kind")
        for role in ("auditor", "marketing"):
            with cases.case(role):
                assert_refused(pv_ready("subject", "import", good, "--kind", ONE_TIME, "--role", role), 6, role)
        with cases.case("when needed column without a reason"):
            text = f"{HEADER},postal_address\nKari,{phone(1)},kari@example.no,Storgata 1\n"
            result = pv_ready("subject", "import", _csv(tmp_path, text, "address.csv"), "--kind", ONE_TIME)
            assert_refused(result, 3, "line 2: postal_address: ", "--reason")
    cases.check()


def test_import_a_directory_is_invalid_input(pv_ready, tmp_path, unchanged):
    with unchanged():
        assert_refused(pv_ready("subject", "import", str(tmp_path), "--kind", ONE_TIME), 3, "file")


def test_import_a_header_with_a_column_twice_is_refused(pv_ready, tmp_path, unchanged):
    text = f"full_name,email,phone,email\nKari,kari@example.no,{phone(1)},kari.other@example.no\n"
    with unchanged():
        result = pv_ready("subject", "import", _csv(tmp_path, text), "--kind", ONE_TIME)
    assert_refused(result, 3, "email")


def test_import_a_bad_multiline_record_is_reported_at_its_first_line(pv_ready, tmp_path, unchanged):
    text = f'{HEADER},postal_address\nKari,{phone(1)},kari@,"Storgata 1\n0155 Oslo"\n'
    with unchanged():
        result = pv_ready("subject", "import", _csv(tmp_path, text), "--kind", ONE_TIME, "--reason", "postal_address=x")
    assert_refused(result, 3, "line 2: email: ")


def test_import_names_a_missing_required_column_once(pv_ready, tmp_path, unchanged):
    path = _csv(tmp_path, HEADER + "\n" + _rows(1, 2, 3))
    with unchanged():
        result = pv_ready("subject", "import", path, "--kind", CONTRACT)
    assert_refused(result, 3, "line 1", "organisation_number", "column is missing", "organisation_name")
    assert result.stderr.count("organisation_number") == 1


def test_import_shows_the_first_hundred_problems_and_writes_them_all_on_request(pv_ready, tmp_path, unchanged):
    bad = "".join(f"Person {n},12,person{n}@example.no\n" for n in range(150))
    path = _csv(tmp_path, HEADER + "\n" + bad)
    problems = tmp_path / "problems.csv"
    with unchanged():
        result = pv_ready("subject", "import", path, "--kind", ONE_TIME, "--problems", str(problems))
    assert_refused(result, 3, "phone", "… and 50 more problems")
    assert result.stderr.count("line ") == 100
    written = problems.read_text("utf-8").splitlines()
    assert written[0] == "line,field,problem"
    assert len(written) == 151
    assert written[1].startswith("2,phone,")
    assert written[-1].startswith("151,phone,")
