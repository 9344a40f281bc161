"""Staff users: adding them, their tokens and passwords, console sign-in with throttling, and sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from personvern.domain.access import Permission
from personvern.domain.audit import AuditEvent
from personvern.domain.errors import Conflict, NotFound, Throttled, Unauthenticated, invalid
from personvern.domain.users import (
    ABSOLUTE,
    IDLE,
    Session,
    User,
    check_language,
    check_new_user,
    check_password,
)
from personvern.services.context import Context, new_id
from personvern.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

TOKEN_START = "pv_"  # tokens are recognisable in a leaked file or a secret scanner's rules
SHOWN = 10  # characters of a token kept visible (its prefix): enough to tell tokens apart, useless to sign in
WRONG = "the user name or password is wrong"  # the same words for an unknown name and a wrong password


@dataclass(frozen=True)
class Issued:
    """What is shown once when a user is added or given a new token; only hashes are stored."""

    user: User
    token: str
    password: str | None = None


@dataclass(frozen=True)
class SignedIn:
    user: User
    session_token: str  # the cookie's value, shown to the browser only
    csrf: str


def digest(secret: str) -> str:
    """A token's or session id's SHA-256: they are 256-bit random, so a plain hash is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()


@cache
def _hasher() -> PasswordHasher:
    # argon2id with the library's defaults (RFC 9106's second recommended profile, 64 MiB).
    return PasswordHasher()


@cache
def _decoy() -> str:
    """A hash to verify against when the name is unknown, so both answers take as long (no name probing)."""
    return _hasher().hash(secrets.token_urlsafe(16))


def _token() -> tuple[str, str, str]:
    token = TOKEN_START + secrets.token_urlsafe(32)  # 256 bits
    return token, token[:SHOWN], digest(token)


def _password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, 120 bits: typed once, then changed


def _audit(uow: UnitOfWork, user: User, clock: Clock, action: str, **details: object) -> None:
    event = AuditEvent(action, details={"user": user.name, **details})
    uow.audit.append([event], user.actor_name, user.role, clock.now())


def add_user(ctx: Context, name: str, role: str, language: str = "nb") -> Issued:
    ctx.actor.require(Permission.USERS_MANAGE)
    check_new_user(name, role, language)
    token, prefix, token_digest = _token()
    password = _password()
    user = User(new_id(), name, role, language, prefix, ctx.clock.now(), must_change_password=True)
    with ctx.uow() as uow:
        if uow.users.by_name(name) is not None:
            raise Conflict(f"a user named {name!r} exists already")
        uow.users.add(user, _hasher().hash(password), token_digest)
        ctx.record(uow, AuditEvent("user.added", details={"user": name, "role": role, "token": prefix}))
        uow.commit()
    return Issued(user, token, password)


def list_users(ctx: Context) -> list[User]:
    ctx.actor.require(Permission.USERS_MANAGE)
    with ctx.uow() as uow:
        return uow.users.all()


def _named(uow: UnitOfWork, name: str) -> User:
    found = uow.users.by_name(name)
    if found is None:
        raise NotFound(f"no user named {name!r}")
    return found[0]


def disable_user(ctx: Context, name: str) -> User:
    """The user can no longer sign in or use their token; their sessions end at once. Kept for the audit log."""
    ctx.actor.require(Permission.USERS_MANAGE)
    with ctx.uow() as uow:
        user = _named(uow, name)
        if not user.active:
            return user
        now = ctx.clock.now()
        uow.users.disable(user.id, now)
        ended = uow.sessions.end_for_user(user.id)
        ctx.record(uow, AuditEvent("user.disabled", details={"user": name, "sessions_ended": ended}))
        uow.commit()
    return replace(user, disabled_at=now)


def new_token(ctx: Context, name: str) -> Issued:
    """A new token for the user; the old one stops working in the same transaction."""
    ctx.actor.require(Permission.USERS_MANAGE)
    token, prefix, token_digest = _token()
    with ctx.uow() as uow:
        user = _named(uow, name)
        if not user.active:
            raise Conflict(f"user {name!r} is disabled; a disabled user gets no token")
        uow.users.set_token(user.id, prefix, token_digest)
        ctx.record(uow, AuditEvent("user.token", details={"user": name, "token": prefix, "was": user.token_prefix}))
        uow.commit()
    return Issued(replace(user, token_prefix=prefix), token)


def reset_password(ctx: Context, name: str) -> Issued:
    """A new first password for a user who lost theirs (shown once, changed at the next sign-in)."""
    ctx.actor.require(Permission.USERS_MANAGE)
    password = _password()
    with ctx.uow() as uow:
        user = _named(uow, name)
        if not user.active:
            raise Conflict(f"user {name!r} is disabled; a disabled user gets no password")
        uow.users.set_password(user.id, _hasher().hash(password), must_change=True)
        ended = uow.sessions.end_for_user(user.id)
        ctx.record(uow, AuditEvent("user.password_reset", details={"user": name, "sessions_ended": ended}))
        uow.commit()
    return Issued(replace(user, must_change_password=True), "", password)


def authenticate(uow_factory: UnitOfWorkFactory, token: str) -> User:
    """The active user this bearer token belongs to, or Unauthenticated (the same for every wrong token)."""
    if not token.startswith(TOKEN_START) or len(token) > 100:
        raise Unauthenticated("the token is not valid")
    with uow_factory() as uow:
        user = uow.users.by_token(digest(token))
    if user is None or not user.active:
        raise Unauthenticated("the token is not valid")
    return user


def _keys(name: str, client: str) -> tuple[str, str]:
    return "signin:name:" + digest(name.lower()), "signin:addr:" + digest(client)


def sign_in(uow_factory: UnitOfWorkFactory, clock: Clock, name: str, password: str, client: str) -> SignedIn:
    """Check a name and password; slow down and then lock out repeated failures, per name and per address.

    Throttled before the password is checked, so a locked name cannot be probed further; the refusal does not
    say whether the name exists (Art. 32: a register's staff accounts are a way into personal data).
    """
    now = clock.now()
    keys = _keys(name, client)
    with uow_factory() as uow:
        for key in keys:
            held = uow.throttles.get(key)
            if held is not None and held.expired(now):
                uow.throttles.clear(key)
            elif held is not None and held.wait(now).total_seconds() > 0:
                wait = int(held.wait(now).total_seconds()) + 1
                raise Throttled(f"too many failed sign-ins; try again in {wait} seconds", wait)
        found = uow.users.by_name(name) if len(name) <= 40 and len(password) <= 256 else None
        ok = _verify(found[1] if found else _decoy(), password) and found is not None and found[0].active
        if not ok or found is None:
            for key in keys:
                uow.throttles.fail(key, now)
            if found is not None:
                _audit(uow, found[0], clock, "user.signin_failed")
            uow.commit()
            raise Unauthenticated(WRONG)
        user = found[0]
        for key in keys:
            uow.throttles.clear(key)
        session_token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        uow.sessions.add(Session(digest(session_token), user.id, csrf, now, now))
        uow.sessions.purge(now - IDLE, now - ABSOLUTE)
        _audit(uow, user, clock, "user.signed_in")
        uow.commit()
    return SignedIn(user, session_token, csrf)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def session(uow_factory: UnitOfWorkFactory, clock: Clock, session_token: str) -> tuple[User, Session]:
    """The signed-in user of a console session; an idle, expired or unknown session is Unauthenticated."""
    now = clock.now()
    key = digest(session_token)
    with uow_factory() as uow:
        found = uow.sessions.get(key)
        user = uow.users.get(found.user_id) if found is not None else None
        if found is None or user is None or not user.active or not found.alive(now):
            if found is not None:
                uow.sessions.end(key)
                uow.commit()
            raise Unauthenticated("you are not signed in, or the session has ended")
        if found.needs_touch(now):
            uow.sessions.touch(key, now)
            uow.commit()
    return user, found


def sign_out(uow_factory: UnitOfWorkFactory, clock: Clock, session_token: str) -> None:
    with uow_factory() as uow:
        found = uow.sessions.get(digest(session_token))
        if found is None:
            return
        uow.sessions.end(found.digest)
        user = uow.users.get(found.user_id)
        if user is not None:
            _audit(uow, user, clock, "user.signed_out")
        uow.commit()


def csrf_ok(found: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(found.csrf.encode(), given.encode())


def change_password(uow_factory: UnitOfWorkFactory, clock: Clock, user: User, current: str, new: str) -> User:
    """The user's own new password (required at first sign-in); the current one must be given again."""
    with uow_factory() as uow:
        found = uow.users.by_name(user.name)
        if found is None or not _verify(found[1], current):
            raise invalid("current_password", "is not your current password")
        check_password(new, user.name)
        if new == current:
            raise invalid("new_password", "must differ from the current password")
        uow.users.set_password(user.id, _hasher().hash(new), must_change=False)
        _audit(uow, user, clock, "user.password_changed")
        uow.commit()
    return replace(user, must_change_password=False)


def set_language(uow_factory: UnitOfWorkFactory, clock: Clock, user: User, language: str) -> User:
    check_language(language)
    with uow_factory() as uow:
        uow.users.set_language(user.id, language)
        uow.commit()
    return replace(user, language=language)
