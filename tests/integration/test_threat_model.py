"""SECURITY.md's claims that had no test of their own: what a copy of the database or a stolen session cannot do."""

from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import select

from personvern.bootstrap import Runtime
from personvern.domain.errors import Unauthenticated
from personvern.services import users
from personvern.store import tables as t
from personvern.store.crypto import Vault


def test_a_copy_of_the_database_holds_no_session_it_could_use(runtime: Runtime) -> None:
    """The sessions table keeps the cookie's digest: a stolen copy of the database signs nobody in."""
    issued = users.add_user(runtime.context(), "kari", "staff")
    assert issued.password is not None
    signed = users.sign_in(runtime.uow, runtime.clock, "kari", issued.password, "127.0.0.1")
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(t.sessions)).all()
    assert len(rows) == 1
    assert signed.session_token not in str(tuple(rows[0]))
    stored = rows[0].digest
    assert stored == users.digest(signed.session_token)
    with pytest.raises(Unauthenticated):  # what the database holds is not a cookie that works
        users.session(runtime.uow, runtime.clock, stored)
    assert users.session(runtime.uow, runtime.clock, signed.session_token)[0].name == "kari"


def test_a_stolen_session_ends_when_the_user_is_disabled(runtime: Runtime) -> None:
    """What the CEO does on hearing of a stolen session or token: `user disable` ends both at once."""
    issued = users.add_user(runtime.context(), "kari", "staff")
    assert issued.password is not None
    signed = users.sign_in(runtime.uow, runtime.clock, "kari", issued.password, "127.0.0.1")
    users.disable_user(runtime.context(), "kari")
    with pytest.raises(Unauthenticated):
        users.session(runtime.uow, runtime.clock, signed.session_token)
    with pytest.raises(Unauthenticated):
        users.authenticate(runtime.uow, issued.token)
    with runtime.engine.connect() as conn:
        assert conn.execute(select(t.sessions)).first() is None


def test_look_up_digests_need_the_master_key() -> None:
    """A phone number has few enough values to try them all: its look-up digest is an HMAC under a key derived
    from the master key, so the database alone cannot tell whether a given number is in the register."""
    phone = "+4791234567"
    first, second = Vault(os.urandom(32)), Vault(os.urandom(32))
    digest = first.blind("phone", phone)
    assert digest == first.blind("phone", phone)  # the same key finds the same person
    assert digest != second.blind("phone", phone)  # another key (a guesser without ours) finds nothing
    unkeyed = [hashlib.sha256(v.encode()).digest()[:16] for v in (phone, f"phone\x00{phone}", phone[1:])]
    assert digest not in unkeyed
