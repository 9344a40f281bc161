"""The README's tour as data: its shell examples in order, each with the output the README says it gives.

The tour is the first thing a newcomer follows, so a test runs it top to bottom (test_readme_tour.py). The
README's conventions, which this module reads:

- Every line of a ```sh block in the tour that starts with `personvern` is a command; `\\` continues it, and a
  trailing `# …` is a comment.
- `#` lines directly under a command (no blank line between) show what it prints: `# -> TEXT` a line the
  terminal shows (standard output, or a prompt on standard error, where `[y/N]: y` types the answer);
  `# error: TEXT` its error (the following `#` lines are more of that error); `(exit N)` at the end of an
  error gives its exit code. `…` stands for anything.
- Words in capitals ending in `_ID` (`KARI_ID`, `REQ_ID`) are placeholders: the first output that shows one
  binds it to what the command printed there, and later commands use that value.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9]*_ID\b")
EXIT = re.compile(r"\s*\(exit (\d+)\)\s*$")


@dataclass
class Step:
    """One command of the tour and what the README says it prints."""

    line: int  # the README's line number, for the failure message
    argv: list[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    exit_code: int = 0
    answer: str | None = None  # typed at a [y/N] prompt
    redirect: str | None = None  # `> FILE`

    @property
    def text(self) -> str:
        return shlex.join(self.argv)


def tour_section(readme: str) -> tuple[int, str]:
    """The tour (from `## A tour` to the next second-level heading) and the line it starts on."""
    start = readme.index("\n## A tour\n") + 1
    end = readme.find("\n## ", start + 1)
    return readme.count("\n", 0, start) + 1, readme[start : end if end != -1 else len(readme)]


def steps(readme: str) -> list[Step]:
    first_line, section = tour_section(readme)
    out: list[Step] = []
    in_block = False
    pending = ""
    pending_line = 0
    current: Step | None = None
    in_error = False
    for number, raw in enumerate(section.splitlines(), start=first_line):
        line = raw.rstrip()
        if line.startswith("```"):
            in_block = line == "```sh" and not in_block
            current, in_error = None, False
            continue
        if not in_block:
            continue
        if pending:
            pending += " " + line.strip()
        elif line.startswith("personvern"):
            pending, pending_line = line, number
        elif not line.strip():
            current, in_error = None, False
            continue
        elif line.startswith("#") and current is not None:
            shown = line[1:].strip()
            prompt = re.search(r"\[y/N\]: (\S+)$", shown)
            if prompt:
                # The answer typed at the prompt is input, not output.
                current.answer = prompt.group(1) + "\n"
                shown = shown[: prompt.start(1)].rstrip()
            if shown.startswith("->"):
                current.stdout.append(shown[2:].strip())
                in_error = False
            elif shown.startswith("error:") or in_error:
                code = EXIT.search(shown)
                if code:
                    current.exit_code = int(code.group(1))
                    shown = EXIT.sub("", shown)
                elif current.exit_code == 0:
                    current.exit_code = -1  # some failure; the README does not say which
                current.stderr.append(shown)
                in_error = True
            continue
        else:
            current, in_error = None, False
            continue
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        tokens = shlex.split(pending, comments=True)
        redirect = None
        if ">" in tokens:
            at = tokens.index(">")
            redirect, tokens = tokens[at + 1], tokens[:at]
        current = Step(pending_line, tokens[1:], redirect=redirect)
        out.append(current)
        pending, in_error = "", False
    return out


class Bindings:
    """The placeholders bound so far, and the matching of shown output against printed output."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def substitute(self, text: str) -> str:
        return PLACEHOLDER.sub(lambda m: self.values.get(m.group(0), m.group(0)), text)

    def pattern(self, shown: str) -> re.Pattern[str]:
        parts: list[str] = []
        seen: set[str] = set()
        for piece in re.split(r"(\b[A-Z][A-Z0-9]*_ID\b|…)", shown):
            if piece == "…":
                parts.append(r".*?")
            elif PLACEHOLDER.fullmatch(piece or ""):
                if piece in self.values:
                    parts.append(re.escape(self.values[piece]))
                elif piece in seen:
                    parts.append(f"(?P={piece})")
                else:
                    parts.append(rf"(?P<{piece}>[0-9A-Za-z-]+)")
                    seen.add(piece)
            else:
                # Rich may fold runs of spaces differently from the README's alignment.
                parts.append(r"\s+".join(re.escape(word) for word in piece.split(" ")) if piece.strip() else r"\s*")
        return re.compile("".join(parts))

    def match(self, shown: str, printed: str) -> bool:
        found = self.pattern(shown).search(printed)
        if found is None:
            return False
        self.values.update({k: v for k, v in found.groupdict().items() if v is not None})
        return True


def files_used(readme_steps: list[Step], root: Path) -> list[str]:
    """Paths the tour's commands read that exist in the repository (examples, test data)."""
    used = []
    for step in readme_steps:
        for arg in step.argv:
            if "/" in arg and (root / arg).is_file():
                used.append(arg)
    return used
