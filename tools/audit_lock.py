"""`make audit`: pip-audit over requirements.lock; a known vulnerability fails, an unreachable database skips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# The whole audit, every request included: offline it must cost `make test` a few seconds at most, and a
# vulnerability service that hangs must not hang the build (pip-audit's own --timeout is per request).
WALL_SECONDS = float(os.environ.get("PERSONVERN_AUDIT_TIMEOUT", "20"))
REQUEST_SECONDS = 5


@dataclass(frozen=True)
class Verdict:
    """What the build does with the audit: the exit code and the lines it prints."""

    code: int
    lines: tuple[str, ...]


def skipped(why: str) -> Verdict:
    # Exit 0: the audit could not be made here, which is not a finding; the line says so in the build log.
    return Verdict(0, (f"pip-audit skipped: {why}",))


def command(pip_audit: str, lock: Path) -> list[str]:
    # --disable-pip with --require-hashes audits the pins as written, without building a virtual environment.
    return [
        pip_audit,
        "--requirement",
        str(lock),
        "--require-hashes",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--timeout",
        str(REQUEST_SECONDS),
        "--format",
        "json",
    ]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def judge(returncode: int, stdout: str, stderr: str) -> Verdict:
    """Read pip-audit's JSON report: vulnerabilities fail; no answer, or answers for no package, skip."""
    try:
        report = json.loads(stdout)
        dependencies = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        # No report at all: pip-audit stopped before it could ask anything (no network, no name resolution).
        return skipped(f"the vulnerability database did not answer (exit {returncode}: {_last_line(stderr)})")
    found = [d for d in dependencies if d.get("vulns")]
    audited = [d for d in dependencies if "skip_reason" not in d]
    unaudited = [d for d in dependencies if "skip_reason" in d]
    if found:
        lines = [f"pip-audit: known vulnerabilities in {len(found)} locked package(s):"]
        for dep in found:
            for vuln in dep["vulns"]:
                fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
                lines.append(f"  {dep['name']} {dep.get('version', '?')}: {vuln.get('id', '?')} (fixed in {fixed})")
        lines.append("Raise the pin in requirements.lock (make lock LOCK_ARGS='--upgrade-package NAME') and test.")
        return Verdict(1, tuple(lines))
    if returncode != 0:
        return skipped(f"pip-audit failed (exit {returncode}: {_last_line(stderr)})")
    if dependencies and not audited:
        # A registry that serves packages but not the per-release vulnerability look-up (a mirror) answers
        # "not found" for every pin: pip-audit then says "No known vulnerabilities", which would be a false pass.
        return skipped(
            f"the vulnerability database knew none of the {len(dependencies)} locked packages "
            f"(first: {unaudited[0]['skip_reason']})"
        )
    lines = [f"pip-audit: no known vulnerabilities in {len(audited)} locked package(s)"]
    if unaudited:
        names = ", ".join(d["name"] for d in unaudited)
        lines.append(f"  not audited ({len(unaudited)}): {names}")
    return Verdict(0, tuple(lines))


def audit(lock: Path, pip_audit: str | None, wall_seconds: float = WALL_SECONDS) -> Verdict:
    if not lock.is_file():
        return Verdict(1, (f"pip-audit: {lock} is missing; run `make lock`",))
    if pip_audit is None:
        return skipped("pip-audit is not installed (pip install -e '.[dev]')")
    try:
        done = subprocess.run(
            command(pip_audit, lock), capture_output=True, text=True, timeout=wall_seconds, check=False
        )
    except subprocess.TimeoutExpired:
        return skipped(f"the vulnerability database gave no full answer within {wall_seconds:g} s")
    return judge(done.returncode, done.stdout, done.stderr)


def _pip_audit() -> str | None:
    beside = Path(sys.executable).with_name("pip-audit")  # the venv's own, whatever the PATH says
    return str(beside) if beside.is_file() else shutil.which("pip-audit")


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    verdict = audit(lock, _pip_audit())
    for line in verdict.lines:
        print(line, file=sys.stderr if verdict.code else sys.stdout)
    return verdict.code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
