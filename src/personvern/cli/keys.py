"""`personvern keys …`: the key store's upkeep from the shell (the orphan-key sweep)."""

from __future__ import annotations

from dataclasses import asdict

import typer
from rich.console import Console

from personvern.cli.common import Env, command
from personvern.services import keys

keys_app = typer.Typer(help="The key store: the data keys kept apart from the data.", no_args_is_help=True)


@command(keys_app, "sweep")
def sweep(env: Env) -> None:
    """Delete every data key whose owner is gone from the register; count subjects left without a key."""
    runtime = env.runtime()
    result = keys.sweep(runtime.context())

    def human(c: Console) -> None:
        c.print(f"orphan keys deleted: {result.orphans}", markup=False)
        if result.keyless:
            c.print(
                f"subjects without a key: {result.keyless} (their values no longer open: erased in effect)",
                markup=False,
            )

    env.emit(asdict(result), human)
