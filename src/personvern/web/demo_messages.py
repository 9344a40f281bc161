"""The demo sink in the console: the SMS and e-mail a demo kept instead of sending, newest first, marked DEMO."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from personvern.bootstrap import demo_sink_kinds, demo_sink_on
from personvern.domain.errors import NotFound
from personvern.services import demo_sink
from personvern.web.i18n import N_
from personvern.web.pages import ConsoleRoute, refusal, render
from personvern.web.visit import PREFIX, Seen

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

NAMES = {"sms": N_("SMS"), "email": N_("E-mail")}


@router.get("/demo-messages")
def listing(request: Request, v: Seen) -> Response:
    """Only while the sink is on: a register that sends for real has no such page (a 404 in words)."""
    if not demo_sink_on():
        return refusal(request, NotFound(v._("There is no such page in the console.")), v)
    messages = demo_sink.newest(v.ctx)
    kinds = ", ".join(v._(NAMES[k]) for k in demo_sink_kinds())
    values: dict[str, Any] = {"messages": messages, "kinds": kinds, "names": NAMES, "keep_days": demo_sink.KEEP.days}
    return render(request, "demo_messages.html", v, **values)
