"""Command-line adapter (Typer + Rich): parses input, calls one service, renders the result."""
