"""The supply chain: requirements.lock pins every dependency within pyproject's bounds; `make audit` judges right."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_lock", ROOT / "tools" / "audit_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_lock"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


gate = _gate()


def _pins() -> dict[str, tuple[str, int]]:
    """Each pin of the lock: its version and how many hashes it carries."""
    pins: dict[str, tuple[str, int]] = {}
    text = (ROOT / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        first = block.split("\\", 1)[0].split(";", 1)[0].strip()  # without its environment marker, if any
        if "==" in first:
            name, version = first.split("==", 1)
            pins[canonicalize_name(name)] = (version.strip(), block.count("--hash=sha256:"))
    return pins


def test_the_lock_pins_every_dependency_within_pyproject_bounds_with_hashes() -> None:
    # A dependency added to pyproject.toml without `make lock` would be missing from the release build.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    assert len(pins) >= len(project["dependencies"])
    for line in project["dependencies"]:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run `make lock`"
        version, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{name}=={version} is outside {req.specifier}"
    assert all(hashes > 0 for _, hashes in pins.values()), "every pin carries its hashes (--require-hashes)"
    assert "personvern" not in pins  # the project itself is installed from the source, --no-deps


def test_no_answer_at_all_is_a_skip_that_says_why() -> None:
    stderr = "Traceback …\nrequests.exceptions.ConnectionError: Failed to resolve the host"
    verdict = gate.judge(1, "", stderr)
    assert verdict.code == 0
    assert verdict.lines == (
        "pip-audit skipped: the vulnerability database did not answer "
        "(exit 1: requests.exceptions.ConnectionError: Failed to resolve the host)",
    )


def test_answers_for_no_package_are_a_skip_not_a_pass() -> None:
    report = {
        "dependencies": [
            {"name": "alembic", "skip_reason": "Dependency not found on PyPI and could not be audited: alembic (1)"},
            {"name": "rich", "skip_reason": "Dependency not found on PyPI and could not be audited: rich (2)"},
        ]
    }
    verdict = gate.judge(0, json.dumps(report), "No known vulnerabilities found")
    assert verdict.code == 0
    assert verdict.lines[0].startswith("pip-audit skipped: the vulnerability database knew none of the 2 locked")


def test_a_known_vulnerability_fails_and_names_the_fix() -> None:
    report = {
        "dependencies": [
            {"name": "rich", "version": "15.0.0", "vulns": []},
            {
                "name": "jinja2",
                "version": "3.1.2",
                "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": []}],
            },
            {"name": "tzdata", "skip_reason": "not found"},
        ]
    }
    verdict = gate.judge(1, json.dumps(report), "Found 1 known vulnerability in 1 package")
    assert verdict.code == 1
    assert verdict.lines[0] == "pip-audit: known vulnerabilities in 1 locked package(s):"
    assert "  jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in verdict.lines


def test_a_clean_audit_passes_and_names_what_it_could_not_audit() -> None:
    report = {
        "dependencies": [
            {"name": "rich", "version": "15.0.0", "vulns": []},
            {"name": "tzdata", "skip_reason": "not found"},
        ]
    }
    verdict = gate.judge(0, json.dumps(report), "")
    assert verdict == gate.Verdict(
        0, ("pip-audit: no known vulnerabilities in 1 locked package(s)", "  not audited (1): tzdata")
    )


def test_a_failure_without_findings_is_a_skip() -> None:
    verdict = gate.judge(2, json.dumps({"dependencies": []}), "pip-audit: error: bad requirement")
    assert verdict == gate.skipped("pip-audit failed (exit 2: pip-audit: error: bad requirement)")


def test_without_pip_audit_or_in_time_it_skips_and_a_missing_lock_fails(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    assert gate.audit(lock, "pip-audit").code == 1  # no lock: the release build has nothing to install from
    lock.write_text("rich==15.0.0 \\\n    --hash=sha256:00\n")
    assert gate.audit(lock, None) == gate.skipped("pip-audit is not installed (pip install -e '.[dev]')")
    # A vulnerability service that hangs: the wall-clock limit ends the step (a sleeping stand-in for pip-audit).
    hang = tmp_path / "pip-audit"
    hang.write_text("#!/bin/sh\nexec sleep 5\n")
    hang.chmod(0o755)
    verdict = gate.audit(lock, str(hang), wall_seconds=0.2)
    assert verdict == gate.skipped("the vulnerability database gave no full answer within 0.2 s")


@pytest.mark.parametrize("code", [0, 1])
def test_main_prints_the_verdict(
    code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(gate, "audit", lambda lock, tool: gate.Verdict(code, (f"verdict for {lock.name}",)))
    assert gate.main(["audit_lock.py", "some.lock"]) == code
    out, err = capsys.readouterr()
    assert (err if code else out) == "verdict for some.lock\n"
