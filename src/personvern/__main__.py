"""`python -m personvern`: the command line, for a process started by another (serve's worker)."""

from personvern.cli.main import run

run()
