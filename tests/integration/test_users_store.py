"""Users, sessions and sign-in throttles on SQLite and PostgreSQL, shared by every process on the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from personvern.bootstrap import FixedClock, Runtime, Settings, open_runtime
from personvern.domain.access import Actor
from personvern.domain.errors import Conflict, Forbidden, NotFound, Throttled, Unauthenticated
from personvern.domain.users import FREE_FAILURES, IDLE, LOCK_AFTER
from personvern.services import users
from personvern.store import tables as t


def _add(rt: Runtime, name: str = "kari", role: str = "staff") -> users.Issued:
    return users.add_user(rt.context(), name, role)


def test_only_hashes_are_stored(runtime: Runtime) -> None:
    issued = _add(runtime)
    with runtime.engine.connect() as conn:
        row = conn.execute(select(t.users)).one()
    assert issued.token not in str(tuple(row)) and issued.password not in str(tuple(row))
    assert row.password_hash.startswith("$argon2id$")
    assert row.token_digest == users.digest(issued.token) and row.token_prefix == issued.token[:10]


def test_a_token_signs_in_until_replaced_or_disabled(runtime: Runtime) -> None:
    issued = _add(runtime)
    assert users.authenticate(runtime.uow, issued.token).name == "kari"
    renewed = users.new_token(runtime.context(), "kari")
    with pytest.raises(Unauthenticated):
        users.authenticate(runtime.uow, issued.token)
    assert users.authenticate(runtime.uow, renewed.token).role == "staff"
    users.disable_user(runtime.context(), "kari")
    with pytest.raises(Unauthenticated):
        users.authenticate(runtime.uow, renewed.token)
    with pytest.raises(Conflict):
        users.new_token(runtime.context(), "kari")


def test_only_the_ceo_manages_users(runtime: Runtime) -> None:
    staff = replace(runtime.context(), actor=Actor("user:ola", "staff"))
    with pytest.raises(Forbidden):
        users.add_user(staff, "per", "staff")
    with pytest.raises(Forbidden):
        users.list_users(staff)
    with pytest.raises(NotFound):
        users.disable_user(runtime.context(), "nobody")
    _add(runtime)
    with pytest.raises(Conflict):
        _add(runtime)
    assert [u.name for u in users.list_users(runtime.context())] == ["kari"]


def test_sign_in_session_and_sign_out(runtime: Runtime) -> None:
    issued = _add(runtime)
    assert issued.password is not None
    signed = users.sign_in(runtime.uow, runtime.clock, "kari", issued.password, "127.0.0.1")
    user, session = users.session(runtime.uow, runtime.clock, signed.session_token)
    assert user.name == "kari" and users.csrf_ok(session, signed.csrf) and not users.csrf_ok(session, "x")
    later = FixedClock(runtime.clock.now() + IDLE)
    with pytest.raises(Unauthenticated):
        users.session(runtime.uow, later, signed.session_token)
    again = users.sign_in(runtime.uow, runtime.clock, "kari", issued.password, "127.0.0.1")
    users.sign_out(runtime.uow, runtime.clock, again.session_token)
    with pytest.raises(Unauthenticated):
        users.session(runtime.uow, runtime.clock, again.session_token)


def test_failed_sign_ins_slow_down_and_lock_across_processes(runtime: Runtime, db_url: str) -> None:
    issued = _add(runtime)
    assert issued.password is not None
    # A second runtime on the same database stands for a second `serve` process: the count is shared.
    other = open_runtime(Settings.resolve(db_url, runtime.clock.now().isoformat(), "ceo"))
    try:
        clock = runtime.clock
        for n in range(FREE_FAILURES):
            rt = runtime if n % 2 else other
            with pytest.raises(Unauthenticated, match="user name or password is wrong"):
                users.sign_in(rt.uow, clock, "kari", "wrong password!", f"10.0.0.{n}")
        with pytest.raises(Throttled) as slowed:
            users.sign_in(other.uow, clock, "kari", issued.password, "10.0.0.99")
        assert slowed.value.retry_after >= 1
        # Each later failure, once its wait is over, counts; at LOCK_AFTER the name is locked for good minutes.
        at = clock.now()
        for _ in range(LOCK_AFTER - FREE_FAILURES):
            at += timedelta(seconds=61)
            with pytest.raises(Unauthenticated):
                users.sign_in(runtime.uow, FixedClock(at), "kari", "wrong password!", "10.0.1.1")
        with pytest.raises(Throttled) as locked:
            users.sign_in(runtime.uow, FixedClock(at + timedelta(seconds=61)), "kari", issued.password, "10.0.2.2")
        assert locked.value.retry_after > 60
        done = users.sign_in(runtime.uow, FixedClock(at + timedelta(minutes=16)), "kari", issued.password, "10.0.3.3")
        assert done.user.name == "kari"
    finally:
        other.close()


def test_an_unknown_name_is_refused_in_the_same_words(runtime: Runtime) -> None:
    with pytest.raises(Unauthenticated) as unknown:
        users.sign_in(runtime.uow, runtime.clock, "nobody", "whatever password", "127.0.0.1")
    assert str(unknown.value) == users.WRONG


def test_password_change_and_reset(runtime: Runtime) -> None:
    issued = _add(runtime)
    assert issued.password is not None
    user = users.authenticate(runtime.uow, issued.token)
    with pytest.raises(Exception, match="current_password"):
        users.change_password(runtime.uow, runtime.clock, user, "not it at all", "a much better passphrase")
    with pytest.raises(Exception, match="password"):
        users.change_password(runtime.uow, runtime.clock, user, issued.password, "short")
    changed = users.change_password(runtime.uow, runtime.clock, user, issued.password, "a much better passphrase")
    assert not changed.must_change_password
    signed = users.sign_in(runtime.uow, runtime.clock, "kari", "a much better passphrase", "127.0.0.1")
    reset = users.reset_password(runtime.context(), "kari")
    with pytest.raises(Unauthenticated):
        users.session(runtime.uow, runtime.clock, signed.session_token)
    assert reset.password
    assert users.sign_in(runtime.uow, runtime.clock, "kari", reset.password, "::1").user.must_change_password


def test_user_actions_are_in_the_audit_chain_without_secrets(runtime: Runtime) -> None:
    issued = _add(runtime)
    assert issued.password is not None
    users.sign_in(runtime.uow, runtime.clock, "kari", issued.password, "127.0.0.1")
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(t.audit_log.c.action, t.audit_log.c.actor, t.audit_log.c.details)).all()
    actions = [(r.action, r.actor) for r in rows if r.action.startswith("user.")]
    assert ("user.added", runtime.actor.name) in actions and ("user.signed_in", "user:kari") in actions
    text = str(rows)
    assert issued.token not in text and issued.password not in text
