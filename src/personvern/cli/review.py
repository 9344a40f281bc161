"""`personvern review run|sign`: the annual review of every record's reason to be kept."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.cli.common import Env, command
from personvern.cli.files import private_folder, write_private
from personvern.domain.errors import invalid
from personvern.reports.review import render_html
from personvern.services import review

review_app = typer.Typer(help="The annual review: the reason to keep every record, signed.", no_args_is_help=True)

OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write the report here as HTML and JSON.", show_default=False)
]
LangOption = Annotated[str | None, typer.Option("--lang", help="nb or en (default: the policy's first language).")]


def _out_dir(out: Path | None) -> Path | None:
    """The folder for the files, made if missing (0700), checked before any work is done.

    Not necessarily empty: `review sign` writes the signed report beside the one `review run` wrote.
    """
    if out is None:
        return None
    private_folder(out, "out", empty=False)
    return out


def _write(out: Path, name: str, text: str) -> Path:
    path = out / name
    write_private(path, text.encode("utf-8"), "out", replace=True)
    return path


def _files(env: Env, run: review.ReviewRun, out: Path, lang: str) -> list[Path]:
    policy = env.runtime().policy.policy
    base = f"review-{run.record.year}-{run.record.id}"
    html = render_html(
        policy, run.report, run.record.id, run.record.sha256, lang, run.record if run.record.signed_at else None
    )
    # The JSON file is the signed text itself: `sha256sum` of it is the hash in the audit chain.
    return [_write(out, f"{base}.json", run.record.report), _write(out, f"{base}.html", html)]


def _lang(env: Env, lang: str | None) -> str:
    languages = env.runtime().policy.policy.languages
    chosen = lang or languages[0]
    if chosen not in languages:
        raise invalid("lang", f"must be one of the policy's languages: {', '.join(languages)}")
    return chosen


@command(review_app, "run")
def run(
    env: Env,
    year: Annotated[int, typer.Option("--year", help="The year reviewed.")],
    out: OutOption = None,
    lang: LangOption = None,
) -> None:
    """List every subject and archived record with the reason that keeps it, or "none"; store it for signing."""
    folder = _out_dir(out)
    chosen = _lang(env, lang)
    result = review.run_review(env.runtime().context(), year)
    files = _files(env, result, folder, chosen) if folder is not None else []
    summary = result.report["summary"]
    data: dict[str, Any] = {
        "id": result.record.id,
        "year": year,
        "sha256": result.record.sha256,
        "summary": summary,
        "files": [str(f) for f in files],
    }

    def human(c: Console) -> None:
        c.print(
            f"review {result.record.id} of {year}: {summary['subjects']} subjects, {summary['archived']} archived "
            f"records, {summary['without_reason']} without a reason to be kept",
            markup=False,
        )
        for reason, n in summary["by_reason"].items():
            c.print(f"  {reason:<20} {n}", markup=False)
        for f in files:
            c.print(f"wrote {f}", markup=False)
        c.print(f"sha256 {result.record.sha256}; sign it with: personvern review sign {result.record.id}", markup=False)

    env.emit(data, human)


@command(review_app, "sign")
def sign(
    env: Env,
    review_id: Annotated[str, typer.Argument(help="The review's id (from `review run`).")],
    out: OutOption = None,
    lang: LangOption = None,
) -> None:
    """Sign a review (the role the policy names): its hash goes into the audit chain; records without a reason go."""
    folder = _out_dir(out)
    chosen = _lang(env, lang)
    context = env.runtime().context()
    signed = review.sign_review(context, review_id)
    files = _files(env, review.load_review(context, review_id), folder, chosen) if folder is not None else []
    r = signed.removed
    data = {
        "id": review_id,
        "year": signed.record.year,
        "sha256": signed.record.sha256,
        "signed_at": signed.record.signed_at,
        "signed_by": signed.record.signed_by,
        "archived": r.archived,
        "erased": r.erased,
        "erased_except_held": r.held,
        "skipped": r.skipped,
        "archive_records_erased": signed.archive_erased,
        "failed": [{"id": i, "error": why} for i, why in signed.failed],
        "files": [str(f) for f in files],
    }

    def human(c: Console) -> None:
        c.print(f"signed review {review_id} of {signed.record.year} (sha256 {signed.record.sha256})", markup=False)
        c.print(
            f"records without a reason: archived {r.archived}, erased {r.erased}, erased except held fields {r.held}, "
            f"archived records erased {signed.archive_erased}, no longer without a reason {r.skipped}",
            markup=False,
        )
        for i, why in signed.failed:
            c.print(f"  failed {i}: {why}", markup=False)
        for f in files:
            c.print(f"wrote {f}", markup=False)

    env.emit(data, human)
