"""/api/v1/subjects: look-ups and the list, add, show, update and the CSV import, on both databases."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import error_of
from tests.e2e.support import CONTRACT, NOW, ONE_TIME, ORG_A, count, e164, phone, values

S = "/api/v1/subjects"
DATA = ("subjects", "subject_values", "relationships", "consent_events", "subject_blocks", "outbox", "messages")


def stored(api) -> dict[str, int]:
    """Rows of the tables a register change writes (the audit log aside: a refusal may be recorded)."""
    return {table: count(api.pv.db_url, table) for table in DATA}


def add(api, n: int, kind: str = ONE_TIME, **extra) -> str:
    answer = api.post(S, json={"kind": kind, "values": values(n, kind) | extra})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_add_answers_201_with_the_id_and_where_to_find_it(api):
    answer = api.post(S, json={"kind": CONTRACT, "values": values(1, CONTRACT)}, role="staff")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["kind"] == CONTRACT and body["source"] == "data_subject"
    assert body["fields"] == sorted(values(1, CONTRACT))
    assert "person1@example.no" not in answer.text  # the values are not echoed
    assert answer.headers["location"].endswith(f"{S}/{body['id']}")
    shown = api.get(f"{S}/{body['id']}").json()
    assert shown["values"]["phone"] == e164(1) and shown["values"]["organisation_number"] == ORG_A
    assert shown["created_at"] == NOW.replace("+00:00", "Z")


def test_add_with_a_when_needed_field_and_its_reason(api):
    body = {
        "kind": ONE_TIME,
        "values": values(1) | {"postal_address": "Storgata 1, 0155 Oslo"},
        "reasons": {"postal_address": "delivery of key cards"},
        "source": "the shop",
        "received_at": "2026-11-01T09:00:00+01:00",
    }
    answer = api.post(S, json=body)
    assert answer.status_code == 201, answer.text
    shown = api.get(f"{S}/{answer.json()['id']}").json()
    assert shown["values"]["postal_address"] == "Storgata 1, 0155 Oslo"
    assert shown["source"] == "the shop"


def test_bad_subjects_are_refused_by_field_and_nothing_is_stored(api):
    add(api, 1)
    before = stored(api)
    cases = [
        ({"kind": "vip", "values": values(2)}, 422, "kind"),
        ({"kind": ONE_TIME, "values": values(2) | {"phone": "12"}}, 422, "phone"),
        ({"kind": ONE_TIME, "values": {"full_name": "Kari"}}, 422, "phone"),
        ({"kind": ONE_TIME, "values": values(2) | {"shoe_size": "44"}}, 422, "shoe_size"),
        ({"kind": ONE_TIME, "values": values(2) | {"postal_address": "Storgata 1"}}, 422, "postal_address"),
        ({"kind": ONE_TIME, "values": values(2) | {"phone": 41000002}}, 422, "values.phone"),
        ({"kind": ONE_TIME, "values": values(2), "colour": "red"}, 422, "colour"),
        ({"kind": ONE_TIME, "values": values(2) | {"full_name": "x" * 1001}}, 422, "values.full_name"),
        ({"kind": ONE_TIME, "values": values(2), "received_at": "2026-11-01T09:00:00"}, 422, "received_at"),
        ({"kind": ONE_TIME, "values": values(1)}, 409, None),  # the same person twice
    ]
    for body, status, field in cases:
        answer = api.post(S, json=body)
        assert answer.status_code == status, (body, answer.text)
        error = error_of(answer)
        if field is not None:
            assert error["field"] == field, (body, error)
    when_needed = error_of(api.post(S, json={"kind": ONE_TIME, "values": values(3) | {"postal_address": "Gata 1"}}))
    assert "only when needed" in when_needed["message"] and "--reason" not in when_needed["message"]
    assert stored(api) == before


def test_roles_that_may_not_write_or_read_the_register(api):
    sid = add(api, 1)
    before = stored(api)
    for role in ("marketing", "auditor"):
        refused = api.post(S, json={"kind": ONE_TIME, "values": values(2)}, role=role)
        assert refused.status_code == 403, refused.text
        assert "may not add or change customers" in error_of(refused)["message"]
    assert api.get(S, role="marketing").status_code == 403
    assert api.get(f"{S}/{sid}", role="marketing").status_code == 403
    assert api.patch(f"{S}/{sid}", json={"values": {"full_name": "Kari"}}, role="auditor").status_code == 403
    assert api.get(S, role=None).status_code == 401
    assert stored(api) == before


def test_show_gives_values_relationships_consent_and_blocks(api):
    sid = add(api, 1)
    assert api.post("/api/v1/relationships", json={"subject_id": sid, "type": "order"}).status_code == 201
    given = api.post(f"{S}/{sid}/consents/give", json={"channel": "sms", "method": "web"})
    assert given.status_code == 201, given.text
    assert api.post(f"{S}/{sid}/restriction", json={"reason": "disputes the data"}).status_code == 201
    shown = api.get(f"{S}/{sid}", params={"purpose": "service"})
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["values"]["email"] == "person1@example.no"
    assert [r["type"] for r in body["relationships"]] == ["order"]
    states = {(c["purpose"], c["channel"]): c["state"] for c in body["consent"]}
    assert states[("marketing", "sms")] == "restricted"
    assert [b["kind"] for b in body["blocks"]] == ["restriction"]


def test_the_auditor_sees_bookkeeping_fields_and_no_consent(api):
    sid = add(api, 1, CONTRACT)
    shown = api.get(f"{S}/{sid}", role="auditor").json()
    assert "phone" not in shown["values"] and shown["values"]["organisation_number"] == ORG_A
    assert shown["consent"] is None and shown["blocks"] is None


def test_show_of_someone_not_in_the_register_is_404(api):
    missing = api.get(f"{S}/0123456789abcdef")
    assert missing.status_code == 404 and "no subject with id" in error_of(missing)["message"]
    assert api.get(f"{S}/{'x' * 65}").status_code == 422
    assert api.get(f"{S}/0123456789abcdef", params={"purpose": "gossip"}).status_code == 422


def test_look_up_by_email_phone_organisation_and_name(api):
    kari = add(api, 1, full_name="Kari Nordmann")
    ola = add(api, 2, CONTRACT)
    by_email = api.get(S, params={"email": "PERSON1@example.no"}).json()
    assert [s["id"] for s in by_email["items"]] == [kari] and by_email["total"] == 1
    assert by_email["items"][0]["consent"] is not None  # the look-up is `subject show`
    assert by_email["next_cursor"] is None
    by_phone = api.get(S, params={"phone": "+47 " + phone(2)}).json()
    assert [s["id"] for s in by_phone["items"]] == [ola]
    nobody = api.get(S, params={"email": "nobody@example.no"})
    assert nobody.status_code == 200 and nobody.json() == {"next_cursor": None, "total": 0, "items": []}
    by_org = api.get(S, params={"organisation": "923 609 016"}).json()
    assert [s["id"] for s in by_org["items"]] == [ola]
    by_name = api.get(S, params={"name": "kari  NORDMANN"}).json()
    assert [s["id"] for s in by_name["items"]] == [kari]
    assert api.get(S, params={"kind": CONTRACT}).json()["total"] == 1


def test_bad_look_ups_name_the_parameter(api):
    cases = [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"email": "a@example.no", "kind": ONE_TIME}, "email"),
        ({"email": "a@example.no", "phone": phone(1)}, "subject"),
        ({"organisation": "123"}, "organisation"),
        ({"kind": "vip"}, "kind"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": "eyJ4IjoxfQ"}, "cursor"),  # {"x":1}: JSON, but not a cursor this API made
    ]
    for params, field in cases:
        answer = api.get(S, params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert error_of(answer)["field"] == field, (params, answer.json())
    assert api.get(S, params={"phone": phone(1)}, role="auditor").status_code == 403  # not a bookkeeping field


def test_the_list_is_paged_by_cursor(api):
    ids = [add(api, n) for n in range(1, 6)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.get(S, params=params).json()
        assert page["total"] == 5
        seen += [s["id"] for s in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == 3
    exact = api.get(S, params={"limit": 5}).json()
    assert len(exact["items"]) == 5 and exact["next_cursor"] is None


def test_update_changes_and_removes_values(api):
    sid = api.post(
        S,
        json={
            "kind": ONE_TIME,
            "values": values(1) | {"postal_address": "Gata 1"},
            "reasons": {"postal_address": "deliveries"},
        },
    ).json()["id"]
    changed = api.patch(f"{S}/{sid}", json={"values": {"full_name": "Kari Nordmann"}, "unset": ["postal_address"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["fields"] == ["email", "full_name", "phone"]
    assert changed.json()["updated_at"] == NOW.replace("+00:00", "Z")
    shown = api.get(f"{S}/{sid}").json()["values"]
    assert shown["full_name"] == "Kari Nordmann" and "postal_address" not in shown


def test_bad_updates_are_refused_and_change_nothing(api):
    sid = add(api, 1)
    other = add(api, 2)
    before = stored(api)
    cases = [
        ({}, 422, "changes"),
        ({"values": {"phone": "12"}}, 422, "phone"),
        ({"unset": ["email"]}, 422, "email"),
        ({"values": {"email": "a@example.no"}, "unset": ["email"]}, 422, "email"),
        ({"values": {"postal_address": "Gata 1"}}, 422, "postal_address"),
        ({"set": {"full_name": "Kari"}}, 422, "set"),
        ({"values": {"email": "person2@example.no"}}, 409, None),
    ]
    for body, status, field in cases:
        answer = api.patch(f"{S}/{sid}", json=body)
        assert answer.status_code == status, (body, answer.text)
        if field is not None:
            assert error_of(answer)["field"] == field, (body, answer.json())
    nothing = error_of(api.patch(f"{S}/{sid}", json={}))["message"]
    assert "nothing to change" in nothing and "--set" not in nothing
    assert api.patch(f"{S}/0123456789abcdef", json={"values": {"full_name": "Kari"}}).status_code == 404
    assert stored(api) == before
    assert other


# ---------------------------------------------------------------- the CSV import

HEADER = "full_name,phone,email"


def upload(api, text: str | bytes, role: str | None = "ceo", name: str = "customers.csv", **form):
    data = {"kind": ONE_TIME} | form
    content = text.encode() if isinstance(text, str) else text
    return api.post(f"{S}/import", role=role, data=data, files={"file": (name, content, "text/csv")})


def rows(*ns: int) -> str:
    return "\n".join([HEADER, *(f"Person {n},{phone(n)},person{n}@example.no" for n in ns)]) + "\n"


def test_import_adds_every_row(api):
    answer = upload(api, rows(1, 2, 3), role="staff")
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert (got["imported"], got["would_import"], got["stored"], got["kind"]) == (3, 3, True, ONE_TIME)
    assert (got["orders"], got["contracts"], got["consents"], got["due_at_once"]) == (0, 0, {}, 0)
    assert api.get(S).json()["total"] == 3


def test_import_checks_first_and_carries_the_history_through_a_column_map(api):
    """Issue 16 over HTTP: a dry run stores nothing (200), then the HubSpot export through its column map (201)."""
    root = Path(__file__).resolve().parents[2]
    export = (root / "examples" / "hubspot-contacts.csv").read_bytes()
    columns = (root / "examples" / "hubspot-columns.toml").read_text("utf-8")
    checked = upload(api, export, columns=columns, check="true")
    assert checked.status_code == 200, checked.text
    dry = checked.json()
    assert dry["stored"] is False and dry["imported"] == 0 and dry["would_import"] > 0
    assert dry["orders"] > 0 and sum(dry["consents"].values()) > 0 and dry["worker_waits"] is True
    assert not any(stored(api).values())
    done = upload(api, export, columns=columns)
    assert done.status_code == 201, done.text
    got = done.json()
    assert got["stored"] is True and got["imported"] == dry["would_import"]
    assert (got["orders"], got["consents"]) == (dry["orders"], dry["consents"])
    assert api.get(S).json()["total"] == dry["would_import"]
    # A column map the file does not fit, a map that is not TOML, and a check that is not true or false.
    before = stored(api)
    assert error_of(upload(api, rows(1), columns=columns))["problems"]
    assert upload(api, rows(1), columns="[columns\n").status_code == 422
    bad = upload(api, rows(1), check="maybe")
    assert bad.status_code == 422 and error_of(bad)["field"] == "check"
    assert stored(api) == before


def test_import_with_reasons_and_semicolons(api):
    text = "full_name;phone;email;postal_address\nKari;" + phone(1) + ";kari@example.no;Gata 1\n"
    answer = upload(api, text, reasons='{"postal_address": "deliveries"}', source="old shop")
    assert answer.status_code == 201, answer.text
    shown = api.get(S).json()["items"][0]
    assert shown["values"]["postal_address"] == "Gata 1" and shown["source"] == "old shop"


def test_import_problems_name_their_lines_and_nothing_is_stored(api):
    add(api, 9)
    before = stored(api)
    text = rows(1, 2) + f"Person 3,12,person3@example.no\nPerson 4,{phone(4)},person9@example.no\n"
    answer = upload(api, text)
    assert answer.status_code == 422, answer.text
    error = error_of(answer)
    assert "nothing was imported: 2 problem(s)" in error["message"]
    problems = [(p["line"], p["field"]) for p in error["problems"]]
    assert problems == [(4, "phone"), (5, "email")]
    one = error_of(upload(api, rows(1) + "Person 3,12,person3@example.no\n"))
    assert one["field"] == "phone" and one["message"].startswith("line 3: phone:")
    assert one["problems"] == [{"line": 3, "field": "phone", "message": one["problems"][0]["message"]}]
    assert stored(api) == before


def test_bad_uploads_are_refused_clearly(api):
    before = stored(api)
    cases = [
        (upload(api, rows(1), kind="vip"), 422, "kind"),
        (upload(api, "shoe_size\n44\n"), 422, "shoe_size"),
        (upload(api, "\xff\xfe".encode("latin-1") + b"x"), 422, "file"),
        (upload(api, ""), 422, "file"),
        (upload(api, HEADER + "\n"), 422, "file"),
        (upload(api, rows(1), reasons="not json"), 422, "reasons"),
        (upload(api, rows(1), reasons='{"postal_address": 1}'), 422, "reasons"),
        (upload(api, rows(1), colour="red"), 422, "colour"),
        (upload(api, rows(1), role="marketing"), 403, None),
        (upload(api, rows(1), role=None), 401, None),
    ]
    for answer, status, field in cases:
        assert answer.status_code == status, answer.text
        if field is not None:
            assert error_of(answer)["field"] == field, answer.json()
    no_file = api.post(f"{S}/import", data={"kind": ONE_TIME})
    assert no_file.status_code in (415, 422) and error_of(no_file)
    missing_file = api.post(f"{S}/import", data={"kind": ONE_TIME}, files={"other": ("x.csv", b"a", "text/csv")})
    assert missing_file.status_code == 422
    no_kind = api.post(f"{S}/import", files={"file": ("x.csv", rows(1).encode(), "text/csv")})
    assert no_kind.status_code == 422 and error_of(no_kind)["field"] == "kind"
    as_json = api.post(f"{S}/import", json={"kind": ONE_TIME})
    assert as_json.status_code == 415 and error_of(as_json)["code"] == "unsupported_media_type"
    assert stored(api) == before


def test_an_upload_larger_than_allowed_is_413(api, monkeypatch):
    from personvern.api import subjects

    monkeypatch.setattr(subjects, "MAX_IMPORT_BYTES", 1024)
    before = stored(api)
    answer = upload(api, rows(*range(1, 60)))
    assert answer.status_code == 413, answer.text
    error = error_of(answer)
    assert error["code"] == "too_large" and "larger than 1 KiB" in error["message"]
    assert stored(api) == before


def test_the_file_name_is_never_echoed(api):
    answer = upload(api, b"\xff\xfe", name="kari-nordmann.csv")
    assert answer.status_code == 422 and "kari" not in answer.text


def test_every_route_is_described_in_openapi(api):
    paths = api.client.get("/openapi.json").json()["paths"]
    expected = {
        f"{S}": {"get", "post"},
        f"{S}/import": {"post"},
        f"{S}/{{subject_id}}": {"get", "patch"},
        f"{S}/{{subject_id}}/consents": {"get"},
        f"{S}/{{subject_id}}/consents/give": {"post"},
        f"{S}/{{subject_id}}/consents/withdraw": {"post"},
        f"{S}/{{subject_id}}/consents/{{event_id}}/receipt": {"get"},
        f"{S}/{{subject_id}}/objections": {"post"},
        f"{S}/{{subject_id}}/restriction": {"post"},
        f"{S}/{{subject_id}}/restriction/lift": {"post"},
        "/api/v1/relationships": {"post"},
        "/api/v1/relationships/{relationship_id}/end": {"post"},
        "/api/v1/marketing/audience": {"get"},
        "/api/v1/marketing/audience/count": {"get"},
        "/api/v1/sms": {"get", "post"},
        "/api/v1/sms/preview": {"post"},
        "/api/v1/outbox": {"get"},
        "/api/v1/outbox/{row_id}/retry": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert set(paths[path]) == methods, path
        for method in methods:
            operation = paths[path][method]
            assert operation["summary"], (path, method)
            assert {"401", "403", "404", "422"} <= set(operation["responses"]), (path, method)
    assert "multipart/form-data" in paths[f"{S}/import"]["post"]["requestBody"]["content"]
    assert "413" in paths[f"{S}/import"]["post"]["responses"]
    assert "201" in paths[S]["post"]["responses"]
