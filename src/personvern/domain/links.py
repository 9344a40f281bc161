"""Self-service links: a sealed, signed, expiring token naming a subject, with no personal data in the URL.

Every marketing SMS carries one (markedsføringsloven § 15 asks for a simple way to opt out; GDPR Art. 7(3)
asks that withdrawing be as easy as giving, Art. 21(3) that an objection stop marketing). The token is the
subject's register id and an expiry, encrypted and authenticated with a key derived from the master key:
whoever sees the URL (a shared phone, a proxy's log) learns neither who it is for nor their register id, and
nobody without the master key can make one or change the one they have.

The construction is AES-SIV (RFC 5297, deterministic authenticated encryption, from `cryptography`): its
128-bit synthetic IV is both the nonce and the tag, so the link is 22 characters shorter than with a random
nonce beside a tag (every character of an SMS is paid for); the same person and expiry always give the same
token, which tells nothing new.
"""

from __future__ import annotations

import base64
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from personvern.domain.errors import NotFound, invalid

TAG = 16  # bytes of the synthetic IV, which authenticates the token: forging one takes 2^128 tries
_PACKED = 1  # the id is 32 hexadecimal digits, packed into 16 bytes (every id personvern makes)
_TEXT = 2  # any other id, as UTF-8
_HEADER = struct.Struct(">BI")  # format, expiry in whole seconds since 1970 (UTC)
MAX_ID = 32  # the register's ids are at most 32 characters (store/tables.py ID)
MAX_TOKEN = 96  # characters: longer is never one of ours, and is refused before any work
LATEST_EXPIRY = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)  # the last second an unsigned 32-bit count holds

# Where the page lives in each language (DESIGN.md §4b): the SMS is Norwegian, so it carries the first.
PATHS = {"nb": "/personvern/samtykke", "en": "/privacy/consent"}

_HEX_ID = re.compile(r"[0-9a-f]{32}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


class LinkUnknown(NotFound):
    """Not a token this register made, or one changed on the way: the same calm page as an expired one."""


class LinkExpired(NotFound):
    """A token this register made, past its expiry."""


@dataclass(frozen=True)
class LinkKeys:
    """What making and reading links needs: the key derived from the master key and the public base URL."""

    key: bytes
    base_url: str  # e.g. https://24center.no, without a trailing slash

    def url(self, token: str, lang: str = "nb") -> str:
        return f"{self.base_url}{PATHS[lang]}/{token}"


@dataclass(frozen=True)
class Claim:
    """What a valid token says: whose link it is, and until when it works."""

    subject_id: str
    expires: datetime


def _subkey(key: bytes, purpose: bytes) -> bytes:
    # Each use gets its own key: the cipher's, the tag's and the forms' never share one (key separation).
    return hmac.digest(key, b"personvern/links/" + purpose, "sha256")


def _siv(key: bytes) -> AESSIV:
    # AES-SIV-256 takes a 512-bit key: two halves derived apart from the link key.
    return AESSIV(_subkey(key, b"siv-1") + _subkey(key, b"siv-2"))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def expiry(now: datetime, days: int) -> datetime:
    """When a link made now stops working: `days` later, to the whole second."""
    return (now + timedelta(days=days)).replace(microsecond=0)


def make_token(key: bytes, subject_id: str, expires: datetime) -> str:
    """The token for `subject_id`, working until `expires` (exclusive)."""
    if expires.tzinfo is None:
        raise invalid("expires", "must carry a time zone")
    if not datetime(1970, 1, 1, tzinfo=UTC) <= expires <= LATEST_EXPIRY:
        raise invalid("expires", f"must be between 1970 and {LATEST_EXPIRY.isoformat()}")
    if not subject_id or len(subject_id) > MAX_ID:
        raise invalid("subject_id", f"must be 1 to {MAX_ID} characters")
    seconds = int(expires.timestamp())
    if _HEX_ID.fullmatch(subject_id):
        plaintext = _HEADER.pack(_PACKED, seconds) + bytes.fromhex(subject_id)
    else:
        plaintext = _HEADER.pack(_TEXT, seconds) + subject_id.encode("utf-8")
    return _b64(_siv(key).encrypt(plaintext, None))


def token_length(subject_id: str = "0" * 32) -> int:
    """How many characters the token of `subject_id` takes (any id personvern makes: the default's)."""
    size = _HEADER.size + (16 if _HEX_ID.fullmatch(subject_id) else len(subject_id.encode("utf-8")))
    return len(_b64(bytes(TAG + size)))


def _unknown() -> LinkUnknown:
    # Never says what was wrong with it: a prober learns nothing from the refusal.
    return LinkUnknown("this link does not work")


def read_token(key: bytes, token: str, now: datetime) -> Claim:
    """Whose link `token` is, if this register made it and it has not expired; else LinkUnknown / LinkExpired."""
    if not 0 < len(token) <= MAX_TOKEN or not _TOKEN.fullmatch(token):
        raise _unknown()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise _unknown() from None
    # Base64 leaves spare bits in its last character: only the one spelling we write is ours.
    if _b64(raw) != token or len(raw) < TAG + _HEADER.size + 1:
        raise _unknown()
    try:
        plaintext = _siv(key).decrypt(raw, None)
    except InvalidTag:
        raise _unknown() from None
    form, seconds = _HEADER.unpack_from(plaintext)
    body = plaintext[_HEADER.size :]
    if form == _PACKED and len(body) == 16:
        subject_id = body.hex()
    elif form == _TEXT:
        try:
            subject_id = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _unknown() from None
    else:
        raise _unknown()
    expires = datetime.fromtimestamp(seconds, UTC)
    if now >= expires:
        raise LinkExpired("this link has expired")
    return Claim(subject_id, expires)


def form_token(key: bytes, token: str) -> str:
    """The hidden field every form of the page carries: only a page served for this link has it (no CSRF)."""
    return _b64(hmac.digest(_subkey(key, b"form"), token.encode("ascii", "replace"), "sha256")[:TAG])


def form_token_matches(key: bytes, token: str, given: str | None) -> bool:
    if not given or len(given) > MAX_TOKEN:
        return False
    return hmac.compare_digest(form_token(key, token).encode(), given.encode("utf-8", "replace"))


def placeholder(keys: LinkKeys, subject_id: str = "0" * 32) -> str:
    """A stand-in of exactly the link's length for previews: each person's own link is made when it is sent."""
    return keys.url("x" * token_length(subject_id))
