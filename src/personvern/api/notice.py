"""/api/v1/notice: the privacy notice (GDPR Art. 13-14) rendered from the policy, and every version published."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, offset_of
from personvern.api.security import Ctx
from personvern.services import notices
from personvern.services.ports import NoticeVersion

router = APIRouter(prefix="/notice", tags=["notice"])

Lang = Annotated[str | None, Query(max_length=8, description="nb or en (default: the policy's first language)")]
Format = Annotated[str | None, Query(max_length=8, description="md (default) or html")]


class NoticeOut(BaseModel):
    sha256: str = Field(description="The version: the sha256 of `text`, which consents refer to.")
    language: str
    format: str
    policy_sha256: str
    published: bool = Field(description="Stored when the policy was loaded (`personvern init`).")
    text: str


class VersionOut(BaseModel):
    sha256: str
    language: str
    format: str
    policy_sha256: str
    published_at: datetime

    @classmethod
    def of(cls, v: NoticeVersion) -> VersionOut:
        return cls(
            sha256=v.sha256,
            language=v.language,
            format=v.format,
            policy_sha256=v.policy_sha256,
            published_at=v.created_at,
        )


class VersionTextOut(VersionOut):
    text: str


class VersionPage(Page):
    items: list[VersionOut]


@router.get("", summary="The privacy notice of the policy in force, in a language and format")
def render(ctx: Ctx, lang: Lang = None, format: Format = None) -> NoticeOut:
    rendered = notices.render(ctx, lang, format)
    n = rendered.notice
    return NoticeOut(
        sha256=n.sha256,
        language=n.language,
        format=n.format,
        policy_sha256=rendered.policy_sha256,
        published=rendered.published,
        text=n.text,
    )


@router.get("/versions", summary="Every published version of the notice, newest first")
def list_versions(ctx: Ctx, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> VersionPage:
    offset = offset_of(cursor)
    versions = notices.list_versions(ctx)
    page = versions[offset : offset + limit]
    return VersionPage(
        items=[VersionOut.of(v) for v in page], next_cursor=after(offset, len(page), offset + limit < len(versions))
    )


@router.get("/versions/{sha256}", summary="A published version by its sha256 (or 8 or more of its first digits)")
def show_version(
    ctx: Ctx,
    sha256: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{8,64}$", description="The version's sha256, or a prefix")],
    lang: Lang = None,
    format: Format = None,
) -> VersionTextOut:
    v = notices.find_version(ctx, sha256, lang, format)
    return VersionTextOut(**VersionOut.of(v).model_dump(), text=v.text)
