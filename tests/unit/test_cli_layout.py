"""The CLI's one way of printing rows: a table only when every value fits whole, else blocks; text, not markup."""

from __future__ import annotations

from rich.console import Console

from personvern.cli.layout import Column, print_fields, print_rows, table_width

ID = "01a23b30cfd6f50e13aef756e3be7eeb"
COLUMNS = ["id", "kind", Column("full_name", wrap=True), "email"]
ROWS = [(ID, "contract_customer", "Helene Margrethe Myhre-Solberg", "helene.myhre@bolerokonomi.no")]


def printed(width: int, columns=COLUMNS, rows=ROWS, title: str | None = "1 subject") -> str:  # type: ignore[no-untyped-def]
    console = Console(width=width, record=True, highlight=False, soft_wrap=True, color_system=None)
    with console.capture() as captured:
        print_rows(console, columns, rows, title=title)
    return captured.get()


def test_a_table_when_every_value_fits_whole() -> None:
    need = table_width([c if isinstance(c, Column) else Column(c) for c in COLUMNS], [list(r) for r in ROWS])
    out = printed(need)
    assert "┃ id " in out and ID in out and "helene.myhre@bolerokonomi.no" in out and "…" not in out
    assert max(len(line) for line in out.splitlines()) <= need
    # The name wraps at its spaces inside its cell; each word stays whole.
    for word in ("Helene", "Margrethe", "Myhre-Solberg"):
        assert f" {word} " in out


def test_one_column_short_gives_blocks_not_cut_values() -> None:
    need = table_width([c if isinstance(c, Column) else Column(c) for c in COLUMNS], [list(r) for r in ROWS])
    out = printed(need - 1)
    assert out.splitlines() == [
        "1 subject",
        "",
        f"id:        {ID}",
        "kind:      contract_customer",
        "full_name: Helene Margrethe Myhre-Solberg",
        "email:     helene.myhre@bolerokonomi.no",
    ]


def test_blocks_are_one_per_row_with_a_blank_line_between_and_no_empty_values() -> None:
    rows = [("a" * 32, "sms", ""), ("b" * 32, "hubspot", "refused: 401")]
    out = printed(40, ["id", "kind", Column("last error", wrap=True)], rows, title=None)
    assert out.splitlines() == [
        "",
        "id:         " + "a" * 32,
        "kind:       sms",
        "",
        "id:         " + "b" * 32,
        "kind:       hubspot",
        "last error: refused: 401",
    ]


def test_values_are_text_never_markup() -> None:
    rows = [(ID, "[bold]x[/bold]", "[red]Ola[/red] Nordmann", "a@b.no")]
    for width in (200, 40):
        out = printed(width, rows=rows, title="[blink]t[/blink]")
        assert "[bold]x[/bold]" in out and "[red]Ola[/red]" in out and "[blink]t[/blink]" in out, out


def test_fields_are_aligned_and_multi_line_values_stay_in_their_column() -> None:
    console = Console(width=80, highlight=False, soft_wrap=True, color_system=None)
    with console.capture() as captured:
        print_fields(console, [("files", "data.json  sha256 aa\nletter.html  sha256 bb"), ("held", None), ("id", ID)])
    assert captured.get().splitlines() == [
        "files: data.json  sha256 aa",
        "       letter.html  sha256 bb",
        f"id:    {ID}",
    ]
