"""`personvern user …`: the staff who sign in to the console and the API, their roles, tokens and passwords."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from personvern.cli.common import Env, command
from personvern.cli.layout import print_rows
from personvern.domain.users import User
from personvern.services import users

user_app = typer.Typer(help="Staff users of the console and the API.", no_args_is_help=True)

NewRole = Annotated[str, typer.Option("--role", help="The user's role: ceo, staff, marketing or auditor.")]
UserName = Annotated[str, typer.Argument(help="The user name.")]
Language = Annotated[str, typer.Option("--language", help="The console's language for the user: nb or en.")]


def user_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role,
        "language": user.language,
        "token_prefix": user.token_prefix,
        "created_at": user.created_at,
        "disabled_at": user.disabled_at,
        "must_change_password": user.must_change_password,
    }


def _shown_once(c: Console, issued: users.Issued) -> None:
    c.print(f"user {issued.user.name} ({issued.user.role})", markup=False)
    c.print(f"token:    {issued.token}", markup=False)
    if issued.password is not None:
        c.print(f"password: {issued.password}", markup=False)
        c.print("The password must be changed at the first sign-in to the console.", markup=False)
    c.print("Shown once: only their hashes are stored. Keep the token secret (it signs in to the API).", markup=False)


@command(user_app, "add", acting_role=False)
def add(env: Env, name: UserName, role: NewRole, language: Language = "nb") -> None:
    """Add a user; prints their API token and first password once (only hashes are stored)."""
    issued = users.add_user(env.runtime().context(), name, role, language)
    data = {"name": issued.user.name, "role": issued.user.role, "token": issued.token, "password": issued.password}
    env.emit(data, lambda c: _shown_once(c, issued))


@command(user_app, "list")
def list_(env: Env) -> None:
    """Every user, with role, language, token prefix and whether disabled."""
    found = users.list_users(env.runtime().context())

    def human(c: Console) -> None:
        if not found:
            c.print("no users; add one with `personvern user add NAME --role ceo`", markup=False)
            return
        rows = [
            (
                u.name,
                u.role,
                u.language,
                u.token_prefix + "…",
                u.created_at.date().isoformat(),
                "disabled " + u.disabled_at.date().isoformat() if u.disabled_at else "active",
            )
            for u in found
        ]
        print_rows(c, ["name", "role", "language", "token", "added", "state"], rows)

    env.emit({"users": [user_json(u) for u in found]}, human)


@command(user_app, "disable")
def disable(env: Env, name: UserName) -> None:
    """Disable a user: no more sign-in or token use, and their sessions end at once."""
    user = users.disable_user(env.runtime().context(), name)
    env.emit(
        user_json(user), lambda c: c.print(f"user {user.name} is disabled; their sessions have ended", markup=False)
    )


@command(user_app, "token")
def token(env: Env, name: UserName) -> None:
    """Give the user a new API token (shown once); the old one stops working."""
    issued = users.new_token(env.runtime().context(), name)
    env.emit(
        {"name": issued.user.name, "role": issued.user.role, "token": issued.token}, lambda c: _shown_once(c, issued)
    )


@command(user_app, "reset")
def reset(env: Env, name: UserName) -> None:
    """Give the user a new first password (shown once, changed at the next sign-in); their sessions end."""
    issued = users.reset_password(env.runtime().context(), name)
    data = {"name": issued.user.name, "role": issued.user.role, "password": issued.password}

    def human(c: Console) -> None:
        c.print(f"user {issued.user.name}: new first password {issued.password}", markup=False)
        c.print("Shown once; it must be changed at the next sign-in.", markup=False)

    env.emit(data, human)
