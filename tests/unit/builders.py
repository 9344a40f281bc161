"""Valid and invalid Norwegian identifiers built with python-stdnum, and hypothesis strategies for values."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st
from stdnum.no import fodselsnummer, orgnr


def organisation_number(base: str) -> str | None:
    """The valid organisation number starting with these 8 digits, or None when no check digit fits (mod 11 = 10)."""
    assert len(base) == 8 and base.isascii() and base.isdigit()
    for digit in "0123456789":
        if orgnr.checksum(base + digit) == 0:
            return base + digit
    return None


def national_id(born: date, individual: int) -> str | None:
    """The valid fødselsnummer for a birth date in 1900-1999 and an individual number 0-499 (None if none fits)."""
    assert 1900 <= born.year <= 1999 and 0 <= individual <= 499
    base = f"{born:%d%m%y}{individual:03d}"
    k1 = fodselsnummer.calc_check_digit1(base)
    if len(k1) != 1:
        return None
    k2 = fodselsnummer.calc_check_digit2(base + k1)
    if len(k2) != 1:
        return None
    return base + k1 + k2


def wrong_check_digit(number: str) -> str:
    """The same number with its last digit changed: its check digit no longer matches."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


ORGNR = organisation_number("97476067")
assert ORGNR == "974760673"  # the Brønnøysund Register Centre's own number

organisation_numbers = st.from_regex(r"[89][0-9]{7}", fullmatch=True).map(organisation_number).filter(bool)
national_ids = st.builds(national_id, st.dates(date(1900, 1, 1), date(1999, 12, 31)), st.integers(0, 499)).filter(bool)

# Norwegian mobile ranges (4xx and 9xx numbers), written the ways people write them.
no_mobiles = st.from_regex(r"9[0-9]{7}|4[01678][0-9]{6}", fullmatch=True)


@st.composite
def written_phone(draw: st.DrawFn) -> str:
    digits = draw(no_mobiles)
    style = draw(st.sampled_from(["plain", "plus", "00", "spaced", "plus_spaced"]))
    spaced = f"{digits[:3]} {digits[3:5]} {digits[5:]}"
    return {
        "plain": digits,
        "plus": "+47" + digits,
        "00": "0047" + digits,
        "spaced": spaced,
        "plus_spaced": "+47 " + spaced,
    }[style]


ascii_label = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}[a-z0-9]", fullmatch=True).filter(lambda s: ".." not in s),
    ascii_label,
    st.sampled_from(["no", "se", "com", "org"]),
)
