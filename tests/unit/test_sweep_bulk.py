"""The bulk retention sweep on the in-memory store: a mixed batch ends as the one-by-one sweep, subject by subject."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from personvern.domain.archive import ArchiveRecord
from personvern.domain.erasure import ErasureCause
from personvern.domain.errors import NotFound
from personvern.services import sweep
from personvern.services.context import Context
from personvern.services.erasure import erase_many
from tests.sweep_scenario import NAMES, make, state, sweep_both
from tests.unit.conftest import NOW
from tests.unit.fakes import FakeUnitOfWorkFactory, FixedClock


@pytest.fixture
def ctx(ceo: Context) -> Context:
    return replace(ceo, policy_sha256="a" * 64)  # consent is tied to the notice the person saw


def test_a_mixed_batch_ends_as_one_subject_at_a_time(ctx: Context, factory: FakeUnitOfWorkFactory) -> None:
    mark = len(factory.state.audit)
    bulk, single, result = sweep_both(ctx)
    assert (result.archived, result.erased, result.held, result.skipped, result.failed) == (2, 3, 1, 1, [])
    audit = [(e.subject_id, e.action, dict(e.details)) for e in factory.audit_entries()[mark:]]
    with factory() as uow:
        for name in NAMES:
            assert state(uow, bulk[name], audit) == state(uow, single[name], audit), name
        # What each case came to, so that equal states are also the right ones.
        assert uow.archive.for_subject(bulk["archived"]) is not None
        assert not uow.subjects.exists(bulk["objected"]) and uow.archive.for_subject(bulk["objected"]) is None
        held = uow.subjects.get(bulk["held"])
        assert held is not None and "phone" not in held.values and "email" in held.values
        assert uow.subjects.exists(bulk["no_longer_due"])
        for name in ("hubspot_archived", "hubspot_erased"):
            deletes = [r for r in uow.outbox.in_states(["pending"], 100) if r.public.get("subject") == bulk[name]]
            assert [r.kind for r in deletes] == ["hubspot.delete"], name
    assert factory.verify().ok


def test_a_plain_erasure_decrypts_nothing(ctx: Context, factory: FakeUnitOfWorkFactory) -> None:
    bulk, _single, _result = sweep_both(ctx)
    reads: list[tuple[tuple[str, ...], object]] = []
    with factory() as uow:
        get_many = uow.subjects.get_many

        def spy(ids, fields=None):  # type: ignore[no-untyped-def]
            reads.append((tuple(ids), None if fields is None else tuple(fields)))
            return get_many(ids, fields)

        uow.subjects.get_many = spy  # type: ignore[method-assign]
        erase_many(ctx, uow, [bulk["no_longer_due"]], cause=ErasureCause.REQUEST)
    assert reads == []


def test_an_unknown_subject_fails_the_whole_erasure(ctx: Context, factory: FakeUnitOfWorkFactory) -> None:
    bulk, _single, _result = sweep_both(ctx)
    with factory() as uow, pytest.raises(NotFound, match="nobody"):
        erase_many(ctx, uow, [bulk["no_longer_due"], "nobody"], cause=ErasureCause.REQUEST)


def test_a_failing_batch_is_redone_one_subject_per_transaction(ctx: Context, factory: FakeUnitOfWorkFactory) -> None:
    ids = make(ctx, 0)
    stuck = ids["archived"]
    with factory() as uow:
        # Damage: an archived copy of someone still in the register; archiving them again must fail, alone.
        uow.archive.add(ArchiveRecord("rec", stuck, "one_time_customer", NOW, NOW, "planted"), {})
        uow.commit()
    later = replace(ctx, clock=FixedClock(NOW + timedelta(days=1)))
    result = sweep.RunResult(date(2026, 11, 26))
    commits = factory.commits
    sweep.run_batch(later, list(ids.values()), result.day, ErasureCause.RETENTION, result)
    assert [sid for sid, _why in result.failed] == [stuck] and "already archived" in result.failed[0][1]
    assert (result.archived, result.erased, result.held, result.skipped) == (1, 3, 1, 1)
    assert factory.commits - commits == len(ids) - 1  # the batch rolled back; each other subject alone
    assert factory.state.subjects[stuck].kind == "one_time_customer"  # untouched
