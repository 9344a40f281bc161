"""Writers of one process on one database: many threads' transactions all go through, none waits for a turn
that is never given back (a commit, a rollback, a connection returned with its transaction open)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import text

from personvern.bootstrap import Runtime
from personvern.services.ports import AuditEvent

NOW_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_sixteen_threads_write_in_turn_and_every_turn_is_given_back(runtime: Runtime) -> None:
    engine = runtime.engine
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(10):
                with runtime.uow() as uow:
                    uow.audit.append([AuditEvent("test.turn", None, None, {"n": n, "i": i})], "t", "ceo", NOW_AT)
                    if i % 3 == 0:
                        continue  # left without commit: rolled back
                    uow.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)
    # 16 threads × 10 transactions, a third rolled back; none waited out the 30 s busy timeout.
    assert time.monotonic() - started < 25
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'test.turn'")).scalar()
    assert kept == 16 * 6
    # A connection given back to the pool with its transaction open gives its turn back too.
    conn = engine.connect()
    conn.execute(text("SELECT 1"))
    conn.close()
    done = threading.Event()

    def one_more() -> None:
        with runtime.uow() as uow:
            uow.commit()
        done.set()

    threading.Thread(target=one_more).start()
    assert done.wait(10), "a writer waited for a turn that was never given back"
    with runtime.uow() as uow:
        assert uow.audit.verify().ok
