"""Validation and normalisation of single personal values, by the field type the policy gives them."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer, orgnr

from personvern.policy.schema import FieldType

MAX_TEXT = 200
MAX_ADDRESS = 400

_PHONE_CHARS = re.compile(r"[0-9+\-(). \t]+")
_MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


class BadValue(ValueError):
    """The value breaks the rule in the message; the caller adds the field's name."""


def _text(value: str, limit: int, multiline: bool) -> str:
    cleaned = unicodedata.normalize("NFC", value).strip()
    for ch in cleaned:
        if unicodedata.category(ch) == "Cc" and not (multiline and ch == "\n"):
            raise BadValue("must not contain control characters")
    if not cleaned:
        raise BadValue("must not be empty")
    if len(cleaned) > limit:
        raise BadValue(f"must be at most {limit} characters (got {len(cleaned)})")
    return cleaned if multiline else " ".join(cleaned.split())


def normalise_phone(value: str, region: str) -> str:
    # phonenumbers reads letters as a keypad ("vanity") number; a register must store what was given.
    if _PHONE_CHARS.fullmatch(value) is None:
        raise BadValue("is not a phone number (only digits, spaces and + - ( ) . are allowed)")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise BadValue("is not a phone number (use +47 912 34 567 or 91234567)") from None
    # number_type is UNKNOWN exactly when is_valid_number is false; one call answers both questions.
    kind = phonenumbers.number_type(number)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise BadValue("is not a valid phone number for its country")
    if kind not in _MOBILE:
        raise BadValue("must be a mobile number (messages are sent to it by SMS)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    try:
        # Deliverability is not checked: it needs DNS, and a register must accept data offline.
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise BadValue(_email_problem(str(exc), value)) from None


def _email_problem(detail: str, value: str) -> str:
    """The validator's explanation, unless it quotes any part of the address (personal data)."""
    quoted = "'" in detail or '"' in detail
    fragments = [f.casefold() for f in re.findall(r"\w{2,}", value)]
    if quoted or any(f in detail.casefold() for f in fragments):
        return "is not a valid email address"
    return f"is not a valid email address ({detail})"


def normalise_organisation_number(value: str) -> str:
    try:
        return str(orgnr.validate(value))
    except StdnumError:
        raise BadValue("is not a valid Norwegian organisation number (9 digits, mod-11 check digit)") from None


def normalise_national_id(value: str) -> str:
    try:
        return str(fodselsnummer.validate(value))
    except StdnumError:
        raise BadValue("is not a valid Norwegian national identity number (11 digits, both check digits)") from None


# Letters that are letters of their own, not a base letter with a mark, so NFKD leaves them whole: each is
# folded to what a keyboard without it writes (Bjørn -> bjorn, Kjær -> kjaer). Å needs no entry: NFKD
# takes it apart into a and a ring, and the ring goes with the other marks (Åse -> ase).
_NAME_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ð": "d", "đ": "d", "þ": "th", "ł": "l", "ı": "i"})


def name_key(name: str) -> str:
    """A name as a look-up compares it: without regard to case, accents or spacing, otherwise exact.

    Casefolded (ß -> ss), decomposed (NFKD) with its combining marks dropped (José -> jose, Åse -> ase),
    ø, æ and the like folded as above, and runs of whitespace made one space. Spelling variants are not
    folded: "Aase" and "Åse", or "Bjoern" and "Bjørn", stay different names.
    """
    if name.isascii():  # most names: nothing to decompose or fold (the import computes this once a row)
        return " ".join(name.lower().split())
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.translate(_NAME_LETTERS).split())


def normalise(field_type: FieldType, value: str, region: str = "NO") -> str:
    """Return the canonical form of a value of this type, or raise BadValue saying which rule it breaks."""
    if field_type is FieldType.PHONE:
        return normalise_phone(value, region)
    if field_type is FieldType.EMAIL:
        return normalise_email(value)
    if field_type is FieldType.ORGANISATION_NUMBER:
        return normalise_organisation_number(value)
    if field_type is FieldType.NATIONAL_ID:
        return normalise_national_id(value)
    if field_type is FieldType.ADDRESS:
        return _text(value, MAX_ADDRESS, multiline=True)
    return _text(value, MAX_TEXT, multiline=False)


def lookup_key(field_type: FieldType, normalised: str) -> str:
    """The form a look-up compares: emails without regard to case, names as `name_key` folds them, the rest as
    normalised."""
    if field_type is FieldType.EMAIL:
        return normalised.casefold()
    if field_type is FieldType.NAME:
        return name_key(normalised)
    return normalised
