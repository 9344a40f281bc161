"""/api/v1/users and /api/v1/me: staff users (the CEO manages them) and who the caller is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from personvern.api.security import Ctx, signed_in
from personvern.domain.users import User
from personvern.services import users

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    name: str = Field(min_length=2, max_length=40, description="a lower-case letter, then letters, digits, . - _")
    role: Literal["ceo", "staff", "marketing", "auditor"]
    language: Literal["nb", "en"] = "nb"


class UserOut(BaseModel):
    name: str
    role: str
    language: str
    token_prefix: str
    created_at: datetime
    disabled_at: datetime | None
    must_change_password: bool

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            name=user.name,
            role=user.role,
            language=user.language,
            token_prefix=user.token_prefix,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
            must_change_password=user.must_change_password,
        )


class IssuedOut(BaseModel):
    """Shown once: only the hashes are stored."""

    name: str
    role: str
    token: str
    password: str | None = None


class UserList(BaseModel):
    items: list[UserOut]


@router.get("/me", summary="The signed-in user")
def me(user: Annotated[User, Depends(signed_in)]) -> UserOut:
    return UserOut.of(user)


@router.get("/users", summary="Every staff user (CEO only)")
def list_users(ctx: Ctx) -> UserList:
    return UserList(items=[UserOut.of(u) for u in users.list_users(ctx)])


@router.post("/users", status_code=201, summary="Add a user; the token and first password are shown once")
def add_user(ctx: Ctx, body: UserIn) -> IssuedOut:
    issued = users.add_user(ctx, body.name, body.role, body.language)
    return IssuedOut(name=issued.user.name, role=issued.user.role, token=issued.token, password=issued.password)


@router.post("/users/{name}/disable", summary="Disable a user: no sign-in, no token, sessions ended")
def disable_user(ctx: Ctx, name: str) -> UserOut:
    return UserOut.of(users.disable_user(ctx, name))


@router.post("/users/{name}/token", summary="A new token for the user; the old one stops working")
def new_token(ctx: Ctx, name: str) -> IssuedOut:
    issued = users.new_token(ctx, name)
    return IssuedOut(name=issued.user.name, role=issued.user.role, token=issued.token)
