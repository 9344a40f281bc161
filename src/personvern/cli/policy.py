"""`personvern policy check|show`: validate a policy file, and print a policy so a person can read it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from personvern.cli.common import Env, command
from personvern.domain.errors import invalid
from personvern.policy.lint import CheckResult, check_file, check_text
from personvern.policy.loader import LoadedPolicy, PolicyInvalid, Problem, load_policy
from personvern.policy.schema import Policy
from personvern.store.engine import sqlite_path

app = typer.Typer(help="The policy file: check it, show it.", no_args_is_help=True)

FileArgument = Annotated[
    str | None,
    typer.Argument(help="Policy file (TOML). Default: the policy in force in the database, else the bundled one."),
]


def _load(env: Env, file: str | None) -> LoadedPolicy:
    if file is not None:
        return load_policy(file)
    path = sqlite_path(env.settings().database_url)
    if env.db is None and path is not None and not path.exists():
        return load_policy(None)
    return env.runtime().policy


def _check(env: Env, file: str | None) -> CheckResult:
    if file is not None:
        return check_file(file)
    loaded = _load(env, None)
    return check_text(loaded.text, loaded.source)


def problem_json(p: Problem) -> dict[str, Any]:
    return {
        "file": p.file,
        "line": p.line,
        "path": p.path,
        "severity": p.severity,
        "message": p.message,
        "article": p.article,
    }


@command(app, "check")
def check(env: Env, file: FileArgument = None) -> None:
    """Validate a policy file and lint it against GDPR Art. 13/14: every problem with its line (exit 8 on errors)."""
    result = _check(env, file)
    if result.errors or result.loaded is None:
        raise PolicyInvalid(result.problems)
    loaded = result.loaded
    p = loaded.policy
    data = {
        "ok": True,
        "source": loaded.source,
        "version": p.version,
        "sha256": loaded.sha256,
        "kinds": len(p.kinds),
        "fields": len(p.fields),
        "purposes": len(p.purposes),
        "recipients": len(p.recipients),
        "problems": [problem_json(w) for w in result.warnings],
    }

    def human(c: Console) -> None:
        warned = f"; {len(result.warnings)} warning(s)" if result.warnings else ""
        c.print(
            f"ok: {loaded.source}: policy {p.version}: {len(p.kinds)} kinds, {len(p.fields)} fields, "
            f"{len(p.purposes)} purposes, {len(p.recipients)} recipients, {len(p.retention)} retention rules{warned}",
            markup=False,
        )
        for warning in result.warnings:
            c.print(f"  {warning}", markup=False)

    env.emit(data, human)


@command(app, "show")
def show(
    env: Env,
    file: FileArgument = None,
    lang: Annotated[str, typer.Option("--lang", help="nb or en.")] = "en",
) -> None:
    """Print the policy: controller, kinds, fields, purposes, recipients, retention, archive, review."""
    loaded = _load(env, file)
    if lang not in ("nb", "en"):
        raise invalid("lang", "must be nb or en")
    data = {"source": loaded.source, "sha256": loaded.sha256, "policy": loaded.policy.model_dump(mode="json")}
    env.emit(data, lambda c: render(c, loaded.policy, lang))


def render(c: Console, p: Policy, lang: str) -> None:
    ctl = p.controller
    c.print(Text.assemble((ctl.name, "bold"), f" — policy {p.version}"))
    c.print(f"{ctl.address}, {ctl.postal_code} {ctl.city}", markup=False)
    c.print(f"Privacy contact: {p.privacy_contact.role.get(lang)} <{p.privacy_contact.email}>", markup=False)
    c.print(
        f"Supervisory authority: {p.supervisory_authority.name} ({p.supervisory_authority.website})",
        markup=False,
    )

    kinds = Table(title="Subject kinds", title_justify="left")
    for col in ("kind", "label", "business"):
        kinds.add_column(col)
    for name, kind in p.kinds.items():
        kinds.add_row(name, kind.label.get(lang), "yes" if kind.business else "")
    c.print(kinds)

    fields = Table(title="Fields (only these may be stored)", title_justify="left")
    for col in ("field", "type", "collected", "kinds", "purposes"):
        fields.add_column(col)
    for name, spec in p.fields.items():
        extra = " (unique)" if spec.unique else ""
        fields.add_row(
            name,
            spec.type.value + extra,
            spec.collected.value,
            ", ".join(spec.kinds),
            ", ".join(spec.purposes),
        )
    c.print(fields)

    purposes = Table(title="Purposes", title_justify="left")
    for col in ("purpose", "legal basis", "channels", "description"):
        purposes.add_column(col)
    for name, purpose in p.purposes.items():
        purposes.add_row(
            name,
            f"Art. {purpose.legal_basis.value}",
            ", ".join(purpose.channels),
            purpose.description.get(lang),
        )
    c.print(purposes)

    recipients = Table(title="Recipients", title_justify="left")
    for col in ("recipient", "category", "country", "purposes", "fields"):
        recipients.add_column(col)
    for name, r in p.recipients.items():
        country = r.country + (" (transfer basis given)" if r.transfer_basis else "")
        recipients.add_row(f"{name}: {r.name}", r.category.value, country, ", ".join(r.purposes), ", ".join(r.fields))
    c.print(recipients)

    retention = Table(title="Retention", title_justify="left")
    for col in ("rule", "purpose", "holds while", "period", "fields"):
        retention.add_column(col)
    for name, rule in p.retention.items():
        period = f"{rule.keep.describe(lang)} from {rule.counts_from.value}" if rule.keep and rule.counts_from else ""
        retention.add_row(name, rule.purpose, rule.holds_while.value, period, ", ".join(rule.fields or ["all"]))
    c.print(retention)

    expiry = ", ".join(f"{k}: {v.value}" for k, v in p.archive.on_expiry.items())
    c.print(
        f"Archive: readable by {', '.join(p.archive.readable_by)}; keeps {', '.join(p.archive.fields)}",
        markup=False,
    )
    c.print(f"When no reason is left: {expiry}", markup=False)
    c.print(f"Annual review: by month {p.review.month}, signed by {p.review.signed_by}", markup=False)
