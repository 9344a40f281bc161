"""/api/v1/policy: the policy in force, and the check of a policy text against the schema and GDPR Art. 13/14."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from personvern.api.security import Ctx, Rt
from personvern.policy.lint import check_text
from personvern.policy.loader import PolicyInvalid, Problem

router = APIRouter(prefix="/policy", tags=["policy"])

MAX_POLICY = 1_000_000  # characters: the bundled policy is about 30 000


class PolicyOut(BaseModel):
    source: str
    version: str
    sha256: str = Field(description="Of the policy text in force: what consents and notices refer to.")
    policy: dict[str, Any]


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_POLICY, description="A policy file's text (TOML).")


class ProblemOut(BaseModel):
    line: int | None
    path: str
    severity: str = Field(description="error or warning")
    message: str
    article: str | None = Field(description="The GDPR provision a finding comes from.")

    @classmethod
    def of(cls, p: Problem) -> ProblemOut:
        return cls(line=p.line, path=p.path, severity=p.severity, message=p.message, article=p.article)


class CheckOut(BaseModel):
    ok: bool = Field(description="No errors: the policy can be loaded (warnings may remain).")
    version: str | None
    sha256: str | None
    kinds: int
    fields: int
    purposes: int
    recipients: int
    problems: list[ProblemOut]


@router.get("", summary="The policy in force: kinds, fields, purposes, recipients, retention, archive, review")
def show(ctx: Ctx, rt: Rt) -> PolicyOut:
    return PolicyOut(
        source=rt.policy.source,
        version=ctx.policy.version,
        sha256=ctx.policy_sha256,
        policy=ctx.policy.model_dump(mode="json"),
    )


@router.post("/check", summary="Check a policy text: every problem with its line, and the GDPR article it breaks")
def check(_ctx: Ctx, body: CheckIn) -> CheckOut:
    # The answer to a check is its findings, errors included (ok false); nothing is loaded or stored.
    try:
        result = check_text(body.text, "upload")
    except PolicyInvalid as exc:  # not TOML at all
        return CheckOut(
            ok=False,
            version=None,
            sha256=None,
            kinds=0,
            fields=0,
            purposes=0,
            recipients=0,
            problems=[ProblemOut.of(p) for p in exc.problems],
        )
    loaded = result.loaded if not result.errors else None
    p = loaded.policy if loaded is not None else None
    return CheckOut(
        ok=loaded is not None,
        version=p.version if p else None,
        sha256=loaded.sha256 if loaded else None,
        kinds=len(p.kinds) if p else 0,
        fields=len(p.fields) if p else 0,
        purposes=len(p.purposes) if p else 0,
        recipients=len(p.recipients) if p else 0,
        problems=[ProblemOut.of(x) for x in result.problems],
    )
