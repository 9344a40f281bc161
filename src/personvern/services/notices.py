"""The privacy notice's use cases: publish its renderings when a policy is loaded, render it, find old versions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from personvern.domain.access import Permission
from personvern.domain.errors import NotFound, invalid
from personvern.reports.environment import LANGUAGES
from personvern.reports.notice import FORMATS, Notice, render_all, render_notice
from personvern.services.context import Context
from personvern.services.ports import NoticeVersion

DEFAULT_FORMAT = "md"  # the rendering consent events refer to by default: the text itself, in any medium
MIN_PREFIX = 8

_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class RenderedNotice:
    """The notice of the policy in force, and whether this very text was published (stored) when it was loaded."""

    notice: Notice
    policy_sha256: str
    published: bool


def _version(ctx: Context, notice: Notice) -> NoticeVersion:
    return NoticeVersion(notice.sha256, ctx.policy_sha256, notice.language, notice.format, notice.text, ctx.clock.now())


def publish_notices(ctx: Context) -> list[NoticeVersion]:
    """Store every rendering of the policy in force that is not stored yet (each language, Markdown and HTML).

    Run by `init`: the versions stay, so the notice a consent refers to can always be shown (Art. 7(1)).
    """
    ctx.actor.require(Permission.POLICY_MANAGE)
    versions = [_version(ctx, n) for n in render_all(ctx.policy)]
    # Not an audit event: a notice holds no personal data, and the policy load it follows is audited already.
    with ctx.uow() as uow:
        for version in versions:
            uow.notices.add(version)
        uow.commit()
    return versions


def _check(ctx: Context, lang: str | None, fmt: str | None) -> tuple[str | None, str | None]:
    if lang is not None and lang not in ctx.policy.languages:
        raise invalid("lang", f"must be one of the policy's languages: {', '.join(ctx.policy.languages)}")
    if fmt is not None and fmt not in FORMATS:
        raise invalid("format", f"must be one of: {', '.join(FORMATS)}")
    return lang, fmt


def render(ctx: Context, lang: str | None = None, fmt: str | None = None) -> RenderedNotice:
    """The notice of the policy in force, in one language (default: the policy's first) and format."""
    language, chosen = _check(ctx, lang, fmt)
    notice = render_notice(ctx.policy, language or ctx.policy.languages[0], chosen or DEFAULT_FORMAT)
    with ctx.uow() as uow:
        published = any(v.policy_sha256 == ctx.policy_sha256 for v in uow.notices.find(notice.sha256))
    return RenderedNotice(notice, ctx.policy_sha256, published)


def find_version(ctx: Context, sha256: str, lang: str | None = None, fmt: str | None = None) -> NoticeVersion:
    """A published rendering by its sha256 (or a prefix of at least 8 digits naming one text)."""
    if lang is not None and lang not in LANGUAGES:
        raise invalid("lang", f"must be one of: {', '.join(LANGUAGES)}")
    _check(ctx, None, fmt)
    prefix = sha256.strip().lower()
    if not _HEX.fullmatch(prefix) or not MIN_PREFIX <= len(prefix) <= 64:
        raise invalid("version", f"must be the notice's sha256: {MIN_PREFIX} to 64 hexadecimal digits")
    with ctx.uow() as uow:
        found = uow.notices.find(prefix)
    if not found:
        raise NotFound(f"no privacy notice with version {prefix} was published")
    texts = {v.sha256 for v in found}
    if len(texts) > 1:
        raise invalid("version", f"{prefix} names {len(texts)} versions; give more digits")
    version = found[0]
    for name, wanted, held in (("lang", lang, version.language), ("format", fmt, version.format)):
        if wanted is not None and wanted != held:
            raise invalid(name, f"version {version.sha256[:12]} is in {held}, not {wanted}")
    return version


def list_versions(ctx: Context) -> list[NoticeVersion]:
    """Every published rendering, newest first."""
    with ctx.uow() as uow:
        return uow.notices.all()
