"""The request use cases on the in-memory unit of work: matching, the answer, erasure with holds, the archive."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from personvern.domain.errors import Conflict, Forbidden, NotFound
from personvern.domain.subjects import RelationshipType
from personvern.services import register, rights
from personvern.services.context import Context
from personvern.services.erasure import archive_subject, list_archive, show_archived
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock

KARI = {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "kari@example.no"}


def add_kari(ceo: Context) -> str:
    return register.add_subject(ceo, "one_time_customer", KARI, {}).id


def answered(ceo: Context, kind: str, **identity: str) -> rights.Fulfilment:
    opened = rights.open_request(ceo, kind, **identity)
    rights.verify_request(ceo, opened.request.id, "known_email")
    return rights.fulfil_request(ceo, opened.request.id)


def test_an_unknown_identity_gets_a_request_and_a_nothing_held_answer(ceo: Context) -> None:
    add_kari(ceo)
    opened = rights.open_request(ceo, "access", email="ola@example.no")
    assert (opened.matched, opened.request.subject_id) == (False, None)
    with pytest.raises(Conflict, match="verified"):
        rights.fulfil_request(ceo, opened.request.id)
    rights.verify_request(ceo, opened.request.id, "known_email")
    done = rights.fulfil_request(ceo, opened.request.id)
    assert list(done.files) == ["letter.html"]
    assert "ingen personopplysninger om deg" in done.files["letter.html"].decode()
    assert done.request.outcome["held"] is False


def test_the_access_package_holds_every_value_and_its_hashes_are_recorded(ceo: Context) -> None:
    sid = add_kari(ceo)
    done = answered(ceo, "access", email="KARI@example.no")
    data = json.loads(done.files["data.json"])
    assert data["subject"] == sid and data["values"] == KARI
    assert set(done.request.outcome["files"]) == {"data.json", "letter.html"}


def test_only_the_ceo_handles_requests(as_role, ceo: Context) -> None:
    sid = add_kari(ceo)
    with pytest.raises(Forbidden):
        rights.open_request(as_role("staff"), "access", subject_id=sid)


def test_erasure_keeps_what_bookkeeping_requires(
    ceo: Context, factory: FakeUnitOfWorkFactory, clock: FixedClock
) -> None:
    sid = add_kari(ceo)
    register.start_relationship(ceo, sid, RelationshipType.ORDER, None, None)
    done = answered(ceo, "erasure", subject_id=sid)
    kept = factory.state.subjects[sid].values
    assert kept == {"full_name": KARI["full_name"], "email": KARI["email"]}
    (receipt,) = factory.state.rights.receipts.values()
    assert receipt.held_until == date(clock.now().year + 6, 1, 1)
    assert receipt.details["fields_erased"] == ["phone"]
    assert KARI["phone"] not in json.dumps(receipt.details)
    assert "Bokføringsloven" in done.files["letter.html"].decode()


# What an erasure cannot promise while the wrapped data keys live in the database and the master key never
# changes: a backup taken before it, with today's key file, still holds the person (issue 12, defect 6).
OVERCLAIMS = (
    "no copy",
    "noen kopi",
    "ingen kopi",
    "cannot be recovered",
    "can never",
    "kan aldri",
    "ikke gjenopprett",
    "gone from",
    "every copy",
    "alle kopier",
)


@pytest.mark.parametrize("lang", ["nb", "en"])
@pytest.mark.parametrize("order", [False, True], ids=["all_erased", "bookkeeping_held"])
def test_the_erasure_letter_claims_nothing_about_backups_that_is_not_true(ceo: Context, lang: str, order: bool) -> None:
    sid = add_kari(ceo)
    if order:
        register.start_relationship(ceo, sid, RelationshipType.ORDER, None, None)
    opened = rights.open_request(ceo, "erasure", subject_id=sid, language=lang)
    rights.verify_request(ceo, opened.request.id, "known_email")
    letter = rights.fulfil_request(ceo, opened.request.id).files["letter.html"].decode().lower()
    for claim in OVERCLAIMS:
        assert claim not in letter, claim
    # It says what is true instead: copies in backups taken before the erasure are not touched by it.
    assert ("sikkerhetskopier" if lang == "nb" else "backup copies") in letter


def test_erasure_of_an_archived_person(ceo: Context, factory: FakeUnitOfWorkFactory, as_role) -> None:
    sid = add_kari(ceo)
    with factory() as uow:
        archive_subject(ceo, uow, sid, "the agreement ended")
        uow.commit()
    assert sid not in factory.state.subjects
    total, records = list_archive(ceo)
    assert total == 1 and records[0].subject_id == sid
    assert show_archived(ceo, sid).values == {"full_name": KARI["full_name"], "email": KARI["email"]}
    with pytest.raises(Forbidden):
        list_archive(as_role("staff"))
    opened = rights.open_request(ceo, "erasure", phone="912 34 567")
    assert not opened.matched  # the archive keeps no phone number: the policy's archive fields are name and email
    opened = rights.open_request(ceo, "erasure", email=KARI["email"])
    assert (opened.matched, opened.archived) == (True, True)
    rights.verify_request(ceo, opened.request.id, "bankid")
    rights.fulfil_request(ceo, opened.request.id)
    assert factory.state.rights.archive == {}
    with pytest.raises(NotFound):
        show_archived(ceo, sid)


def test_requests_are_listed_by_due_date(ceo: Context, clock: FixedClock) -> None:
    sid = add_kari(ceo)
    first = rights.open_request(ceo, "access", subject_id=sid, received_at=clock.now() - timedelta(days=40))
    second = rights.open_request(ceo, "objection", subject_id=sid)
    today, listed = rights.list_requests(ceo)
    assert [r.id for r in listed] == [first.request.id, second.request.id]
    assert listed[0].overdue(today) and not listed[1].overdue(today)
