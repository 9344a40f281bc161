"""Self-service link tokens: they round-trip, any changed byte or character is refused, and expiry is exact."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from personvern.domain import links
from personvern.domain.errors import InvalidInput
from personvern.domain.links import LinkExpired, LinkKeys, LinkUnknown

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SID = "0193f2a1b2c3d4e5f60718293a4b5c6d"

hex_ids = st.text("0123456789abcdef", min_size=32, max_size=32)
other_ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
ids = st.one_of(hex_ids, other_ids)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@given(ids, instants)
@settings(max_examples=200)
def test_a_token_reads_back_as_the_subject_and_expiry_it_was_made_for(subject_id, expires):
    token = links.make_token(KEY, subject_id, expires)
    claim = links.read_token(KEY, token, expires - timedelta(seconds=1))
    assert (claim.subject_id, claim.expires) == (subject_id, expires)
    assert len(token) == links.token_length(subject_id)
    if len(subject_id) == 32:
        assert subject_id not in token  # sealed: never the id in clear


@given(hex_ids, st.data())
@settings(max_examples=300)
def test_any_changed_byte_is_refused(subject_id, data):
    token = links.make_token(KEY, subject_id, NOW + timedelta(days=60))
    raw = bytearray(_raw(token))
    at = data.draw(st.integers(0, len(raw) - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    raw[at] ^= flip
    with pytest.raises(LinkUnknown):
        links.read_token(KEY, _b64(bytes(raw)), NOW)


@given(st.data())
@settings(max_examples=300)
def test_any_changed_character_is_refused_even_one_base64_would_read_the_same(data):
    token = links.make_token(KEY, SID, NOW + timedelta(days=60))
    at = data.draw(st.integers(0, len(token) - 1), label="position")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    other = data.draw(st.sampled_from(alphabet), label="character")
    assume(other != token[at])
    with pytest.raises(LinkUnknown):
        links.read_token(KEY, token[:at] + other + token[at + 1 :], NOW)


@given(st.binary(max_size=70))
def test_random_bytes_are_never_a_token(raw):
    with pytest.raises(LinkUnknown):
        links.read_token(KEY, _b64(raw), NOW)


@given(st.text(max_size=120))
def test_any_text_that_is_not_a_token_is_refused_calmly(text):
    with pytest.raises((LinkUnknown, LinkExpired)):
        links.read_token(KEY, text, NOW)


def test_shortened_lengthened_and_foreign_tokens_are_refused():
    token = links.make_token(KEY, SID, NOW + timedelta(days=1))
    # "+" is not in the URL-safe alphabet: the token with its first character spelled so is refused.
    for bad in (token[:-1], token + "A", "", "a" * 200, "+" + token[1:], token + "="):
        with pytest.raises(LinkUnknown):
            links.read_token(KEY, bad, NOW)
    with pytest.raises(LinkUnknown):  # made with another register's master key
        links.read_token(OTHER_KEY, token, NOW)


@given(instants, st.integers(-100_000, 100_000))
@settings(max_examples=200)
def test_a_token_works_until_the_second_it_expires_and_never_after(expires, offset):
    token = links.make_token(KEY, SID, expires)
    now = expires + timedelta(seconds=offset)
    if offset < 0:
        assert links.read_token(KEY, token, now).expires == expires
    else:
        with pytest.raises(LinkExpired):
            links.read_token(KEY, token, now)


def test_the_expiry_boundary_to_the_microsecond():
    expires = links.expiry(NOW, 60)
    assert expires == NOW + timedelta(days=60)
    token = links.make_token(KEY, SID, expires)
    assert links.read_token(KEY, token, expires - timedelta(microseconds=1)).subject_id == SID
    with pytest.raises(LinkExpired):
        links.read_token(KEY, token, expires)
    # A link is made to the whole second: a fraction never makes it last longer than the policy says.
    assert links.expiry(NOW + timedelta(microseconds=999_999), 1) == NOW + timedelta(days=1)


def test_expired_and_unknown_are_both_not_found_and_say_nothing_of_the_person():
    expired = links.make_token(KEY, SID, NOW)
    with pytest.raises(LinkExpired) as gone:
        links.read_token(KEY, expired, NOW)
    with pytest.raises(LinkUnknown) as unknown:
        links.read_token(KEY, expired[:-2] + "AA", NOW)
    for exc in (gone.value, unknown.value):
        assert SID not in str(exc)


def test_bad_inputs_to_make_are_refused():
    for subject_id, expires in (
        ("", NOW),
        ("x" * 33, NOW),
        (SID, NOW.replace(tzinfo=None)),
        (SID, datetime(2200, 1, 1, tzinfo=UTC)),
    ):
        with pytest.raises(InvalidInput) as refused:
            links.make_token(KEY, subject_id, expires)
        assert refused.value.problems[0].field in ("subject_id", "expires")


def test_the_link_and_its_placeholder_have_the_same_length_and_no_personal_data():
    keys = LinkKeys(KEY, "https://24center.no")
    url = keys.url(links.make_token(KEY, SID, NOW))
    assert url.startswith("https://24center.no/personvern/samtykke/")
    assert len(links.placeholder(keys)) == len(url) == len("https://24center.no/personvern/samtykke/") + 50
    assert keys.url("t", "en") == "https://24center.no/privacy/consent/t"


def test_the_form_token_belongs_to_its_link_only():
    token = links.make_token(KEY, SID, NOW)
    other = links.make_token(KEY, "1" * 32, NOW)
    field = links.form_token(KEY, token)
    assert links.form_token_matches(KEY, token, field)
    assert not links.form_token_matches(KEY, other, field)
    assert not links.form_token_matches(OTHER_KEY, token, field)
    for bad in (None, "", field[:-1], field + "x", "å" * 22):
        assert not links.form_token_matches(KEY, token, bad)
