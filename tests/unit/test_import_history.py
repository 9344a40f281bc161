"""An import that carries the history: orders, contracts and consents stored with each person, and kept for them."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from personvern.domain.consent import ConsentAction, ConsentMethod
from personvern.domain.errors import InvalidInput
from personvern.domain.subjects import RelationshipType
from personvern.services import register, sweep
from personvern.services.context import Context
from personvern.services.register import import_rows
from tests.unit.builders import ORGNR
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory

NOTICE = "ab" * 32
HEADER = [
    "full_name",
    "phone",
    "email",
    "received_at",
    "order_date",
    "consent_email_at",
    "consent_method",
    "consent_proof",
]


@pytest.fixture
def ceo(ceo: Context) -> Context:
    return replace(ceo, policy_sha256="a" * 64)


def person(n: int, **history: str) -> dict[str, str]:
    return {"full_name": f"Person Nummer{n}", "phone": f"9{n:07d}", "email": f"person{n}@example.no", **history}


def numbered(rows: list[dict[str, str]]) -> list[tuple[int, dict[str, str]]]:
    return list(enumerate(rows, start=2))


def by_email(factory: FakeUnitOfWorkFactory) -> dict[str, str]:
    return {s.values["email"]: s.id for s in factory.state.subjects.values()}


def test_each_person_moves_in_with_their_reasons_to_keep(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    rows = [
        person(1, received_at="2019-03-01", order_date="2024-05-01"),
        person(
            2, received_at="2019-03-01", consent_email_at="2020-01-01 10:00", consent_method="web", consent_proof=NOTICE
        ),
        person(3, received_at="2019-03-01"),  # nothing: a prospect whose time is long over
        person(4),  # received now: a prospect for 90 days
    ]
    result = import_rows(ceo, "one_time_customer", numbered(rows), {}, columns=HEADER)
    assert (result.subjects, result.orders, result.contracts, dict(result.consents), result.shared) == (
        4,
        1,
        0,
        {"email": 1},
        1,
    )
    assert result.stored and result.due == 1 and result.register == 4 and result.worker_waits  # never confirmed
    ids = by_email(factory)
    state = factory.state
    [order] = [r for r in state.relationships.values() if r.subject_id == ids["person1@example.no"]]
    assert (order.type, order.started_on, order.end_date()) == (RelationshipType.ORDER, date(2024, 5, 1), None)
    [event] = [e for e in state.consents if e.subject_id == ids["person2@example.no"]]
    assert (event.action, event.method, event.notice_sha256, event.proof) == (
        ConsentAction.GIVEN,
        ConsentMethod.WEB,
        NOTICE,
        None,
    )
    assert event.at.isoformat() == "2020-01-01T10:00:00+01:00" and event.recorded_by == ceo.actor.name
    assert state.subjects[ids["person1@example.no"]].received_at.date() == date(2019, 3, 1)
    schedules = {email: state.retention.schedules[sid][0] for email, sid in ids.items()}
    assert schedules["person1@example.no"].retain_until is None and schedules["person1@example.no"].rule == "agreement"
    assert schedules["person2@example.no"].retain_until == date(2029, 3, 1)  # ten years from receipt
    assert schedules["person3@example.no"].due_on(NOW.date()) and schedules["person3@example.no"].rule == "prospect"
    assert schedules["person4@example.no"].retain_until == NOW.date() + timedelta(days=90)
    # Each order and consent is in the audit chain as if recorded by hand, marked as imported; never a proof's text.
    actions = [(e.action, e.details.get("via")) for e in factory.audit_entries()]
    assert ("relationship.start", "import") in actions and ("consent.give", "import") in actions
    assert ("processor.share", None) in actions  # HubSpot receives who consented to email, as `consent give` does
    assert [r.kind for r in state.outbox.values()] == ["hubspot.upsert"]
    assert factory.verify().ok and factory.commits == 1


def test_a_proof_note_is_kept_with_the_consent(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    note = "Signed paper form, binder «Samtykker 2020»"
    rows = [person(1, consent_sms_at="2020-01-01", consent_method="paper", consent_proof=note)]
    import_rows(ceo, "one_time_customer", numbered(rows), {})
    [event] = factory.state.consents
    assert (event.notice_sha256, event.proof, event.channel) == (None, note, "sms")
    assert all(note not in str(e.details) for e in factory.audit_entries())


def test_check_stores_nothing_and_says_what_would_be_stored(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    rows = [person(1, received_at="2019-03-01"), person(2, order_date="2024-05-01")]
    before = factory.state.copy()
    result = import_rows(ceo, "one_time_customer", numbered(rows), {}, check=True)
    assert (result.subjects, result.stored, result.orders, result.due) == (2, False, 1, 1)
    assert factory.commits == 0 and factory.state.subjects == before.subjects and factory.state.audit == before.audit


def test_every_bad_history_cell_is_named_by_line_and_nothing_is_stored(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    rows = [
        person(1, order_date="2024-05-01"),
        person(2, order_date="2030-01-01"),
        person(3, consent_sms_at="2020-01-01", consent_method="web"),
        person(4, contract_start="2026-01-01", contract_end="2025-01-01"),
    ]
    with pytest.raises(InvalidInput, match="nothing was imported") as refused:
        import_rows(ceo, "one_time_customer", numbered(rows), {})
    assert {(p.line, p.field) for p in refused.value.problems} == {
        (3, "order_date"),
        (4, "consent_proof"),
        (5, "contract_end"),
    }
    assert factory.state.subjects == {} and factory.commits == 0
    with pytest.raises(InvalidInput, match="header") as header:
        import_rows(ceo, "one_time_customer", numbered([person(1)]), {}, columns=["full_name", "contract_end"])
    assert any(p.field == "contract_end" and "contract_start" in p.message for p in header.value.problems)


def test_a_contract_in_a_later_batch_keeps_the_representatives_of_its_organisation(
    ceo: Context, factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register, "IMPORT_BATCH", 2)
    org = {"organisation_number": ORGNR, "organisation_name": "Brønnøysundregistrene"}
    reps = [person(n, received_at="2019-03-01", **org) for n in range(1, 4)]
    import_rows(ceo, "business_representative", numbered(reps), {})
    customer = [person(9, received_at="2019-03-01", contract_start="2025-01-01", contract_end="2027-06-30", **org)]
    result = import_rows(ceo, "contract_customer", numbered(customer), {})
    assert result.contracts == 1
    for sid, (schedule, _at) in factory.state.retention.schedules.items():
        assert schedule.retain_until == date(2027, 6, 30), (factory.state.subjects[sid].kind, schedule)
    # Within one import too: the contract comes last, in the third batch, and reaches the first two.
    factory.state.subjects.clear()
    factory.state.retention.schedules.clear()
    more = [person(n, received_at="2019-03-01", **org) for n in range(20, 24)]
    more.append(person(30, received_at="2019-03-01", contract_start="2025-01-01", contract_end="2027-06-30", **org))
    import_rows(ceo, "contract_customer", numbered(more), {})
    assert {s.retain_until for s, _at in factory.state.retention.schedules.values()} == {date(2027, 6, 30)}


def test_the_worker_would_wait_when_an_import_makes_too_many_due(ceo: Context, factory: FakeUnitOfWorkFactory) -> None:
    sweep.run(ceo)  # confirmed once
    kept = [person(n, order_date="2024-05-01") for n in range(1, 51)]
    assert not import_rows(ceo, "one_time_customer", numbered(kept), {}).worker_waits
    old = [person(n, received_at="2019-03-01") for n in range(100, 110)]
    checked = import_rows(ceo, "one_time_customer", numbered(old), {}, check=True)
    assert (checked.due, checked.register_due, checked.allowed, checked.worker_waits) == (10, 10, 2, True)
