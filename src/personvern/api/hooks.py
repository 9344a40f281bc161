"""/hooks/linkmobility/…: LINK Mobility's delivery reports and replies, fed to the use cases of `sms report|inbound`."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from personvern.api.bodies import TOO_LARGE, read_bounded
from personvern.api.errors import ERRORS
from personvern.api.security import Rt
from personvern.bootstrap import link_mobility_hook
from personvern.domain.access import Actor
from personvern.domain.errors import FieldProblem, InvalidInput, Malformed
from personvern.domain.sms import parse_delivery_reports, parse_inbound
from personvern.services import messaging
from personvern.services.context import Context

MAX_HOOK_BODY = 1024 * 1024  # a report list of a thousand entries fits many times over
REALM = 'Basic realm="personvern LINK Mobility callbacks", charset="UTF-8"'
# Who the callbacks act as in the audit log; staff may record reports and replies (domain/access.py).
HOOK_ACTOR = Actor("hook:linkmobility", "staff")

router = APIRouter(
    prefix="/hooks/linkmobility",
    tags=["hooks"],
    responses={**{code: ERRORS[code] for code in (400, 401, 503)}, **TOO_LARGE},
)
basic = HTTPBasic(auto_error=False, description="The callbacks' user and password from the settings.")


def _refused(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": REALM})


def signed_in(credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]) -> None:
    """LINK Mobility, by the user and password the settings give; compared in constant time."""
    expected = link_mobility_hook()
    if expected.missing is not None:
        raise _refused(f"the LINK Mobility callbacks are not set up: {expected.missing}")
    if credentials is None:
        raise _refused("sign in with HTTP Basic: the callbacks' user and password")
    # Both compared, always: which of the two was wrong must not show in the time taken.
    user_ok = secrets.compare_digest(credentials.username.encode(), expected.user.encode())
    password_ok = secrets.compare_digest(credentials.password.encode(), expected.password.encode())
    if not (user_ok and password_ok):
        raise _refused("wrong user or password for the LINK Mobility callbacks")


def context(rt: Rt) -> Context:
    return replace(rt.context(), actor=HOOK_ACTOR)


async def body(request: Request) -> Any:
    """The JSON body, at most MAX_HOOK_BODY bytes."""
    raw = await read_bounded(request, MAX_HOOK_BODY)
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Malformed([FieldProblem("body", "is not UTF-8 text")]) from None
    except json.JSONDecodeError as exc:
        raise Malformed([FieldProblem("body", f"is not JSON (line {exc.lineno}: {exc.msg})")]) from None
    except ValueError:  # valid JSON, but a number longer than Python reads (4 300 digits)
        raise Malformed([FieldProblem("body", "holds a number too long to read")]) from None
    except RecursionError:
        raise Malformed([FieldProblem("body", "is nested too deeply")]) from None


def _parsed(parse: Any, data: Any) -> Any:
    """The body read by the same parser `sms report|inbound` uses; a body it refuses is malformed (400)."""
    try:
        return parse(data)
    except InvalidInput as exc:
        raise Malformed(exc.problems, exc.summary) from None


class ReportOut(BaseModel):
    refId: str  # LINK Mobility's own name, as `sms report --json` prints it
    message_id: str | None
    result_code: int
    meaning: str
    status: str | None
    changed: bool
    result: str


class ReportsOut(BaseModel):
    recorded: list[ReportOut]
    counts: dict[str, int]


class InboundOut(BaseModel):
    # The same answer whether or not the number is a subject's: it must not reveal who is a customer.
    keyword: str | None


Signed = Depends(signed_in)


@router.post(
    "/reports",
    dependencies=[Signed],
    summary="LINK Mobility delivery reports (one object or a list): each message's status moves on",
)
def reports(ctx: Annotated[Context, Depends(context)], data: Annotated[Any, Depends(body)]) -> ReportsOut:
    outcomes = messaging.record_reports(ctx, _parsed(parse_delivery_reports, data))
    return ReportsOut(
        recorded=[
            ReportOut(
                refId=o.ref_id,
                message_id=o.message_id,
                result_code=o.result_code,
                meaning=o.meaning,
                status=None if o.status is None else o.status.value,
                changed=o.changed,
                result=o.result.value,
            )
            for o in outcomes
        ],
        counts={r.value: sum(1 for o in outcomes if o.result is r) for r in messaging.ReportResult},
    )


@router.post(
    "/inbound",
    dependencies=[Signed],
    summary="A reply (MO message): a stop word from a subject's number withdraws SMS marketing consent at once",
)
def inbound(ctx: Annotated[Context, Depends(context)], data: Annotated[Any, Depends(body)]) -> InboundOut:
    outcome = messaging.handle_inbound(ctx, _parsed(parse_inbound, data))
    return InboundOut(keyword=outcome.keyword)
