"""The demo sink: SMS and e-mail kept in the database for the console's Demo messages page, not sent to anyone.

Used by `make run` (PERSONVERN_DEMO_SINK) only for a kind whose vendor has no credentials, so that a newcomer
can walk the whole flow of the public page (a one-time code, a receipt) without a LINK Mobility account or a
mail server. Never used where credentials are set, and said so on start (`serve`, `worker`).
"""

from __future__ import annotations

from typing import Any

from personvern.connectors.errors import PermanentFailure
from personvern.domain.outbox import OutboxRow
from personvern.services import demo_sink
from personvern.services.context import Context

KINDS = ("sms", "email")
NAMES = {"sms": "SMS", "email": "e-mail"}


def announcement(kinds: list[str]) -> str:
    """The line `worker` (and so `serve`) prints when the sink takes any kind."""
    taken = " and ".join(NAMES[k] for k in KINDS if k in kinds)
    where = {"sms": "anyone's phone", "email": "anyone's inbox"}
    places = " or ".join(where[k] for k in KINDS if k in kinds).replace(" or anyone's", " or")
    verb = "go" if " and " in taken else "goes"
    return f"demo: {taken} {verb} to the demo sink (the console's Demo messages page), not to {places}"


class DemoSink:
    def __init__(self, ctx: Context, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"the demo sink takes {', '.join(KINDS)}, not {kind!r}")
        self.kind = kind
        self._ctx = ctx

    def deliver(self, row: OutboxRow) -> dict[str, Any]:
        personal = row.personal or {}
        if self.kind == "sms":
            destination, subject_line, body = personal.get("destination"), None, personal.get("text")
        else:
            destination, subject_line, body = personal.get("to"), personal.get("subject"), personal.get("body")
        if not destination or not body:
            raise PermanentFailure("the row holds no destination or text")
        message = demo_sink.record(
            self._ctx,
            row.id,
            self.kind,
            str(destination),
            None if subject_line is None else str(subject_line),
            str(body),
        )
        return {"demo_sink": True, "demo_message_id": message.id}
