"""The console's languages: message catalogues read with Babel at start, and dates and numbers in the user's locale."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

LANGUAGES = ("nb", "en")  # Norwegian first: the staff of a Norwegian company read it by default
DEFAULT = "nb"
LOCALES = {"nb": "nb_NO", "en": "en_GB"}
NAMES = {"nb": "Norsk (bokmål)", "en": "English"}  # each language named in itself, as a chooser shows it
CATALOGUES = Path(__file__).parent / "locale"
DATETIME = {"nb": "d. MMM y 'kl.' HH:mm", "en": "d MMM y, HH:mm"}


def N_(message: str) -> str:
    """Mark a text for translation where it is defined; it is translated where it is shown."""
    return message


def language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of one language, read from its .po file once (no compile step at build time).

    The texts are written in English, so English needs no catalogue; a language without one shows English.
    """
    po = CATALOGUES / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalogue = read_po(f, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


def gettext(lang: str, message: str, **values: object) -> str:
    text = translations(language(lang)).gettext(message)
    return text % values if values else text


@dataclass(frozen=True)
class Formats:
    """Dates, times and numbers as the user's language writes them, on the controller's clock."""

    lang: str
    zone: str

    @property
    def locale(self) -> str:
        return LOCALES[language(self.lang)]

    def day(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(ZoneInfo(self.zone)).date()
        return format_date(value, "medium", locale=self.locale)

    def when(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, DATETIME[language(self.lang)], tzinfo=ZoneInfo(self.zone), locale=self.locale)

    def number(self, value: int | float | None) -> str:
        return "" if value is None else format_decimal(value, locale=self.locale)
