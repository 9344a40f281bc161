"""`personvern serve`: the API, the console and the public pages over HTTP, with the outbox worker beside them."""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
from typing import Annotated

import typer
import uvicorn

from personvern.cli.common import Env
from personvern.domain.errors import invalid

STOP_WAIT = 30  # seconds the worker is given to finish its rows after SIGTERM


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    env: Env,
    host: Annotated[
        str, typer.Option("--host", help="The address to listen on; loopback unless told otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="HTTP worker processes (they share the database).")] = 1,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the outbox worker beside the server (run it elsewhere).")
    ] = False,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            "--proxy-headers",
            help="Behind a reverse proxy: trust its X-Forwarded-For/-Proto (from --forwarded-allow-ips only).",
        ),
    ] = False,
    forwarded_allow_ips: Annotated[
        str, typer.Option("--forwarded-allow-ips", help="Addresses of the reverse proxy whose headers are trusted.")
    ] = "127.0.0.1",
) -> None:
    """Serve the staff console (/console/), the API (/api/v1, documented at /docs) and the health checks, with
    the outbox worker and its daily sweep beside them (one process, whatever --workers says)."""
    if not 1 <= port <= 65535:
        raise invalid("port", "must be a TCP port from 1 to 65535")
    if not 1 <= workers <= 64:
        raise invalid("workers", "must be from 1 to 64")
    settings = env.settings()
    runtime = env.runtime()  # refuses now, with a clear error, a database that is missing or out of date
    if runtime.clock_moved:
        raise invalid(
            "now",
            "the server runs on the real clock on a real register (initialised without --now); "
            "--now is accepted only on a simulation register",
        )
    env.close()
    # Every HTTP worker process (and the outbox worker) opens the same database from the environment.
    os.environ["PERSONVERN_DATABASE_URL"] = settings.database_url
    if settings.master_key_file is not None:
        os.environ["PERSONVERN_MASTER_KEY_FILE"] = str(settings.master_key_file)
    if settings.now is not None:
        os.environ["PERSONVERN_NOW"] = settings.now.isoformat()
    if not _loopback(host):
        print(
            f"personvern listens on {host}, beyond this machine: put a reverse proxy with TLS in front "
            "(README, 'Behind a reverse proxy'); session cookies are sent only over HTTPS there.",
            file=sys.stderr,
        )
    shown = f"[{host}]" if ":" in host else host
    print(f"personvern serves the console at http://{shown}:{port}/console/", flush=True)
    print(f"  the public privacy page at http://{shown}:{port}/personvern (in English /privacy)", flush=True)
    print(
        f"  the API at http://{shown}:{port}/api/v1 (documented at /docs), health at /healthz and /readyz", flush=True
    )
    worker = None if no_worker else _start_worker()
    # uvicorn stops gracefully on SIGTERM and then raises the signal again, under the handler it found: the
    # default one would end this process before the `finally` below, leaving the worker running. Ours turns it
    # into a clean exit that stops the worker first.
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        uvicorn.run(
            "personvern.api.app:from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
            access_log=False,  # its lines carry query strings, which may hold an e-mail address
            server_header=False,
            timeout_graceful_shutdown=STOP_WAIT,
            log_level="warning",
        )
    except _Stopped:
        pass  # stopped by SIGTERM, requests in flight answered: a clean end
    finally:
        signal.signal(signal.SIGTERM, previous)
        if worker is not None:
            _stop_worker(worker)


class _Stopped(Exception):
    """SIGTERM, as uvicorn passes it on once it has stopped."""


def _stopped(_signum: int, _frame: object) -> None:
    raise _Stopped


def _start_worker() -> subprocess.Popen[bytes]:
    """The outbox worker as one child process, beside however many HTTP processes serve."""
    print("  the outbox worker runs beside it (its daily sweep too); --no-worker leaves it out", flush=True)
    return subprocess.Popen([sys.executable, "-m", "personvern", "worker"], env=os.environ.copy())


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)  # it finishes the rows it holds, then stops
        try:
            worker.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
