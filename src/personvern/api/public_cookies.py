"""/api/v1/public/cookie-*: the website banner's categories and the visitors' cookie choices (no sign-in)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from personvern.api.errors import from_exception
from personvern.api.security import Rt
from personvern.bootstrap import Runtime
from personvern.domain.access import SUBJECT, Actor
from personvern.domain.errors import PersonvernError
from personvern.services import cookies
from personvern.services.context import Context
from personvern.web.public_pages import client_of

router = APIRouter(prefix="/public", tags=["public"])

CategoryName = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visitor: str = Field(
        min_length=22,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the banner's pseudonymous visitor id: random, base64url, made up in the browser",
    )
    choices: dict[CategoryName, StrictBool] = Field(
        max_length=32, description="category -> true (consent) or false; necessary ones are always true"
    )
    banner_version: str = Field(
        min_length=16, max_length=16, pattern=r"^[0-9a-f]+$", description="the version the banner showed"
    )
    method: Literal["accept_all", "reject_all", "custom", "gpc"] = Field(description="how the visitor chose")


class ChoiceOut(BaseModel):
    id: str
    choices: dict[str, bool]
    banner_version: str
    method: str


class CookieOut(BaseModel):
    name: str
    provider: str
    purpose: str
    expiry: str


class CategoryOut(BaseModel):
    name: str
    label: str
    description: str
    necessary: bool
    cookies: list[CookieOut]


class BannerOut(BaseModel):
    language: str
    version: str
    text: str
    remember_days: int
    categories: list[CategoryOut]


def _visitor(rt: Runtime) -> Context:
    # The visitor is nobody we know: the subject role may record a consent (Art. 7(3): as easy as giving it).
    return replace(rt.context(), actor=Actor("web:cookie-banner", SUBJECT))


def _cors(request: Request, response: Response, rt: Runtime) -> None:
    """Let the company's own pages (the policy's `[cookies] origins`) call these endpoints from the browser."""
    origin = request.headers.get("origin")
    allowed = rt.policy.policy.cookies.origins if rt.policy.policy.cookies is not None else []
    response.headers["Vary"] = "Origin"
    if origin is not None and origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin


@router.get(
    "/cookie-categories",
    summary="The website banner's cookie categories, their cookies and the banner's version, in nb or en",
)
def categories(
    request: Request,
    response: Response,
    rt: Rt,
    lang: Annotated[Literal["nb", "en"], Query(description="the language of the texts")] = "nb",
) -> BannerOut:
    _cors(request, response, rt)
    shown = cookies.banner(_visitor(rt), lang)
    return BannerOut(
        language=shown.language,
        version=shown.version,
        text=shown.text,
        remember_days=shown.remember_days,
        categories=[
            CategoryOut(
                name=c.name,
                label=c.label,
                description=c.description,
                necessary=c.necessary,
                cookies=[
                    CookieOut(name=k.name, provider=k.provider, purpose=k.purpose, expiry=k.expiry) for k in c.cookies
                ],
            )
            for c in shown.categories
        ],
    )


@router.post(
    "/cookie-consents",
    status_code=201,
    response_model=ChoiceOut,
    summary="Record a visitor's cookie choice (ekomloven § 2-7b); `Sec-GPC: 1` refuses every optional category",
    description="A banner_version other than the one in force answers 409: the banner must ask again.",
)
def record(
    request: Request,
    response: Response,
    rt: Rt,
    body: ChoiceIn,
    sec_gpc: Annotated[str | None, Header(alias="Sec-GPC", description="Global Privacy Control: 1")] = None,
) -> ChoiceOut | JSONResponse:
    _cors(request, response, rt)
    try:
        done = cookies.record_choice(
            _visitor(rt),
            body.visitor,
            body.choices,
            body.method,
            body.banner_version,
            cookies.gpc_header(sec_gpc),
            client=client_of(request),
        )
    except PersonvernError as exc:
        # Answered here, not by the app's handler, so that the company's page can read a 409 and ask again.
        refused = from_exception(exc)
        _cors(request, refused, rt)
        return refused
    return ChoiceOut(id=done.id, choices=dict(done.choices), banner_version=done.banner_version, method=done.method)


@router.options("/cookie-consents", include_in_schema=False)
@router.options("/cookie-categories", include_in_schema=False)
def preflight(request: Request, rt: Rt) -> Response:
    """The browser's CORS preflight for a JSON POST from the company's own pages."""
    response = Response(status_code=204)
    _cors(request, response, rt)
    if "Access-Control-Allow-Origin" in response.headers:
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
