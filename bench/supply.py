"""What the cached register still holds for the operations that use subjects up, and how many runs fit in it.

Three operations change the subjects they touch for good: consent (each subject used ends with a ledger, so it
is no longer one "without a ledger"), the rights operations and the HTTP erasure flow (each subject used is
erased). A run takes at most a share of what is left (`SHARE`), scaling its runs down when the register holds
fewer suitable subjects than the configured runs need; so a small register, or one that earlier runs have used,
still gives a complete run. When a reused register no longer holds enough for `MIN_RUNS` timed runs, `run.py`
builds it again (`shortfall`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from personvern.store import tables as t

SHARE = 2  # a run takes at most 1/SHARE of the suitable subjects left, so the next run finds some too
MIN_RUNS = 20  # timed runs below which a reused register is built again (or all runs, when fewer are asked)
MEMORY_RUNS = 5  # calls of an operation traced for its peak memory (apart from the timed runs)
REPRESENTATIVE = "business_representative"  # the generator's only kind without orders or contracts

_S, _R = t.subjects.c, t.relationships.c


def not_erased() -> Any:
    """Not erased by an earlier run (a customer with an order stays in the register after its erasure, with only
    the fields a hold keeps: no email or phone left)."""
    return ~select(t.erasure_receipts.c.id).where(t.erasure_receipts.c.subject_id == _S.id).exists()


def full_erasure() -> Any:
    """Representatives without orders or contracts, nor any in their organisation (which a representative counts:
    the bookkeeping hold keeps its fields for five years after them): an erasure removes them in full."""
    has_rel = select(_R.id).where(_R.subject_id == _S.id).exists()
    peer = t.subjects.alias("peer")
    org_rel = (
        select(_R.id)
        .select_from(peer.join(t.relationships, _R.subject_id == peer.c.id))
        .where(peer.c.organisation_id == _S.organisation_id)
        .exists()
    )
    return (_S.kind == REPRESENTATIVE) & ~has_rel & ~org_rel & not_erased()


def with_order() -> Any:
    """One-time customers with an order and no contract (a contract in force refuses erasure)."""
    has_order = select(_R.id).where(_R.subject_id == _S.id, _R.type == "order").exists()
    has_contract = select(_R.id).where(_R.subject_id == _S.id, _R.type == "contract").exists()
    return has_order & ~has_contract & not_erased()


def without_ledger() -> Any:
    """Subjects with no consent event and no objection or restriction: a consent given and withdrawn on them
    leaves the marketing audience as it was."""
    ledger = select(t.consent_events.c.id).where(t.consent_events.c.subject_id == _S.id).exists()
    blocks = select(t.subject_blocks.c.id).where(t.subject_blocks.c.subject_id == _S.id).exists()
    return ~ledger & ~blocks & not_erased()


POOLS = {"full_erasure": full_erasure, "with_order": with_order, "without_ledger": without_ledger}


def available(conn: Connection, pool: str, at_most: int) -> int:
    """How many subjects of `pool` the register holds, counted up to `at_most` (no scan past what is needed)."""
    q = select(_S.id).where(POOLS[pool]()).limit(at_most)
    return int(conn.scalar(select(func.count()).select_from(q.subquery())) or 0)


def fit(wanted: int, held: int, per_round: int = 1) -> int:
    """Rounds of `per_round` subjects each that fit in 1/SHARE of `held`, at most `wanted`."""
    return max(0, min(wanted, held // SHARE // per_round))


def rounds(warmup: int, runs: int) -> int:
    """Subjects one kind of call uses: the warm-up, the timed runs and the traced calls."""
    return warmup + runs + MEMORY_RUNS


def split(per: int, warmup: int, runs: int) -> tuple[int, int]:
    """(warm-up, timed runs) for `per` subjects of one kind of call (MEMORY_RUNS of them traced apart); the
    warm-up shrinks with the runs, a tenth of them (at least one)."""
    calls = max(0, per - MEMORY_RUNS)
    if calls >= warmup + runs:
        return warmup, runs
    warm = min(warmup, max(1, calls // 10))
    return warm, max(0, calls - warm)


def shortfall(conn: Connection, needs: dict[str, tuple[str, int, int, int]]) -> str | None:
    """Why a reused register must be built again: an operation that uses subjects up would find too few.

    `needs`: per operation, (pool, subjects one round takes, rounds wanted, the fewest rounds worth a run).
    None when every one fits.
    """
    for name, (pool, per_round, wanted, least) in needs.items():
        held = available(conn, pool, wanted * per_round * SHARE)
        fits = fit(wanted, held, per_round)
        if fits < least:
            return f"{name}: {held} subjects left for it ({pool}), enough for {fits} rounds of the {least} it needs"
    return None


def needs(ops: set[str], warmup: int, runs: int, http_flows: int) -> dict[str, tuple[str, int, int, int]]:
    """What each operation of `ops` that uses subjects up needs (see `shortfall`): the timed runs it is asked for,
    or at least MIN_RUNS of them, besides its warm-up and traced calls."""
    wanted, least = rounds(warmup, runs), rounds(min(warmup, 2), min(MIN_RUNS, runs))
    out: dict[str, tuple[str, int, int, int]] = {}
    if "consent" in ops:
        out["consent"] = ("without_ledger", 3, wanted, least)  # the service's subject, the floor's, floor+audit's
    if "rights" in ops:
        out["rights"] = ("full_erasure", 3, wanted, least)  # fulfil, erase_subject and the floor each erase one
        out["rights with an order"] = ("with_order", 1, wanted, least)
    if "http" in ops:
        out["http"] = ("full_erasure", 1, http_flows, min(MIN_RUNS, http_flows))  # an erasure flow each
    return out
