"""Who is calling the API: the bearer token's user, passed to the services as the actor."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from personvern.bootstrap import Runtime
from personvern.domain.access import Actor
from personvern.domain.errors import Unauthenticated
from personvern.domain.users import User
from personvern.services import users
from personvern.services.context import Context

bearer = HTTPBearer(auto_error=False, description="A user's token from `personvern user add` or `user token`.")


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def signed_in(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("sign in: send `Authorization: Bearer TOKEN` (from `personvern user add`)")
    return users.authenticate(runtime(request).uow, credentials.credentials)


def context_for(rt: Runtime, user: User) -> Context:
    """The services' context with the signed-in user as the actor: the audit chain records who did what."""
    return replace(rt.context(), actor=Actor(user.actor_name, user.role))


def context(request: Request, user: Annotated[User, Depends(signed_in)]) -> Context:
    return context_for(runtime(request), user)


Ctx = Annotated[Context, Depends(context)]
Rt = Annotated[Runtime, Depends(runtime)]
