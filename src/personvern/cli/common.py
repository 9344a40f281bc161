"""What every command shares: the --db/--now/--role/--json options, error reporting and output."""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer
from rich.console import Console

from personvern.bootstrap import Runtime, Settings, open_runtime
from personvern.cli.words import in_shell_words
from personvern.domain.errors import ClockMoved, FieldProblem, InvalidInput, PersonvernError, invalid
from personvern.policy.loader import PolicyInvalid

INTERNAL_ERROR = 70  # EX_SOFTWARE from sysexits.h
SHOWN_PROBLEMS = 100  # a file with thousands of bad rows should not bury the terminal

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: PERSONVERN_DATABASE_URL or sqlite:///personvern.db).",
        show_default=False,
    ),
]
NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Act as if it were this ISO-8601 time (default: PERSONVERN_NOW or the clock); on a register "
        "initialised without --now, only for previews.",
        show_default=False,
    ),
]
RoleOption = Annotated[
    str | None,
    typer.Option("--role", help="Act in this role: ceo, staff, marketing, auditor (default: ceo).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


@dataclass
class Env:
    """The resolved common options of one command invocation, and the runtime they open."""

    db: str | None
    now: str | None
    role: str | None
    json: bool
    _runtime: Runtime | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        return Settings.resolve(self.db, self.now, self.role)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = open_runtime(self.settings())
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None

    def emit(self, data: Any, human: Callable[[Console], None]) -> None:
        """Print `data` as JSON with --json, otherwise let `human` render it for a person."""
        if self.json:
            sys.stdout.write(json.dumps(data, default=_jsonable, ensure_ascii=False, indent=2) + "\n")
        else:
            # The width rows are laid out for (cli/layout.py): COLUMNS when set (Rich reads it), else the
            # terminal's; piped output has no terminal to follow, and 160 columns keeps most tables as tables.
            follow = sys.stdout.isatty() or os.environ.get("COLUMNS", "").strip().isdigit()
            width = None if follow else 160
            human(plain_console(width=width))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def plain_console(stderr: bool = False, width: int | None = None) -> Console:
    """A console that prints every string as text: names, reasons and descriptions are never read as markup.

    A stored value such as `Kari [/x] Nordmann` would otherwise fail to print, and `[bold red]Ola[/]` would
    be styled; styles are given as Rich `Text` objects or `style=` where wanted, never inside a string.
    """
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width, markup=False)


def err_console() -> Console:
    return plain_console(stderr=True)


def report_error(exc: BaseException) -> int:
    """Print an error for a person (never a traceback) and return the exit code."""
    console = err_console()
    if isinstance(exc, PolicyInvalid):
        console.print("error: the policy file has problems:", markup=False)
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False)
        return 8
    if isinstance(exc, InvalidInput) and len(exc.problems) > SHOWN_PROBLEMS:
        lines = str(exc).splitlines()
        shown = len(lines) - len(exc.problems) + SHOWN_PROBLEMS
        console.print("error: " + "\n".join(lines[:shown]), markup=False)
        more = len(exc.problems) - SHOWN_PROBLEMS
        console.print(f"… and {more} more problems (--problems FILE.csv writes them all)", markup=False)
        return exc.exit_code
    if isinstance(exc, PersonvernError | ClockMoved):
        console.print(f"error: {exc}", markup=False)
        return exc.exit_code
    console.print(
        f"internal error: {type(exc).__name__}. Nothing was changed. "
        "Run again with PERSONVERN_DEBUG=1 to see the details.",
        markup=False,
    )
    return INTERNAL_ERROR


def _from_click(exc: BaseException) -> bool:
    """Exit, abort and usage exceptions belong to the command-line framework (click, or typer's copy of it)."""
    return type(exc).__module__.split(".")[0] in {"click", "typer"}


@contextmanager
def reported(env: Env) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if _from_click(exc):
            raise
        if os.environ.get("PERSONVERN_DEBUG") and not isinstance(exc, PersonvernError | PolicyInvalid | ClockMoved):
            raise
        raise typer.Exit(report_error(in_shell_words(exc))) from None
    finally:
        env.close()


F = TypeVar("F", bound=Callable[..., Any])


def command(group: typer.Typer, name: str, *, acting_role: bool = True, **kwargs: Any) -> Callable[[F], F]:
    """Register `fn(env, ...)` as a command that also takes --db, --now, --role and --json.

    The options may be given after the command (where DESIGN.md puts them) or before it, on the
    root command; the ones given after win. `acting_role=False`: the command has a --role of its own
    (`user add --role`, the new user's role); the role acted in is then given before the command.
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        hints = get_type_hints(fn, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in list(signature.parameters.values())[1:]]
        extra: dict[str, Any] = {"db": DbOption, "now": NowOption}
        if acting_role:
            extra["role"] = RoleOption
        extra["json_output"] = JsonOption
        params = (
            [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)]
            + own
            + [
                inspect.Parameter(
                    n,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=False if n == "json_output" else None,
                    annotation=a,
                )
                for n, a in extra.items()
            ]
        )

        @functools.wraps(fn)
        def wrapper(ctx: typer.Context, *args: Any, **kw: Any) -> Any:
            root = ctx.find_root().obj or {}
            db, now, json_output = kw.pop("db"), kw.pop("now"), kw.pop("json_output")
            role = kw.pop("role") if acting_role else None
            env = Env(
                db=db or root.get("db"),
                now=now or root.get("now"),
                role=role or root.get("role"),
                json=json_output or bool(root.get("json")),
            )
            with reported(env):
                return fn(env, *args, **kw)

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        group.command(name, **kwargs)(wrapper)
        return fn

    return decorate


def parse_assignments(items: list[str] | None, option: str) -> dict[str, str]:
    """FIELD=VALUE pairs from a repeated option; a field given twice is an error, not a silent overwrite."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            # The text is not echoed: what was meant as a field name may well be a value.
            raise invalid(option, "expects FIELD=VALUE (a field name, '=', then the value)")
        if name in out:
            raise invalid(name, f"is given twice in {option}")
        out[name] = value
    return out


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn the ways reading an input file fails into one clear error naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise invalid("file", f"{path} does not exist") from None
    except OSError as exc:
        raise invalid("file", f"{path} cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise invalid("file", f"{path} is not UTF-8 text") from None


def parse_day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid(option, "must be a date as YYYY-MM-DD") from None


def problems_table(problems: list[FieldProblem]) -> list[dict[str, Any]]:
    return [{"line": p.line, "field": p.field, "message": p.message} for p in problems]
