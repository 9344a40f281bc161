"""Skatteetaten's SAF-T Financial 1.30 schema (tests/data/, as Skatteetaten publishes it), for lxml to validate."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

NAME = "Norwegian_SAF-T_Financial_Schema_v_1.30.xsd"
ROOT = Path(__file__).resolve().parents[1]


def schema_path() -> Path | None:
    """The XSD: SAFT_XSD when set, else the copy in tests/data/ (so that CI validates on any clone), else
    `shared/data/` beside the repository or a folder above it."""
    given = os.environ.get("SAFT_XSD")
    if given:
        return Path(given)
    kept = ROOT / "tests" / "data" / NAME
    if kept.exists():
        return kept
    for base in (ROOT, *ROOT.parents):
        candidate = base / "shared" / "data" / NAME
        if candidate.exists():
            return candidate
    return None


def schema() -> Any:
    """An lxml XMLSchema of the XSD; the test is skipped, saying why, when the file is not there."""
    from lxml import etree

    path = schema_path()
    if path is None:
        pytest.skip(f"{NAME} not found beside the repository (../shared/data/); set SAFT_XSD to its path")
    return etree.XMLSchema(etree.parse(str(path)))


def errors(xml: bytes) -> list[str]:
    """Every way the document breaks the schema (none: it validates)."""
    from lxml import etree

    xsd = schema()
    document = etree.fromstring(xml)
    xsd.validate(document)
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]
