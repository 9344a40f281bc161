"""The console's Norwegian catalogue: every text the templates and web/*.py mark is translated, placeholders kept."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from personvern.domain.access import PHRASES
from personvern.web import labels
from personvern.web.i18n import CATALOGUES, gettext
from personvern.web.pages import environment

WEB = Path(labels.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _marked() -> set[str | tuple[str, str]]:
    """Every text marked for translation: _() and ngettext() in the templates, _(), N_() and gettext() in Python."""
    found: set[str | tuple[str, str]] = set()
    methods = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "N_": None, "gettext": (2,), "ngettext": (1, 2)}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(WEB), methods, options_map=options, keywords=keywords
    ):
        found.add(tuple(message) if isinstance(message, tuple | list) else message)
    return found


def _catalogue():
    with (CATALOGUES / "nb" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale="nb")


def test_every_marked_text_has_a_norwegian_translation_with_the_same_placeholders():
    catalogue = _catalogue()
    marked = _marked()
    assert len(marked) > 300
    problems = []
    for message in sorted(marked, key=str):
        key = message if isinstance(message, str) else message[0]
        entry = catalogue.get(key)
        if entry is None or entry.fuzzy or not entry.string or not all(entry.string if entry.pluralizable else [1]):
            problems.append(f"not translated: {message!r}")
            continue
        sources = [message] if isinstance(message, str) else list(message)
        targets = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        wanted = set().union(*(PLACEHOLDER.findall(s) for s in sources))
        for target in targets:
            if set(PLACEHOLDER.findall(target)) != wanted:
                problems.append(f"placeholders differ: {message!r} -> {target!r}")
    assert not problems, "\n".join(problems)


def test_every_permission_is_refused_in_norwegian_too():
    for phrase in PHRASES.values():
        assert gettext("nb", phrase) != phrase, phrase
    assert gettext("en", "Sign in") == "Sign in"
    assert gettext("nb", "Sign in") == "Logg inn"


def test_every_template_compiles_in_both_languages():
    for lang in ("nb", "en"):
        env = environment(lang)
        for template in (WEB / "templates").glob("*.html"):
            env.get_template(template.name)
