"""/api/v1/subjects: the customer register: look-ups and the list, add, show, update, and a CSV import."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from personvern.api.bodies import NOT_A_FORM, TOO_LARGE, read_form
from personvern.api.consents import BlockOut, ConsentStateOut
from personvern.api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, after, offset_of
from personvern.api.relationships import RelationshipOut
from personvern.api.security import Ctx
from personvern.domain.columns import parse_map
from personvern.domain.csvfile import read_rows
from personvern.domain.errors import NotFound, invalid
from personvern.domain.subjects import Subject
from personvern.services import register
from personvern.services.register import Imported, SubjectView

router = APIRouter(prefix="/subjects", tags=["subjects"])

MAX_IMPORT_BYTES = 10 * 1024 * 1024  # about 100 000 rows: an import holds one transaction while it runs
UPLOADED = "the uploaded file"  # never the file's own name in an answer: a name may say who is in it

FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Value = Annotated[str, StringConstraints(max_length=1000)]
Reason = Annotated[str, StringConstraints(max_length=500)]
Values = Annotated[dict[FieldName, Value], Field(max_length=50, description="field: value, as the policy names them")]
Reasons = Annotated[
    dict[FieldName, Reason], Field(max_length=50, description="field: why a 'when needed' field is needed")
]
SubjectId = Annotated[str, Path(min_length=1, max_length=64, description="the subject's id")]
Purpose = Annotated[
    str | None, Query(max_length=40, description="why you look (recorded in the audit log; default service)")
]
REASONS = TypeAdapter(dict[FieldName, Reason])


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=40, description="one_time_customer, contract_customer, …")
    values: Values
    reasons: Reasons = Field(default_factory=dict)
    source: str = Field("data_subject", min_length=1, max_length=100, description="where the data came from")
    received_at: AwareDatetime | None = Field(None, description="when the data was received (default: now)")


class SubjectChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: Values = Field(default_factory=dict)
    unset: list[FieldName] = Field(default_factory=list, max_length=50, description="fields to remove")
    reasons: Reasons = Field(default_factory=dict)


class SubjectOut(BaseModel):
    id: str
    kind: str
    values: dict[str, str]  # the fields the caller's role may see, in the policy's order
    source: str
    received_at: datetime
    created_at: datetime
    updated_at: datetime
    organisation_id: str | None
    relationships: list[RelationshipOut]
    # For roles that may read the consent ledger (and not in lists): the state per purpose and channel,
    # and the objections and restriction in force.
    consent: list[ConsentStateOut] | None = None
    blocks: list[BlockOut] | None = None

    @classmethod
    def of(cls, view: SubjectView) -> SubjectOut:
        s = view.subject
        return cls(
            id=s.id,
            kind=s.kind,
            values=view.values,
            source=s.source,
            received_at=s.received_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
            organisation_id=s.organisation_id,
            relationships=[RelationshipOut.of(r) for r in view.relationships],
            consent=ConsentStateOut.all(view.consents) if view.consents is not None else None,
            blocks=[BlockOut.of(b) for b in view.blocks] if view.blocks is not None else None,
        )


class SubjectsOut(Page):
    total: int  # every subject the filters match
    items: list[SubjectOut]


class StoredOut(BaseModel):
    """What was stored, by field name: the values themselves are not echoed back."""

    id: str
    kind: str
    fields: list[str]
    source: str
    received_at: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Subject) -> StoredOut:
        return cls(
            id=s.id,
            kind=s.kind,
            fields=sorted(s.values),
            source=s.source,
            received_at=s.received_at,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class ImportedOut(BaseModel):
    """What an import stored (or, with `check`, would store), with the history it brought (issue 16)."""

    imported: int = Field(description="Subjects stored: 0 for a check.")
    would_import: int = Field(description="Subjects in the file, all valid.")
    stored: bool = Field(description="False: a check (dry run); nothing was stored.")
    kind: str
    orders: int
    contracts: int
    consents: dict[str, int] = Field(description="Consents to marketing brought in, per channel.")
    hubspot_shares: int = Field(description="Shares with HubSpot queued for consents to marketing by email.")
    due_at_once: int = Field(description="Of them, due for archiving or erasure on the day of the import.")
    in_register: int = Field(description="Subjects in the register after the import.")
    register_due: int = Field(description="Of the register, due today.")
    worker_may_do: int = Field(description="The most the worker's nightly sweep archives or erases on its own.")
    worker_waits: bool = Field(description="True: the nightly sweep will wait for the CEO to run retention.")

    @classmethod
    def of(cls, r: Imported) -> ImportedOut:
        return cls(
            imported=r.subjects if r.stored else 0,
            would_import=r.subjects,
            stored=r.stored,
            kind=r.kind,
            orders=r.orders,
            contracts=r.contracts,
            consents=dict(r.consents),
            hubspot_shares=r.shared,
            due_at_once=r.due,
            in_register=r.register,
            register_due=r.register_due,
            worker_may_do=r.allowed,
            worker_waits=r.worker_waits,
        )


@router.get(
    "",
    summary="Subjects, oldest first, by kind, organisation number or name; or the one with an email or phone",
)
def list_subjects(
    ctx: Ctx,
    email: Annotated[str | None, Query(max_length=320, description="the one subject with this email")] = None,
    phone: Annotated[str | None, Query(max_length=40, description="the one subject with this phone number")] = None,
    organisation: Annotated[str | None, Query(max_length=20, description="only this organisation number")] = None,
    name: Annotated[
        str | None, Query(max_length=200, description="only people with this full name (any case, accents)")
    ] = None,
    kind: Annotated[str | None, Query(max_length=40, description="only this kind")] = None,
    purpose: Purpose = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> SubjectsOut:
    offset = offset_of(cursor)
    if email is not None or phone is not None:
        if organisation is not None or name is not None or kind is not None:
            given = "email" if email is not None else "phone"
            raise invalid(given, "finds one person: give it without organisation, name or kind")
        try:
            found = [register.show_subject(ctx, email=email, phone=phone, purpose=purpose)]
        except NotFound:
            found = []  # a look-up in a list: nobody has it, so the list is empty
        items = found if offset == 0 else []
        return SubjectsOut(total=len(found), items=[SubjectOut.of(v) for v in items])
    total, views = register.list_subjects(ctx, kind, organisation, limit, offset, purpose, name)
    return SubjectsOut(
        total=total,
        items=[SubjectOut.of(v) for v in views],
        next_cursor=after(offset, len(views), offset + len(views) < total),
    )


@router.post("", status_code=201, summary="Add a subject; only fields the policy declares for the kind are accepted")
def add_subject(ctx: Ctx, body: SubjectIn, request: Request, response: Response) -> StoredOut:
    subject = register.add_subject(ctx, body.kind, body.values, body.reasons, body.source, body.received_at)
    response.headers["Location"] = str(request.url_for("show_subject", subject_id=subject.id))
    return StoredOut.of(subject)


@router.get("/{subject_id}", summary="One subject in the live register: values, relationships, consent and blocks")
def show_subject(ctx: Ctx, subject_id: SubjectId, purpose: Purpose = None) -> SubjectOut:
    return SubjectOut.of(register.show_subject(ctx, subject_id, purpose=purpose))


@router.patch("/{subject_id}", summary="Change or remove values, through the same validation as adding")
def update_subject(ctx: Ctx, subject_id: SubjectId, body: SubjectChangeIn) -> StoredOut:
    return StoredOut.of(register.update_subject(ctx, subject_id, body.values, list(body.unset), body.reasons))


@dataclass(frozen=True)
class ImportForm:
    data: bytes
    kind: str
    reasons: dict[str, str]
    source: str
    columns: str | None  # a column map (TOML) from another system's export to the policy's fields
    check: bool  # a dry run: everything checked, nothing stored


FORM_FIELDS = ("file", "kind", "reasons", "source", "columns", "check")
MAX_COLUMN_MAP = 50_000


def _text(form: Any, name: str, default: str | None, longest: int) -> str:
    value = form.get(name, default)
    if value is None:
        raise invalid(name, "is required")
    if not isinstance(value, str) or not value.strip():
        raise invalid(name, "must be text, not empty")
    if len(value) > longest:
        raise invalid(name, f"must be at most {longest} characters")
    return value


async def import_form(request: Request) -> ImportForm:
    """The upload: `file` (CSV, UTF-8), `kind`, and optionally `reasons` (a JSON object) and `source`."""
    form = await read_form(request, MAX_IMPORT_BYTES)
    try:
        unknown = sorted(set(form.keys()) - set(FORM_FIELDS))
        if unknown:
            raise invalid(unknown[0], f"is not a field of this form (fields: {', '.join(FORM_FIELDS)})")
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise invalid("file", "is required: the CSV file, sent as the form's `file` field")
        data = await upload.read()
    finally:
        await form.close()
    kind = _text(form, "kind", None, 40)
    source = _text(form, "source", "import", 100)
    raw = _text(form, "reasons", "{}", 20_000)
    try:
        reasons = REASONS.validate_json(raw)
    except ValidationError:
        raise invalid(
            "reasons", 'must be a JSON object of field: reason, e.g. {"postal_address": "deliveries"}'
        ) from None
    check = _text(form, "check", "false", 5).strip().lower()
    if check not in ("true", "false"):
        raise invalid("check", "must be true or false")
    columns = form.get("columns")
    if columns is not None:
        columns = _text(form, "columns", None, MAX_COLUMN_MAP)
    return ImportForm(data, kind, reasons, source, columns, check == "true")


IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "kind"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV; its header names the fields",
                        },
                        "kind": {"type": "string", "description": "the kind of every row"},
                        "reasons": {"type": "string", "description": "JSON object: field -> why it is needed"},
                        "source": {"type": "string", "description": "where the data came from (default import)"},
                        "columns": {
                            "type": "string",
                            "description": "a column map (TOML, as examples/hubspot-columns.toml) from another "
                            "system's export to the policy's fields",
                        },
                        "check": {
                            "type": "string",
                            "enum": ["true", "false"],
                            "description": "true: a dry run; every row checked, nothing stored (answered 200)",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/import",
    status_code=201,
    summary="Import a CSV file: every row or none; each bad row is named by its line and field",
    responses={
        200: {"model": ImportedOut, "description": "Checked (`check=true`): what would be stored; nothing was"},
        **TOO_LARGE,
        **NOT_A_FORM,
    },
    openapi_extra=IMPORT_BODY,
)
def import_subjects(ctx: Ctx, form: Annotated[ImportForm, Depends(import_form)], response: Response) -> ImportedOut:
    try:
        text = form.data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("file", f"{UPLOADED} is not UTF-8 text") from None
    header, rows = read_rows(io.StringIO(text, newline=""), UPLOADED)
    if form.columns is not None:
        header, rows = parse_map(form.columns, "columns").apply(header, rows, "the column map")
    result = register.import_rows(ctx, form.kind, rows, form.reasons, form.source, None, header, check=form.check)
    if form.check:
        response.status_code = 200  # nothing was created
    return ImportedOut.of(result)
