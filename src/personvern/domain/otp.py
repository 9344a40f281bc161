"""One-time codes and rate limits of the public page: how a visitor proves they hold a phone number or address."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from personvern.domain.errors import invalid

# NIST SP 800-63B §5.1.3 (out-of-band authenticators): at least six digits from a secure random source, valid
# for a short time (its ceiling is 10 minutes), used once, with a limit on failed tries. Five tries leave a
# guesser 5 in a million per code; the rate limits below bound how many codes they can ask for.
DIGITS = 6
VALID = timedelta(minutes=10)
TRIES = 5


class Via(StrEnum):
    """Where a code (and later the answer's link) goes: the number or address the visitor typed."""

    SMS = "sms"
    EMAIL = "email"

    @property
    def verification(self) -> str:
        """The request's verification method once the code is confirmed (domain/requests.Verification)."""
        return "otp_sms" if self is Via.SMS else "otp_email"


def new_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A code of DIGITS digits, leading zeros kept: every one of the million is as likely."""
    return f"{randbelow(10**DIGITS):0{DIGITS}d}"


def check_code_shape(code: str) -> str:
    """The code as typed, without spaces; refused unless it is DIGITS digits (before anything is counted)."""
    typed = "".join(code.split())
    if len(typed) != DIGITS or not typed.isascii() or not typed.isdigit():
        raise invalid("code", f"must be the {DIGITS} digits we sent you")
    return typed


@dataclass(frozen=True)
class Challenge:
    """A code sent and not yet used up: when it ends, and how many wrong tries it has had."""

    expires_at: datetime
    attempts: int
    used: bool  # confirmed, or out of tries: no code opens it any more

    def state(self, now: datetime) -> str:
        """'open', 'expired' or 'used': what a code typed now meets."""
        if self.used or self.attempts >= TRIES:
            return "used"
        return "expired" if now >= self.expires_at else "open"

    def tries_left(self) -> int:
        return max(TRIES - self.attempts, 0)


@dataclass(frozen=True)
class PendingRequest:
    """A request made on the public page, waiting for the visitor to type back the code sent to them."""

    id: str
    type: str
    language: str
    via: str  # Via
    created_at: datetime
    challenge: Challenge
    request_id: str | None = None  # the request it opened, once confirmed


@dataclass(frozen=True)
class AnswerLink:
    """A single-use link to the answer of a request from the web; served only after a fresh code."""

    id: str
    request_id: str
    created_at: datetime
    expires_at: datetime
    challenge: Challenge | None  # the fresh code, once asked for
    fetched_at: datetime | None
    closed_at: datetime | None

    def state(self, now: datetime) -> str:
        """'open', 'fetched' or 'expired'."""
        if self.fetched_at is not None:
            return "fetched"
        if self.closed_at is not None or now >= self.expires_at:
            return "expired"
        return "open"


@dataclass(frozen=True)
class Limit:
    """At most `hits` in each `window` (fixed windows: simple, shared through the database, and enough here)."""

    name: str
    hits: int
    window: timedelta

    def window_start(self, now: datetime) -> datetime:
        """The start of the window `now` falls in, aligned on the epoch so every process agrees."""
        seconds = int(self.window.total_seconds())
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)

    def retry_after(self, now: datetime) -> int:
        """Seconds until the window ends and the limit allows again."""
        ends = self.window_start(now) + self.window
        return max(1, int((ends - now).total_seconds()) + 1)


# Why these numbers (the closing note of the public page repeats them):
# - per identity: a person asks for a code, perhaps once more if it did not arrive; 5 an hour lets them, and
#   stops anyone using the page to flood someone else's phone or inbox with codes.
# - per client address: a household or an office behind one address may make a few requests; 20 an hour.
# - overall: every code by SMS costs money and LINK Mobility throttles; 500 an hour is far beyond what a
#   company of 24 Center's size receives in a year, and bounds the cost of an attack ("SMS pumping").
# - confirming: the five tries per code bound guessing per code; 60 tries an hour per client address bound
#   guessing across many codes from one place.
SEND_PER_IDENTITY = Limit("identity", 5, timedelta(hours=1))
SEND_PER_CLIENT = Limit("client", 20, timedelta(hours=1))
SEND_OVERALL = Limit("all", 500, timedelta(hours=1))
CONFIRM_PER_CLIENT = Limit("confirm", 60, timedelta(hours=1))
