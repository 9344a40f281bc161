"""The audit chain: each entry holds its predecessor's keyed hash; verify finds the first broken link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personvern.domain.audit import (
    CLOCK_SLACK,
    GENESIS,
    SWITCH_ACTION,
    ChainReport,
    ChainStart,
    Checkpoint,
    against_checkpoint,
    anchor,
    canonical_details,
    entry_hash,
    legacy_entry_hash,
    verify_chain,
)
from tests.unit.conftest import NOW
from tests.unit.fakes import AuditRow

KEY = b"k" * 32
START = ChainStart(KEY, "chain1", 1)


def chain(n: int, start: ChainStart = START, step: timedelta = timedelta(minutes=1)) -> list[AuditRow]:
    rows: list[AuditRow] = []
    prev = start.first_prev
    for seq in range(1, n + 1):
        at = NOW + step * seq
        details = canonical_details({"fields": ["email", "phone"], "n": seq})
        digest = entry_hash(KEY, seq, at, "kari", "staff", "subject.read", f"s{seq}", "service", details, prev)
        rows.append((seq, at, "kari", "staff", "subject.read", f"s{seq}", "service", details, prev, digest))
        prev = digest
    return rows


def altered(row: AuditRow, index: int, value: object) -> AuditRow:
    items: list[object] = list(row)
    items[index] = value
    return cast(AuditRow, tuple(items))


def rehashed(row: AuditRow, prev: str, key: bytes = KEY) -> AuditRow:
    seq, at, actor, role, action, sid, purpose, details, _, _ = row
    return (seq, at, actor, role, action, sid, purpose, details, prev, entry_hash(key, *row[:8], prev))


def test_an_intact_chain_verifies() -> None:
    report = verify_chain(chain(5), START)
    assert (report.ok, report.checked, report.broken_at, report.problem) == (True, 5, None, None)
    assert report.head_hash == chain(5)[-1][9]


def test_an_empty_chain_verifies_here_and_the_store_refuses_it() -> None:
    # The walk alone accepts no entries; SqlAuditLog.verify then requires the first keyed entry (store tests).
    assert verify_chain([], START).ok


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
    report = verify_chain(rows, START)
    assert (report.ok, report.broken_at, report.checked) == (False, 3, 2)
    assert report.problem is not None and "altered" in report.problem


def test_a_rehashed_forgery_breaks_the_next_link() -> None:
    rows = chain(5)
    rows[2] = rehashed(altered(rows[2], 2, "mallory"), rows[1][9])
    report = verify_chain(rows, START)
    assert (report.broken_at, report.problem) == (4, "its previous-hash does not match the entry before it")


def test_a_chain_rebuilt_without_the_key_does_not_verify() -> None:
    """Whoever can write the database but has no master key cannot recompute the whole chain (issue 12)."""
    forged: list[AuditRow] = []
    prev = START.first_prev
    for row in chain(4):
        new = rehashed(altered(row, 2, "mallory"), prev, key=b"not the key".ljust(32, b"."))
        forged.append(new)
        prev = new[9]
    report = verify_chain(forged, START)
    assert (report.broken_at, report.checked) == (1, 0)
    assert report.problem is not None and "altered" in report.problem


def test_a_plain_sha256_chain_does_not_pass_for_a_keyed_one() -> None:
    rows: list[AuditRow] = []
    prev = START.first_prev
    for seq, at, actor, role, action, sid, purpose, details, _, _ in chain(3):
        digest = legacy_entry_hash(seq, at, actor, role, action, sid, purpose, details, prev)
        rows.append((seq, at, actor, role, action, sid, purpose, details, prev, digest))
        prev = digest
    assert verify_chain(rows, START).broken_at == 1


def test_the_first_entry_must_link_to_the_registers_anchor_not_a_constant() -> None:
    assert START.first_prev == anchor(KEY, "chain1") != GENESIS
    assert anchor(KEY, "chain1") != anchor(KEY, "chain2")
    rows = chain(3)
    rows[0] = rehashed(rows[0], GENESIS)
    assert verify_chain(rows, START).broken_at == 1
    assert verify_chain(chain(3), ChainStart(KEY, "chain2", 1)).broken_at == 1  # another register's anchor


def test_a_missing_entry_is_a_gap() -> None:
    rows = chain(5)
    del rows[2]
    report = verify_chain(rows, START)
    assert (report.broken_at, report.problem) == (4, "entry 3 is missing (next is 4)")


def test_a_repeated_entry_is_detected() -> None:
    rows = chain(3)
    rows.insert(2, rows[1])
    assert verify_chain(rows, START).broken_at == 2


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_the_first_broken_entry_is_reported(data: st.DataObject) -> None:
    rows = chain(8)
    broken = data.draw(st.sets(st.integers(1, 8), min_size=1, max_size=4))
    for seq in broken:
        rows[seq - 1] = altered(rows[seq - 1], 2, "mallory")
    report = verify_chain(rows, START)
    assert (report.broken_at, report.checked) == (min(broken), min(broken) - 1)


# ---------------------------------------------------------------- the time: one canonical UTC form (issue 12, 3)


def test_the_hash_covers_the_utc_instant_whatever_offset_the_caller_gave() -> None:
    """Hashed as given (+02:00) but stored and verified as UTC, an entry broke the chain for good."""
    oslo = datetime(2026, 5, 4, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    utc = oslo.astimezone(UTC)
    args = ("kari", "ceo", "subject.list", None, "service", "{}", "p" * 64)
    assert entry_hash(KEY, 1, oslo, *args) == entry_hash(KEY, 1, utc, *args)


def test_a_legacy_entry_written_with_an_offset_still_verifies_from_its_utc_time() -> None:
    """Unkeyed entries of an upgraded register were hashed with the caller's offset; the store keeps UTC."""
    oslo = datetime(2026, 5, 4, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    rows: list[AuditRow] = []
    prev = GENESIS
    for seq, at in ((1, NOW - timedelta(days=300)), (2, oslo)):
        digest = legacy_entry_hash(seq, at, "kari", "ceo", "subject.list", None, "service", "{}", prev)
        rows.append((seq, at.astimezone(UTC), "kari", "ceo", "subject.list", None, "service", "{}", prev, digest))
        prev = digest
    switch = canonical_details({"chain": "chain1", "legacy_entries": 2, "legacy_head": prev})
    at = oslo + timedelta(days=1)
    digest = entry_hash(KEY, 3, at, "tester", "ceo", SWITCH_ACTION, None, None, switch, prev)
    rows.append((3, at, "tester", "ceo", SWITCH_ACTION, None, None, switch, prev, digest))
    start = ChainStart(KEY, "chain1", 3)
    assert verify_chain(rows, start).ok
    tampered = list(rows)
    tampered[1] = altered(rows[1], 2, "mallory")
    assert verify_chain(tampered, start).broken_at == 2
    not_a_switch = list(rows)
    not_a_switch[2] = rehashed(altered(rows[2], 4, "subject.read"), prev)
    assert verify_chain(not_a_switch, start).broken_at == 3


# ---------------------------------------------------------------- the clock moved back (issue 12, 4)


def test_time_running_backwards_breaks_a_real_registers_chain() -> None:
    rows = chain(3, step=timedelta(days=1))
    back = NOW + timedelta(days=2) - CLOCK_SLACK - timedelta(seconds=1)
    rows.append(rehashed(altered(chain(4)[3], 1, back), rows[-1][9]))
    report = verify_chain(rows, START, simulation=False)
    assert (report.ok, report.broken_at) == (False, 4)
    assert report.problem is not None and "clock was moved back" in report.problem


def test_time_running_backwards_is_allowed_in_a_simulation_and_within_the_slack() -> None:
    rows = chain(3, step=timedelta(days=1))
    rows.append(rehashed(altered(chain(4)[3], 1, NOW - timedelta(days=30)), rows[-1][9]))
    assert verify_chain(rows, START, simulation=True).ok
    near = chain(3, step=timedelta(days=1))
    near.append(rehashed(altered(chain(4)[3], 1, NOW + timedelta(days=3) - CLOCK_SLACK), near[-1][9]))
    assert verify_chain(near, START, simulation=False).ok  # concurrent writers commit a little out of order


# ---------------------------------------------------------------- checkpoints


def test_a_checkpoint_line_is_signed_and_read_back() -> None:
    cp = Checkpoint("chain1", 45, "a" * 64, NOW)
    line = cp.line(KEY)
    assert Checkpoint.parse(line, KEY) == cp
    assert Checkpoint.parse(line, b"x" * 32) is None
    assert Checkpoint.parse(line.replace(" 45 ", " 44 "), KEY) is None
    assert Checkpoint.parse("garbage", KEY) is None


def test_a_chain_cut_short_of_its_last_checkpoint_is_broken() -> None:
    rows = chain(5)
    report = verify_chain(rows[:3], START)
    cut = against_checkpoint(report, Checkpoint("chain1", 5, rows[4][9], NOW), None)
    assert (cut.ok, cut.broken_at) == (False, 4)
    assert cut.problem is not None and "older copy" in cut.problem
    assert against_checkpoint(verify_chain(rows, START), Checkpoint("chain1", 5, rows[4][9], NOW), rows[4][9]).ok


def test_a_chain_whose_checkpointed_entry_changed_is_broken() -> None:
    report = ChainReport(5, head_hash="b" * 64)
    broken = against_checkpoint(report, Checkpoint("chain1", 4, "a" * 64, NOW), "c" * 64)
    assert (broken.ok, broken.broken_at) == (False, 4)
