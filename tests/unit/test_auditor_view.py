"""The auditor reads exactly the accounting view: the export, the record, the audit log's integrity; nothing else."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from personvern.domain.access import Actor
from personvern.domain.audit import AuditQuery
from personvern.domain.errors import Forbidden
from personvern.services import (
    admin,
    confirmations,
    consent,
    erasure,
    exports,
    messaging,
    outbox,
    reconcile,
    record,
    register,
    rights,
)
from personvern.services.context import Context
from tests.unit.fakes import FakeUnitOfWorkFactory

KARI = {"full_name": "Kari Nordmann", "phone": "+4791234567", "email": "kari@example.no"}


@pytest.fixture
def kari(ceo: Context) -> str:
    sid = register.add_subject(ceo, "one_time_customer", KARI, {}).id
    register.start_relationship(ceo, sid, "order")
    consent.give_consent(ceo, sid, "marketing", "sms", "web", notice_sha256="5" * 64)
    return sid


def test_the_auditor_reads_the_accounting_view(
    as_role: Callable[[str], Context], factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    auditor = as_role("auditor")
    assert exports.export_customers(auditor, "saft").record.subjects == 1
    assert exports.export_customers(auditor, "csv").record.recipient == "auditor"
    data, _text = record.record_of_processing(auditor)
    assert data["controller"]["name"] == "24 Center AS"
    assert admin.verify_audit(factory, Actor("rev", "auditor")).ok
    view = register.show_subject(auditor, kari)
    assert set(view.values) == {"full_name", "email"}  # the bookkeeping fields only
    assert view.consents is None and view.blocks is None  # nothing of marketing


REFUSED = {
    "the marketing audience": lambda c, sid: consent.marketing_audience(c, "sms"),
    "consent and objections": lambda c, sid: consent.consent_ledger(c, sid),
    "messages": lambda c, sid: messaging.list_messages(c),
    "sending a message": lambda c, sid: messaging.send_sms(c, sid, "marketing", "Tilbud!"),
    "the archive": lambda c, sid: erasure.list_archive(c),
    "an archived record": lambda c, sid: erasure.show_archived(c, sid),
    "the outbox": lambda c, sid: outbox.list_outbox(c),
    "the audit log's entries": lambda c, sid: admin.read_audit_log(c.uow, c.clock, c.actor, AuditQuery(sid)),
    "requests": lambda c, sid: rights.list_requests(c),
    "the CEO's tasks": lambda c, sid: confirmations.list_tasks(c),
    "HubSpot's reconciliation": lambda c, sid: reconcile.last_run(c),
    "the register's changes": lambda c, sid: register.update_subject(c, sid, {"full_name": "X"}, [], {}),
}


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_the_auditor_is_refused_everything_else(
    what: str, as_role: Callable[[str], Context], factory: FakeUnitOfWorkFactory, kari: str
) -> None:
    commits = factory.commits
    with pytest.raises(Forbidden, match="role 'auditor' may not"):
        REFUSED[what](as_role("auditor"), kari)
    assert factory.commits == commits
