"""`personvern keys …`: the key store's upkeep from the shell (the orphan-key sweep, the master key's rotation)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from personvern.bootstrap import clock_for
from personvern.cli.common import Env, command
from personvern.connectors.wake import worker_listening
from personvern.domain.access import Actor
from personvern.domain.errors import NotReady
from personvern.services import keys
from personvern.store.engine import make_engine, require_current
from personvern.store.rotation import BATCH, count_keys
from personvern.store.rotation import rotate as rotate_master_key

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


@command(keys_app, "rotate")
def rotate(
    env: Env,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=100_000, help="Data keys re-wrapped per transaction.")
    ] = BATCH,
) -> None:
    """Re-wrap every data key under a new master key (no value is decrypted); resumable: run it again after a stop.

    Stop `personvern serve` and the worker first: the register is not served until the rotation is done. The old
    key is kept as KEYFILE.retired-ID for the backups made before; take a new backup at once.
    """
    settings = env.settings()
    Actor(settings.actor, settings.role).require(keys.ROTATE)
    key_file = settings.key_file()
    if worker_listening(settings.database_url):
        # A running worker (and the `serve` beside it) holds the old key: what it wrapped after the switch would
        # open only with the retired key file.
        raise NotReady(
            "a worker runs on this register (`personvern serve` or `personvern worker`): stop it, and every "
            "`serve`, first; the register is not served while its keys are re-wrapped"
        )
    engine = make_engine(settings.database_url)
    try:
        require_current(engine, settings.database_url)
        progress = _progress(env, engine)
        done = rotate_master_key(engine, key_file, clock_for(settings).now(), batch, progress)
        if progress is not None:
            print(file=sys.stderr)  # the progress line ends
    except OperationalError as exc:
        raise NotReady(f"cannot open the database: {exc.orig}") from None
    finally:
        engine.dispose()
    rate = round(done.rewrapped / done.seconds) if done.seconds > 0 else None
    details = {
        "from_key_id": done.old_key_id,
        "to_key_id": done.new_key_id,
        "data_keys_rewrapped": done.rewrapped,
        "data_keys": done.keys,
        "resumed": done.resumed,
        "journal_lines_resigned": done.journal_lines,
        "checkpoint_lines_resigned": done.checkpoint_lines,
    }
    # Opened with the new key: the entry is also the proof that the register opens with it.
    keys.record_rotation(env.runtime().context(), details)
    data = {**details, "seconds": round(done.seconds, 3), "keys_per_second": rate,
            "retired_key_file": str(done.retired_key_file)}  # fmt: skip

    def human(c: Console) -> None:
        c.print(f"master key rotated: id {done.old_key_id} → {done.new_key_id}", markup=False)
        if done.resumed:
            c.print("  went on with the rotation an earlier run began", markup=False)
        speed = f", {rate} a second" if rate else ""
        c.print(
            f"  data keys re-wrapped: {done.rewrapped} in {done.seconds:.1f} s{speed}; all {done.keys} now under "
            "the new key (no value was decrypted)",
            markup=False,
        )
        c.print(
            f"  re-signed: {done.journal_lines} erasure journal lines, {done.checkpoint_lines} audit checkpoints",
            markup=False,
        )
        c.print(f"  the old key is kept at {done.retired_key_file}:", markup=False)
        c.print(
            f"  backups made before now open only with it (`personvern restore FILE --key-file "
            f"{done.retired_key_file}`).",
            markup=False,
        )
        c.print(
            "  Take a backup now; destroy the old key file once no backup made before this rotation is kept.",
            markup=False,
        )

    env.emit(data, human)


def _progress(env: Env, engine: Engine) -> Callable[[int], None] | None:
    """A line on the terminal that counts the keys re-wrapped (a million take a while); none when piped or --json."""
    if env.json or not sys.stderr.isatty():
        return None
    total = count_keys(engine)

    def shown(done: int) -> None:
        print(f"\r  re-wrapped {done} of {total} data keys", end="", file=sys.stderr, flush=True)

    return shown
