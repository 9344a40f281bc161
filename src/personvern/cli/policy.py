"""`personvern policy check|show`: validate a policy file, and print a policy so a person can read it."""

from __future__ import annotations

from datetime import UTC, date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from personvern.bootstrap import clock_for
from personvern.cli.common import Env, command
from personvern.cli.layout import Column, print_rows
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


def _today(env: Env) -> date:
    """The day processor agreements' reviews are checked against: --now's, else today's, in UTC."""
    return clock_for(env.settings()).now().astimezone(UTC).date()


def _check(env: Env, file: str | None) -> CheckResult:
    if file is not None:
        return check_file(file, _today(env))
    loaded = _load(env, None)
    return check_text(loaded.text, loaded.source, _today(env))


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

    print_rows(
        c,
        ["kind", Column("label", wrap=True), "business"],
        [(name, kind.label.get(lang), "yes" if kind.business else "") for name, kind in p.kinds.items()],
        title="Subject kinds",
    )
    print_rows(
        c,
        ["field", "type", "collected", Column("kinds", wrap=True), Column("purposes", wrap=True)],
        [
            (
                name,
                spec.type.value + (" (unique)" if spec.unique else ""),
                spec.collected.value,
                ", ".join(spec.kinds),
                ", ".join(spec.purposes),
            )
            for name, spec in p.fields.items()
        ],
        title="Fields (only these may be stored)",
    )
    print_rows(
        c,
        ["purpose", "legal basis", Column("channels", wrap=True), Column("description", wrap=True)],
        [
            (name, f"Art. {purpose.legal_basis.value}", ", ".join(purpose.channels), purpose.description.get(lang))
            for name, purpose in p.purposes.items()
        ],
        title="Purposes",
    )
    print_rows(
        c,
        [Column(label, wrap=True) for label in ("recipient", "category", "country", "purposes", "fields")],
        [
            (
                f"{name}: {r.name}",
                r.category.value,
                r.country + (" (transfer basis given)" if r.transfer_basis else ""),
                ", ".join(r.purposes),
                ", ".join(r.fields),
            )
            for name, r in p.recipients.items()
        ],
        title="Recipients",
    )
    print_rows(
        c,
        ["rule", "purpose", "holds while", Column("period", wrap=True), Column("fields", wrap=True)],
        [
            (
                name,
                rule.purpose,
                rule.holds_while.value,
                f"{rule.keep.describe(lang)} from {rule.counts_from.value}" if rule.keep and rule.counts_from else "",
                ", ".join(rule.fields or ["all"]),
            )
            for name, rule in p.retention.items()
        ],
        title="Retention",
    )
    if p.messages is not None:
        c.print(f"Message texts: kept {p.messages.keep_text.describe(lang)}", markup=False)
    c.print(
        f"Undelivered outbox rows (dead): personal part kept {p.undelivered.keep.describe(lang)} from queuing "
        f"(an SMS never past its text), a processor deletion {p.undelivered.keep_deletion.describe(lang)}, "
        "then forgotten",
        markup=False,
    )
    c.print(
        f"Requests that matched nobody: the identity given kept {p.requests.keep_unmatched.describe(lang)} "
        "after the answer",
        markup=False,
    )
    c.print(
        f"Answers to requests: their files kept {p.requests.keep_answer.describe(lang)} after the answer, to be "
        "fetched; their sha256 for good",
        markup=False,
    )

    expiry = ", ".join(f"{k}: {v.value}" for k, v in p.archive.on_expiry.items())
    c.print(
        f"Archive: readable by {', '.join(p.archive.readable_by)}; keeps {', '.join(p.archive.fields)}",
        markup=False,
    )
    c.print(f"When no reason is left: {expiry}", markup=False)
    c.print(
        f"The worker's daily sweep on its own: at most {p.unattended.max_percent:g} % of the register and "
        f"{p.unattended.max_subjects} people a day; more waits for the CEO's `retention run`",
        markup=False,
    )
    c.print(f"Annual review: by month {p.review.month}, signed by {p.review.signed_by}", markup=False)
