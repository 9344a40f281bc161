"""Staff users of the console and the API: who they are, how sign-in is slowed and sessions end (pure rules)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from personvern.domain.access import check_role
from personvern.domain.errors import invalid

# Lower-case letters first, then letters, digits, dot, dash or underscore: names go into the audit log as
# "user:NAME" and into URLs, so they carry no spaces and nothing a terminal or a page would read as markup.
NAME = re.compile(r"[a-z][a-z0-9._-]{1,39}")
MIN_PASSWORD = 12  # NSM's and NIST SP 800-63B's advice: length beats composition rules
MAX_PASSWORD = 256  # argon2 hashes any length, but a megabyte "password" is an attack on the CPU
LANGUAGES = ("nb", "en")

# Sessions of the console (Art. 32: a left-open browser must not stay signed in forever).
IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # how often a session's last use is written back (not on every click)

# Sign-in throttling: the first few failures are free (typos), then every attempt waits longer, and after
# LOCK_AFTER failures the name (or the client address) is locked for LOCK_FOR.
FREE_FAILURES = 3
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)
MAX_DELAY = timedelta(seconds=60)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: str
    language: str
    token_prefix: str  # the visible start of the current token, to tell tokens apart (never the secret)
    created_at: datetime
    must_change_password: bool = True
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def actor_name(self) -> str:
        """How the audit log names what this user did."""
        return f"user:{self.name}"


@dataclass(frozen=True)
class Session:
    """A console session, as stored: its id only as a digest; the CSRF token travels in every form."""

    digest: str
    user_id: str
    csrf: str
    created_at: datetime
    last_seen_at: datetime

    def alive(self, now: datetime) -> bool:
        return now - self.last_seen_at < IDLE and now - self.created_at < ABSOLUTE

    def needs_touch(self, now: datetime) -> bool:
        return now - self.last_seen_at >= TOUCH_EVERY


@dataclass(frozen=True)
class Throttle:
    """Failed sign-ins counted against one key (a user name's digest, or a client address's)."""

    failures: int
    last_failed_at: datetime

    def wait(self, now: datetime) -> timedelta:
        """How long from now before another attempt is heard; zero when one may try at once."""
        if self.failures >= LOCK_AFTER:
            until = self.last_failed_at + LOCK_FOR
        elif self.failures >= FREE_FAILURES:
            until = self.last_failed_at + min(MAX_DELAY, timedelta(seconds=2 ** (self.failures - FREE_FAILURES + 1)))
        else:
            return timedelta(0)
        return max(timedelta(0), until - now)

    def expired(self, now: datetime) -> bool:
        """Old failures are forgotten: a lock ends, and a typo a day ago does not count today."""
        return now - self.last_failed_at >= LOCK_FOR


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise invalid("name", "must be 2 to 40 characters: a lower-case letter, then letters, digits, '.', '-' or '_'")
    return name


def check_password(password: str, name: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise invalid("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise invalid("password", f"must be at most {MAX_PASSWORD} characters")
    if name.lower() in password.lower():
        raise invalid("password", "must not contain the user name")
    return password


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise invalid("language", f"must be one of {', '.join(LANGUAGES)}")
    return language


def check_new_user(name: str, role: str, language: str) -> None:
    check_name(name)
    check_role(role)
    check_language(language)
