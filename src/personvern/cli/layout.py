"""How the command line prints rows and labelled values: whole, as text, at any terminal width."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

# A column of free text may wrap inside its cell, but not down to a sliver nobody can read: a table whose
# free-text columns would be narrower than this is printed as blocks instead.
WRAP_FLOOR = 16

# What the table's frame takes beside its cells: one space either side of each cell, one rule between and
# around them (the box and padding `_table` sets).
CELL_PADDING = 2


@dataclass(frozen=True)
class Column:
    """A column's label, and whether its values are free text that may wrap at spaces.

    Every other column (ids, dates, states, numbers) stays on one line and is never shortened: an id that
    lost its end cannot be given to the next command.
    """

    label: str
    wrap: bool = False


Value = str | int | None


def print_rows(
    console: Console,
    columns: Sequence[str | Column],
    rows: Iterable[Sequence[Value]],
    title: str | None = None,
) -> None:
    """Print rows as a table when the console is wide enough for every value whole, else one block per row.

    Values are printed as text, never read as Rich markup: a name like "[bold]" is shown as written. Nothing
    is cut with an ellipsis in either layout.
    """
    cols = [c if isinstance(c, Column) else Column(c) for c in columns]
    texts = [[_plain(v) for v in row] for row in rows]
    for row in texts:
        if len(row) != len(cols):
            raise ValueError(f"a row has {len(row)} values for {len(cols)} columns")
    if table_width(cols, texts) <= console.width:
        room = console.width - (CELL_PADDING + 1) * len(cols) - 1
        _table(console, cols, texts, title, _widths(cols, texts, room))
    else:
        _blocks(console, cols, texts, title)


def print_fields(console: Console, pairs: Iterable[tuple[str, Value]]) -> None:
    """Print `label: value` lines, the values aligned, empty ones left out; long values wrap, never cut."""
    shown = [(label, _plain(value)) for label, value in pairs]
    _fields(console, shown, max((cell_len(label) for label, value in shown if value), default=0))


def _fields(console: Console, pairs: Sequence[tuple[str, str]], width: int) -> None:
    indent = " " * (width + 2)
    for label, value in pairs:
        if not value:
            continue
        # A value over several lines keeps to its column, under the first line.
        head = Text(f"{label}:" + " " * (width + 1 - cell_len(label)), style="bold")
        console.print(Text.assemble(head, value.replace("\n", "\n" + indent)))


def table_width(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> int:
    """The narrowest width at which the table shows every value whole (free text wrapped at spaces)."""
    return sum(_needs(columns, rows)) + (CELL_PADDING + 1) * len(columns) + 1


def _needs(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's narrowest width: a line's whole length, or for free text its longest word (and the floor)."""
    needs = []
    for i, col in enumerate(columns):
        need = _longest_line(col.label)
        for row in rows:
            if col.wrap:
                word = max((cell_len(w) for w in row[i].split()), default=0)
                need = max(need, word, min(_longest_line(row[i]), WRAP_FLOOR))
            else:
                need = max(need, _longest_line(row[i]))
        needs.append(need)
    return needs


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], room: int) -> list[int]:
    """The width of each column in `room` cells: every column its need, free text shares what is left."""
    widths = _needs(columns, rows)
    longest = [max([_longest_line(row[i]) for row in rows], default=0) for i in range(len(columns))]
    spare = room - sum(widths)
    growing = [i for i, col in enumerate(columns) if col.wrap and longest[i] > widths[i]]
    while spare > 0 and growing:
        share = max(1, spare // len(growing))
        for i in list(growing):
            step = min(share, longest[i] - widths[i], spare)
            widths[i] += step
            spare -= step
            if widths[i] >= longest[i]:
                growing.remove(i)
            if not spare:
                break
    return widths


def _longest_line(value: str) -> int:
    return max((cell_len(line) for line in value.split("\n")), default=0)


def _plain(value: Value) -> str:
    return "" if value is None else str(value)


def _table(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None, widths: list[int]
) -> None:
    table = Table(
        title=Text(title) if title is not None else None,
        title_justify="left",
        padding=(0, CELL_PADDING // 2),
        show_edge=True,
        collapse_padding=False,
        pad_edge=True,
    )
    for col, width in zip(columns, widths, strict=True):
        # Widths are set here, not left to Rich, which shortens a column with "…" when the table is too wide.
        table.add_column(Text(col.label), no_wrap=not col.wrap, width=width, overflow="fold")
    for row in rows:
        table.add_row(*(Text(value) for value in row))
    console.print(table)


def _blocks(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None) -> None:
    """One block of `label: value` lines per row, a blank line between rows: as narrow as the values allow."""
    if title is not None:
        console.print(Text(title))
    width = max((cell_len(c.label) for c in columns), default=0)
    for row in rows:
        console.print()
        _fields(console, list(zip((c.label for c in columns), row, strict=True)), width)
