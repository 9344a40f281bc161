"""The Jinja2 environment of the notice and record templates, and the Babel helpers their texts share."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

from babel import Locale
from babel.dates import get_month_names
from babel.lists import format_list
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

LOCALES = {"nb": "nb_NO", "en": "en_GB"}
LANGUAGES = ("nb", "en")

_LINK = re.compile(r"(https?://[^\s<>()]+[^\s<>().,;:])|([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["en"])


ListStyle = Literal["standard", "or"]


def join(items: Iterable[str], lang: str, style: ListStyle = "standard") -> str:
    """A list in running text: «a, b og c» / «a, b and c»; style "or" for alternatives."""
    values = list(items)
    return format_list(values, style=style, locale=locale(lang)) if values else ""


def country_name(code: str, lang: str) -> str:
    return str(Locale.parse(locale(lang)).territories.get(code, code))


def month_name(month: int, lang: str) -> str:
    return str(get_month_names("wide", locale=locale(lang))[month])


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def linkify(text: str) -> Markup:
    """HTML-escape `text` and make its web and email addresses links."""
    out: list[str] = []
    last = 0
    for match in _LINK.finditer(text):
        out.append(str(escape(text[last : match.start()])))
        url, email = match.group(1), match.group(2)
        target = url if url else f"mailto:{email}"
        out.append(f'<a href="{escape(target)}">{escape(match.group(0))}</a>')
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """One environment for every rendering: HTML templates escape what they print, Markdown ones do not."""
    env = Environment(
        loader=PackageLoader("personvern.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["linkify"] = linkify
    return env
