"""/api/v1/requests/{id}/recipients: each recipient's part in a request carried out, and where it stands."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from personvern.api.security import Ctx
from personvern.api.tasks import RecipientOut
from personvern.services import rights

router = APIRouter(prefix="/requests", tags=["requests"])


class RecipientList(BaseModel):
    request_id: str
    state: str
    waiting_for: list[str]
    items: list[RecipientOut]


@router.get("/{request_id}/recipients", summary="Each recipient's action, confirmation and its time (Art. 19)")
def recipients(ctx: Ctx, request_id: str) -> RecipientList:
    view = rights.show_request(ctx, request_id)
    items = [RecipientOut.of(v) for v in view.recipients]
    waiting = [i.recipient for i in items if i.state in ("pending", "dead")]
    return RecipientList(request_id=request_id, state=view.request.state.value, waiting_for=waiting, items=items)
