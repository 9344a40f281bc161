"""One marketing SMS to the whole audience: previewed (counted, nothing read), then queued person by person."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from personvern.domain.errors import Forbidden, InvalidInput
from personvern.domain.sms import OPT_OUT_LINE
from personvern.services import consent, messaging, register
from personvern.services.context import Context
from tests.unit.fakes import FakeUnitOfWorkFactory

NOTICE = "a" * 64


def person(ctx: Context, n: int, consenting: bool = True) -> str:
    values = {"full_name": f"Kari {n} Nordmann", "phone": f"+474100000{n}", "email": f"kari{n}@example.no"}
    sid = register.add_subject(ctx, "one_time_customer", values, {}).id
    if consenting:
        consent.give_consent(ctx, sid, "marketing", "sms", "web", notice_sha256=NOTICE)
    return sid


def test_the_preview_counts_the_audience_and_measures_the_text_as_sent(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    for n in (1, 2, 3):
        person(ceo, n)
    person(ceo, 4, consenting=False)
    outbox_before = dict(factory.state.outbox)
    preview = messaging.preview_audience(ceo, "Tilbud i desember")
    assert preview.text == f"Tilbud i desember\n{OPT_OUT_LINE}"
    assert (preview.recipients, preview.length.segments, preview.segments) == (3, 1, 3)
    assert factory.state.outbox == outbox_before
    entry = factory.audit_entries()[-1]
    assert (entry.action, entry.subject_id, entry.details["count"]) == ("marketing.audience", None, 3)


def test_each_person_allowed_when_their_turn_comes_gets_one_message(
    ceo: Context, factory: FakeUnitOfWorkFactory
) -> None:
    ids = [person(ceo, n) for n in (1, 2, 3)]
    person(ceo, 4, consenting=False)
    consent.object_to(ceo, ids[1])  # an objection (Art. 21(3)) takes them out of the audience
    sent = messaging.send_to_audience(ceo, "Tilbud i desember")
    assert (sent.queued, sent.skipped, sent.segments) == (2, 0, 2)
    rows = [r for r in factory.state.outbox.values() if r.kind == "sms"]
    assert sorted(r.subject_id for r in rows) == sorted([ids[0], ids[2]])
    assert all(r.personal["text"].endswith(OPT_OUT_LINE) for r in rows)
    actions = [e.action for e in factory.audit_entries()]
    assert actions.count("sms.send") == 2 and actions[-1] == "sms.audience"
    assert factory.audit_entries()[-1].details == {"channel": "sms", "queued": 2, "skipped": 0, "segments": 2}


def test_someone_who_drops_out_meanwhile_is_skipped_not_sent_to(
    ceo: Context, factory: FakeUnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [person(ceo, n) for n in (1, 2)]
    selected = messaging._check

    def restricted_meanwhile(ctx: Context, uow: object, subject_id: str, purpose: str, text: str) -> object:
        if subject_id == ids[0]:
            raise Forbidden("no SMS: processing is restricted (Art. 18)")
        return selected(ctx, uow, subject_id, purpose, text)  # type: ignore[arg-type]

    monkeypatch.setattr(messaging, "_check", restricted_meanwhile)
    sent = messaging.send_to_audience(ceo, "Tilbud")
    assert (sent.queued, sent.skipped) == (1, 1)
    assert [r.subject_id for r in factory.state.outbox.values()] == [ids[1]]


def test_a_bad_text_or_a_role_that_may_not_queues_nothing(
    ceo: Context, as_role: Callable[[str], Context], factory: FakeUnitOfWorkFactory
) -> None:
    person(ceo, 1)
    with pytest.raises(InvalidInput) as bad:
        messaging.send_to_audience(ceo, "   ")
    assert bad.value.problems[0].field == "text"
    with pytest.raises(Forbidden, match="may not read the marketing audience"):
        messaging.preview_audience(as_role("staff"), "Tilbud")
    with pytest.raises(Forbidden, match="may not send marketing SMS"):
        messaging.send_to_audience(as_role("auditor"), "Tilbud")
    assert messaging.send_to_audience(as_role("marketing"), "Tilbud").queued == 1
    assert len(factory.state.outbox) == 1
