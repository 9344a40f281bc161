"""The audit chain: each entry holds its predecessor's hash; verify finds the first broken link."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personvern.domain.audit import GENESIS, canonical_details, entry_hash, verify_chain
from tests.unit.conftest import NOW
from tests.unit.fakes import AuditRow


def chain(n: int) -> list[AuditRow]:
    rows: list[AuditRow] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        at = NOW + timedelta(minutes=seq)
        details = canonical_details({"fields": ["email", "phone"], "n": seq})
        digest = entry_hash(seq, at, "kari", "staff", "subject.read", f"s{seq}", "service", details, prev)
        rows.append((seq, at, "kari", "staff", "subject.read", f"s{seq}", "service", details, prev, digest))
        prev = digest
    return rows


def altered(row: AuditRow, index: int, value: object) -> AuditRow:
    items: list[object] = list(row)
    items[index] = value
    return cast(AuditRow, tuple(items))


def rehashed(row: AuditRow, prev: str) -> AuditRow:
    seq, at, actor, role, action, sid, purpose, details, _, _ = row
    return (seq, at, actor, role, action, sid, purpose, details, prev, entry_hash(*row[:8], prev))


def test_an_intact_chain_verifies() -> None:
    report = verify_chain(chain(5))
    assert (report.ok, report.checked, report.broken_at, report.problem) == (True, 5, None, None)


def test_an_empty_chain_verifies() -> None:
    assert verify_chain([]).ok


def test_canonical_details_do_not_depend_on_key_order() -> None:
    assert canonical_details({"b": 1, "a": ["x"]}) == canonical_details({"a": ["x"], "b": 1}) == '{"a":["x"],"b":1}'


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (1, NOW - timedelta(days=1)),  # at
        (2, "mallory"),  # actor
        (3, "ceo"),  # role
        (4, "subject.update"),  # action
        (5, "someone-else"),  # subject
        (6, "marketing"),  # purpose
        (7, canonical_details({"fields": ["email"], "n": 3})),  # details
    ],
)
def test_altered_content_is_detected_at_that_entry(index: int, value: object) -> None:
    rows = chain(5)
    rows[2] = altered(rows[2], index, value)
    report = verify_chain(rows)
    assert (report.ok, report.broken_at, report.checked) == (False, 3, 2)
    assert report.problem is not None and "altered" in report.problem


def test_a_rehashed_forgery_breaks_the_next_link() -> None:
    rows = chain(5)
    rows[2] = rehashed(altered(rows[2], 2, "mallory"), rows[1][9])
    report = verify_chain(rows)
    assert (report.broken_at, report.problem) == (4, "its previous-hash does not match the entry before it")


def test_a_first_entry_not_linked_to_genesis_is_detected() -> None:
    rows = chain(3)
    rows[0] = rehashed(rows[0], "f" * 64)
    assert verify_chain(rows).broken_at == 1


def test_a_missing_entry_is_a_gap() -> None:
    rows = chain(5)
    del rows[2]
    report = verify_chain(rows)
    assert (report.broken_at, report.problem) == (4, "entry 3 is missing (next is 4)")


def test_a_repeated_entry_is_detected() -> None:
    rows = chain(3)
    rows.insert(2, rows[1])
    assert verify_chain(rows).broken_at == 2


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_the_first_broken_entry_is_reported(data: st.DataObject) -> None:
    rows = chain(8)
    broken = data.draw(st.sets(st.integers(1, 8), min_size=1, max_size=4))
    for seq in broken:
        rows[seq - 1] = altered(rows[seq - 1], 2, "mallory")
    report = verify_chain(rows)
    assert (report.broken_at, report.checked) == (min(broken), min(broken) - 1)
