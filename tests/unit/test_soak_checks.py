"""The soak's checks (bench/soak.py) on made-up observations, and what the soak found: a deadlock answers 503."""

from __future__ import annotations

from collections import Counter

from bench.soak import FD_GROWTH, RSS_GROWTH, WARM_UP, Seen, Stored, flat, problems

MB = 1024 * 1024


def clean() -> tuple[Seen, Stored]:
    seen = Seen()
    seen.consents = {"c1": "s1", "c2": "s2", "c3": "gone"}  # gone's event went with them
    seen.queued = {"o1", "o2"}
    seen.erased = {"gone"}
    seen.accepted = Counter({"o1": 1, "o2": 2})  # o2 twice: a lost answer, sent again under its refId
    seen.samples = {"worker 1": [(100 * MB, 6)] * 20}
    stored = Stored({"c1", "c2"}, {"o1": ("delivered", "s1"), "o2": ("delivered", "s2")}, set(), set(), True, "")
    return seen, stored


def test_a_clean_run_passes_and_copies_under_one_ref_id_are_allowed() -> None:
    seen, stored = clean()
    assert problems(seen, stored, {"serve 1": "INFO GET /api/v1/subjects 200"}) == []


def test_each_failure_is_named() -> None:
    seen, stored = clean()
    stored.consent_ids.discard("c2")  # a consent change answered 201 but not in the ledger
    stored.outbox["o3"] = ("delivered", "s1")  # delivered, yet LINK never accepted it
    stored.outbox["o4"] = ("pending", "s1")
    seen.accepted["x9"] += 1  # LINK accepted something that is no row of ours
    seen.fives.append("read 500 internal error")
    stored.subjects.add("gone")
    stored.keys.add("gone")
    stored.audit_ok, stored.audit_said = False, "the chain forks at entry 7"
    said = problems(
        seen, stored, {"worker 2": "…\nTraceback (most recent call last):\n  psycopg.errors.DeadlockDetected"}
    )
    text = "\n".join(said)
    for expected in (
        "1 consent events answered 2xx are not in the ledger (e.g. c2)",
        "1 SMS rows are delivered but LINK never accepted them (e.g. o3)",
        "1 SMS rows still pending after the drain",
        "1 refIds accepted by LINK are no SMS row of ours (e.g. x9)",
        "1 answers were 5xx (not 503): read 500",
        "erased people still have a subject row",
        "erased people still have a data key",
        "audit verify failed: the chain forks at entry 7",
        "worker 2 printed 'Traceback'",
    ):
        assert expected in text, (expected, said)


def test_a_queued_sms_that_vanished_unsent_is_found() -> None:
    seen, stored = clean()
    seen.queued.add("o5")
    assert problems(seen, stored, {}) == ["1 queued SMS rows vanished unsent"]


def test_memory_and_descriptors_must_stay_flat() -> None:
    steady = [(100 * MB, 6)] * 18
    assert flat(steady) is None
    assert flat(steady[: WARM_UP + 3]) is None  # too short a run to tell
    noisy = [(100 * MB + (i % 3) * MB, 6 + i % 2) for i in range(18)]
    assert flat(noisy) is None
    leaking = [(100 * MB + i * (RSS_GROWTH // 8), 6 + i) for i in range(18)]
    said = flat(leaking) or ""
    assert "RSS grew" in said and "open fds grew" in said
    assert FD_GROWTH < 12  # the leak above opened one a sample


class _Driver(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("deadlock detected")
        self.sqlstate = sqlstate


def test_a_deadlock_or_a_serialization_failure_is_a_503_to_try_again_and_nothing_else_is() -> None:
    from sqlalchemy.exc import OperationalError

    from personvern.api.errors import from_exception

    for state in ("40P01", "40001"):
        answer = from_exception(OperationalError("UPDATE requests …", {}, _Driver(state)))
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert b'"code":"busy"' in answer.body and b"UPDATE" not in answer.body
    other = from_exception(OperationalError("SELECT 1", {}, _Driver("08006")))  # the connection failed
    assert other.status_code == 500
