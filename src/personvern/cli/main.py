"""The `personvern` command: the root, its shared options, and the commands for setting up and checking."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from personvern import __version__
from personvern.bootstrap import Runtime, initialise
from personvern.cli import backup as backup_cli
from personvern.cli import breach as breach_cli
from personvern.cli import consent as consent_cli
from personvern.cli import keys as keys_cli
from personvern.cli import notice as notice_cli
from personvern.cli import outbox as outbox_cli
from personvern.cli import policy as policy_cli
from personvern.cli import processors as processors_cli
from personvern.cli import record as record_cli
from personvern.cli import register as register_cli
from personvern.cli import requests as requests_cli
from personvern.cli import retention as retention_cli
from personvern.cli import review as review_cli
from personvern.cli import sms as sms_cli
from personvern.cli import statistics as statistics_cli
from personvern.cli.audit import audit_app
from personvern.cli.common import DbOption, Env, JsonOption, NowOption, RoleOption, command, err_console, report_error
from personvern.cli.export import export_app
from personvern.cli.serve import serve
from personvern.cli.tasks import task_app
from personvern.cli.user import user_app
from personvern.domain.access import Permission
from personvern.services import users
from personvern.services.demo import load_demo

app = typer.Typer(
    name="personvern",
    help="A customer register that enforces its privacy policy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(policy_cli.app, name="policy")
app.add_typer(register_cli.subject_app, name="subject")
app.add_typer(register_cli.relationship_app, name="relationship")
app.add_typer(audit_app, name="audit")
app.add_typer(consent_cli.consent_app, name="consent")
app.add_typer(consent_cli.marketing_app, name="marketing")
command(app, "object")(consent_cli.object_)
command(app, "restrict")(consent_cli.restrict)
app.add_typer(sms_cli.sms_app, name="sms")
app.add_typer(outbox_cli.outbox_app, name="outbox")
app.add_typer(notice_cli.notice_app, name="notice")
app.add_typer(record_cli.record_app, name="record")
command(app, "statistics")(statistics_cli.statistics)
app.add_typer(breach_cli.breach_app, name="breach")
app.add_typer(requests_cli.request_app, name="request")
app.add_typer(requests_cli.archive_app, name="archive")
app.add_typer(retention_cli.retention_app, name="retention")
app.add_typer(review_cli.review_app, name="review")
command(app, "worker")(outbox_cli.worker)
command(app, "serve")(serve)
app.add_typer(user_app, name="user")
app.add_typer(task_app, name="task")
app.add_typer(export_app, name="export")
app.add_typer(processors_cli.processors_app, name="processors")
command(app, "backup")(backup_cli.backup)
command(app, "restore")(backup_cli.restore)
app.add_typer(keys_cli.keys_app, name="keys")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"personvern {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: DbOption = None,
    now: NowOption = None,
    role: RoleOption = None,
    json_output: JsonOption = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    ctx.obj = {"db": db, "now": now, "role": role, "json": json_output}


@command(app, "init")
def init(
    env: Env,
    policy: Annotated[
        str | None, typer.Option("--policy", help="Policy file (default: the bundled 24 Center policy).")
    ] = None,
) -> None:
    """Create or upgrade the database, create the master key if missing, and load the policy."""
    runtime, report = initialise(env.settings(), policy)
    runtime.close()
    data = {
        "database": report.database_url,
        "master_key_file": report.master_key_file,
        "master_key_created": report.key_created,
        "schema_revision": report.revision,
        "schema_upgraded_from": report.revision_before,
        "policy_version": report.policy.version,
        "policy_sha256": report.policy.sha256,
        "policy_changed": report.policy.changed,
        "indexed": list(report.policy.indexed),
        "notice_sha256": report.notice_sha256,
        "simulation": runtime.simulation,
        "warnings": [str(w) for w in report.warnings],
    }
    for warning in report.warnings:
        # Warnings go to standard error, as `policy check` prints them: the policy loads, but says too little.
        err_console().print(str(warning), markup=False, soft_wrap=True)

    def human(c: Console) -> None:
        c.print(f"database     {report.database_url} (schema {report.revision})", markup=False)
        key = "created" if report.key_created else "kept"
        c.print(
            f"master key   {report.master_key_file} ({key}; keep it safe and apart from backups)",
            markup=False,
        )
        state = "loaded" if report.policy.changed else "unchanged"
        c.print(
            f"policy       version {report.policy.version} ({state}, sha256 {report.policy.sha256[:12]})",
            markup=False,
        )
        if report.policy.indexed:
            built = ", ".join(report.policy.indexed)
            c.print(f"look-ups     built for {built} (the new policy looks them up)", markup=False)
        c.print(f"notice       sha256 {report.notice_sha256[:12]} (`personvern notice render` prints it)", markup=False)
        c.print(f"register     {_kind_of_register(runtime.simulation)}", markup=False)

    env.emit(data, human)


@command(app, "demo")
def demo(
    env: Env,
    subjects: Annotated[int, typer.Option("--subjects", help="How many synthetic customers.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generator (same seed, same people).")] = 24,
) -> None:
    """Initialise the database and fill an empty register with realistic synthetic customers."""
    # Synthetic people make a simulation register: the tour's `--now` commands work on it (DESIGN.md §3 'Clock').
    runtime, report = initialise(env.settings(), None, demo=True)
    env._runtime = runtime
    loaded = load_demo(runtime.context(), subjects, seed)
    signer = _demo_user(runtime)
    data = {
        "database": report.database_url,
        "master_key_file": report.master_key_file,
        "policy_version": report.policy.version,
        "added": loaded.added,
        "relationships": loaded.relationships,
        "consents": loaded.consents,
        "withdrawn": loaded.withdrawn,
        "objections": loaded.objections,
        "existing": loaded.existing,
        "simulation": runtime.simulation,
        "console_user": signer[0],
        "console_password": signer[1],
    }

    def human(c: Console) -> None:
        if loaded.existing:
            c.print(f"The register already holds {loaded.existing} subjects; no demo data was added.")
        else:
            c.print(f"Added {loaded.added} synthetic customers and {loaded.relationships} orders and contracts.")
            c.print(
                f"{loaded.consents} marketing consents were given ({loaded.withdrawn} withdrawn since) "
                f"and {loaded.objections} objections made."
            )
        c.print(WELCOME.format(db=report.database_url), markup=False)
        c.print(f"This is a {_kind_of_register(runtime.simulation)}.", markup=False)
        name, password = signer
        if password is not None:
            c.print(
                f"Console: sign in as {name} with the password {password} (shown once; you choose your own at "
                "the first sign-in).",
                markup=False,
            )
        elif name is not None:
            c.print(
                f"Console: sign in as {name} with the password you chose (`personvern user reset {name}` gives a "
                "new first one).",
                markup=False,
            )

    env.emit(data, human)


DEMO_USER = "ceo"


def _demo_user(runtime: Runtime) -> tuple[str | None, str | None]:
    """A CEO user to sign in to the console with, on a register that has none: (name, first password or None)."""
    if not runtime.actor.may(Permission.USERS_MANAGE):
        return None, None
    existing = users.list_users(runtime.context())
    if existing:
        ceo = next((u.name for u in existing if u.role == "ceo" and u.active), None)
        return ceo, None
    issued = users.add_user(runtime.context(), DEMO_USER, "ceo")
    return issued.user.name, issued.password


def _kind_of_register(simulation: bool) -> str:
    if simulation:
        return "simulation register: --now moves the clock for every command"
    return "real register: --now is accepted only for previews (plans, lists), never for a change"


WELCOME = """
personvern is ready: database {db}, with 24 Center's policy.
`personvern serve` (what `make run` does next) serves the staff console at /console/, the public privacy page at
/personvern and the API at /api/v1. Everything also works from the command line:

  personvern policy show                       what the policy allows, and why
  personvern subject list --kind contract_customer
  personvern subject show ID                   one person, with orders and contracts
  personvern marketing audience --channel sms --count    who marketing may reach, by consent
  personvern subject add --kind one_time_customer --set full_name="Kari Nordmann" --set phone=91234567 \\
      --set email=kari@example.no
  personvern subject import FILE.csv --kind one_time_customer
  personvern audit verify                      every read and change is in a hash chain
  personvern --help                            every command; add --json for machine output
"""


def run() -> None:
    """Console-script entry: run the app, and turn anything unexpected into a message, not a traceback."""
    try:
        app()  # standalone: usage errors print their message and exit 2, as click decides
    except Exception as exc:  # the last guard: commands report their own errors
        if os.environ.get("PERSONVERN_DEBUG"):
            raise
        sys.exit(report_error(exc))
