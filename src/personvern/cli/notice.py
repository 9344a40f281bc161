"""`personvern notice …`: the privacy notice rendered from the policy, and the versions published before."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.cli.common import Env, command, err_console
from personvern.cli.layout import print_rows
from personvern.services import notices
from personvern.services.ports import NoticeVersion

notice_app = typer.Typer(help="The privacy notice (GDPR Art. 13-14), rendered from the policy.", no_args_is_help=True)


def version_json(v: NoticeVersion, text: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "sha256": v.sha256,
        "language": v.language,
        "format": v.format,
        "policy_sha256": v.policy_sha256,
        "published_at": v.created_at,
    }
    if text:
        out["text"] = v.text
    return out


@command(notice_app, "render")
def render(
    env: Env,
    lang: Annotated[str | None, typer.Option("--lang", help="nb or en (default: the policy's first language).")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="md (default) or html.")] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="A published version's sha256 (at least 8 digits): print that one.")
    ] = None,
) -> None:
    """Print the privacy notice: the text on stdout, its version (sha256) on stderr."""
    ctx = env.runtime().context()
    if version is not None:
        found = notices.find_version(ctx, version, lang, format_)
        data = version_json(found, text=True) | {"published": True}
        text, note = found.text, f"published {found.created_at.isoformat(timespec='seconds')}"
    else:
        rendered = notices.render(ctx, lang, format_)
        n = rendered.notice
        data = {
            "sha256": n.sha256,
            "language": n.language,
            "format": n.format,
            "policy_sha256": rendered.policy_sha256,
            "published": rendered.published,
            "text": n.text,
        }
        text = n.text
        note = "published" if rendered.published else "not published yet: `personvern init` publishes it"
    if env.json:
        env.emit(data, lambda c: None)
        return
    sys.stdout.write(text)
    err_console().print(f"notice {data['language']}/{data['format']} version {data['sha256']} ({note})", markup=False)


@command(notice_app, "list")
def list_(env: Env) -> None:
    """Every published version of the notice, newest first: sha256, language, format, policy, when."""
    versions = notices.list_versions(env.runtime().context())

    def human(c: Console) -> None:
        columns = ("sha256", "language", "format", "policy", "published")
        rows = [
            (v.sha256, v.language, v.format, v.policy_sha256[:12], v.created_at.isoformat(timespec="seconds"))
            for v in versions
        ]
        print_rows(c, columns, rows, title=f"{len(versions)} published notice versions")

    env.emit({"versions": [version_json(v) for v in versions]}, human)
