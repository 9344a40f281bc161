"""A fake HubSpot CRM API in the documented shapes: an httpx.MockTransport handler, or a server on 127.0.0.1.

Every request needs `Authorization: Bearer TOKEN` (else `401 INVALID_AUTHENTICATION`). Contacts live in a dict:
`POST /crm/v3/objects/contacts/search` (filterGroups, `email` EQ, case-insensitive), `POST /crm/v3/objects/contacts`
(201; `409 CONFLICT` "Contact already exists. Existing ID: N"), `GET` and `PATCH /crm/v3/objects/contacts/{id}`
(`404 OBJECT_NOT_FOUND`), `POST /crm/v3/objects/contacts/gdpr-delete` (204; an unknown email is blocked, an
unknown id is 404), `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL` (200).
Unknown properties and `hs_legal_basis` options outside HubSpot's list are `400 VALIDATION_ERROR`. Tests script
other answers (429 with rate-limit headers, 5xx …) with `then(...)`, hide new contacts from search (its index
lags) with `search_lag`, and add headers to every answer with `headers`. The search also pages through every
contact as a reconciliation reads them: no filter (or `hs_object_id` GT an id), sorted by `hs_object_id`, `limit`
at most 200, `paging.next.after` an offset, and `after` of `search_cap` (10 000) or more refused (400).
`on_request(index, method, path, body)` is called before each authorised request is answered (to hold one).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tests.fakes_http import QuietHandler, on_loopback

TOKEN = "pat-eu1-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ENV = {"PERSONVERN_HUBSPOT_TOKEN": TOKEN}  # PERSONVERN_HUBSPOT_URL is added by the caller

CONTACTS = "/crm/v3/objects/contacts"
PROPERTIES = {
    "email",
    "firstname",
    "lastname",
    "phone",
    "mobilephone",
    "company",
    "jobtitle",
    "address",
    "hs_legal_basis",
}
LEGAL_BASES = {
    "Legitimate interest – prospect/lead",
    "Legitimate interest – existing customer",
    "Performance of a contract",
    "Freely given consent from contact",
    "Not applicable",
}
STAMP = "2026-11-25T12:00:00.000Z"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON; None with 204 means no body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body that is not JSON


def _error(status: int, category: str, message: str, **extra: Any) -> Reply:
    body = {"status": "error", "message": message, "correlationId": "3f1c2a9e-7b6d-4e5f-8a9b-0c1d2e3f4a5b"}
    return Reply(status, body | {"category": category} | extra)


def _not_found() -> Reply:
    return _error(404, "OBJECT_NOT_FOUND", "resource not found")


@dataclass
class FakeHubSpot:
    token: str = TOKEN
    contacts: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> properties
    blocked: set[str] = field(default_factory=set)  # emails gdpr-deleted: HubSpot's block list
    deleted: list[str] = field(default_factory=list)  # ids gdpr-deleted
    unsubscribed: list[str] = field(default_factory=list)  # emails unsubscribed from all email
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every authorised request
    bodies: list[Any] = field(default_factory=list)  # their JSON bodies
    script: list[Reply] = field(default_factory=list)  # answers for the next authorised requests
    custom_properties: set[str] = field(default_factory=set)  # properties the account created itself
    headers: dict[str, str] = field(default_factory=dict)  # added to every answer (rate-limit headers)
    search_lag: bool = False  # contacts created from now on are not found by search (its index lags)
    unindexed: set[str] = field(default_factory=set)
    next_id: int = 1001
    search_cap: int = 10_000
    on_request: Callable[[int, str, str, Any], None] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)

    def then(self, *replies: Reply) -> FakeHubSpot:
        self.script.extend(replies)
        return self

    def by_email(self, email: str) -> tuple[str, dict[str, str]] | None:
        for cid, props in self.contacts.items():
            if props.get("email", "").lower() == email.lower():
                return cid, props
        return None

    def add(self, **props: str) -> str:
        """A contact HubSpot already holds (entered there by hand, say); returns its id."""
        with self.lock:
            cid = str(self.next_id)
            self.next_id += 1
            self.contacts[cid] = dict(props)
            return cid

    # -- the API
    def answer(self, method: str, target: str, authorization: str | None, body: bytes) -> Reply:
        reply = self._answer(method, target, authorization, body)
        reply.headers = self.headers | reply.headers
        return reply

    def _answer(self, method: str, target: str, authorization: str | None, body: bytes) -> Reply:
        if authorization != f"Bearer {self.token}":
            return _error(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.")
        url = urlsplit(target)
        path, query = url.path, parse_qs(url.query)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            return _error(400, "VALIDATION_ERROR", "Invalid input JSON")
        if self.on_request is not None:
            self.on_request(len(self.requests), method, path, data)  # outside the lock: it may wait
        with self.lock:
            self.requests.append((method, path))
            self.bodies.append(data)
            if self.script:
                return self.script.pop(0)
            return self._route(method, path, query, data)

    def _route(self, method: str, path: str, query: dict[str, list[str]], data: Any) -> Reply:
        if method == "POST" and path == f"{CONTACTS}/search":
            return self._search(data)
        if method == "POST" and path == f"{CONTACTS}/gdpr-delete":
            return self._gdpr_delete(data)
        if method == "POST" and path == CONTACTS:
            return self._create(data)
        if path.startswith(f"{CONTACTS}/") and path.count("/") == 5:
            cid = path.rsplit("/", 1)[1]
            if method == "GET":
                return self._get(cid, query)
            if method == "PATCH":
                return self._patch(cid, data)
        prefix, suffix = "/communication-preferences/v4/statuses/", "/unsubscribe-all"
        if method == "POST" and path.startswith(prefix) and path.endswith(suffix):
            return self._unsubscribe_all(unquote(path[len(prefix) : -len(suffix)]), query)
        return _error(404, "NOT_FOUND", f"no route for {method} {path}")

    def _view(self, cid: str, wanted: list[str] | None = None) -> dict[str, Any]:
        props = self.contacts[cid]
        shown = props if wanted is None else {k: props.get(k) for k in wanted}
        return {
            "id": cid,
            "properties": shown | {"hs_object_id": cid},
            "createdAt": STAMP,
            "updatedAt": STAMP,
            "archived": False,
        }

    def _check(self, props: Any) -> Reply | None:
        if not isinstance(props, dict) or not all(isinstance(v, str) for v in props.values()):
            return _error(400, "VALIDATION_ERROR", "properties must be an object of strings")
        unknown = sorted(set(props) - PROPERTIES - self.custom_properties)
        if unknown:
            return _error(
                400,
                "VALIDATION_ERROR",
                f"Property values were not valid: {unknown}",
                errors=[{"code": "PROPERTY_DOESNT_EXIST", "context": {"propertyName": unknown}}],
            )
        basis = props.get("hs_legal_basis")
        if basis and any(option not in LEGAL_BASES for option in basis.split(";")):
            return _error(
                400,
                "VALIDATION_ERROR",
                f"Property values were not valid: {basis!r} is not an allowed option",
                errors=[{"code": "INVALID_OPTION", "context": {"propertyName": ["hs_legal_basis"]}}],
            )
        email = props.get("email")
        if email is not None and "@" not in email:
            return _error(
                400, "VALIDATION_ERROR", f"Email address {email} is invalid", errors=[{"code": "INVALID_EMAIL"}]
            )
        return None

    def _matches(self, cid: str, props: dict[str, str], f: dict[str, Any]) -> bool:
        name, operator, value = f.get("propertyName"), f.get("operator"), str(f.get("value"))
        held = cid if name == "hs_object_id" else str(props.get(str(name), ""))
        if operator == "EQ":
            return held.lower() == value.lower()
        if operator == "GT" and name == "hs_object_id":
            return int(held) > int(value)
        return False

    def _search(self, data: Any) -> Reply:
        try:
            groups = data["filterGroups"]
            wanted = data.get("properties") or ["email", "firstname", "lastname"]
            limit = int(data.get("limit", 10))
            after = int(data.get("after") or 0)
        except (KeyError, TypeError, ValueError, AttributeError):
            return _error(400, "VALIDATION_ERROR", "filterGroups is required")
        if not 1 <= limit <= 200:
            return _error(400, "VALIDATION_ERROR", "limit must be at most 200")
        if after >= self.search_cap:
            return _error(400, "VALIDATION_ERROR", f"paging past {self.search_cap} results is not supported")
        found = []
        for cid, props in sorted(self.contacts.items(), key=lambda item: int(item[0])):
            if cid in self.unindexed:
                continue
            if not groups or any(all(self._matches(cid, props, f) for f in g.get("filters", [])) for g in groups):
                found.append(cid)
        page = found[after : after + limit]
        body: dict[str, Any] = {"total": len(found), "results": [self._view(cid, wanted) for cid in page]}
        if after + limit < len(found):
            body["paging"] = {"next": {"after": str(after + limit), "link": "?after=" + str(after + limit)}}
        return Reply(200, body)

    def _create(self, data: Any) -> Reply:
        props = data.get("properties") if isinstance(data, dict) else None
        refused = self._check(props)
        if refused:
            return refused
        assert isinstance(props, dict)
        held = self.by_email(props.get("email", "")) if props.get("email") else None
        if held is not None:
            return _error(409, "CONFLICT", f"Contact already exists. Existing ID: {held[0]}")
        cid = self.add(**{k: v for k, v in props.items() if v != ""})
        if self.search_lag:
            self.unindexed.add(cid)
        return Reply(201, self._view(cid))

    def _get(self, cid: str, query: dict[str, list[str]]) -> Reply:
        if cid not in self.contacts:
            return _not_found()
        wanted = ",".join(query.get("properties", [])).split(",") if query.get("properties") else None
        return Reply(200, self._view(cid, [w for w in wanted if w] if wanted else None))

    def _patch(self, cid: str, data: Any) -> Reply:
        if cid not in self.contacts:
            return _not_found()
        props = data.get("properties") if isinstance(data, dict) else None
        refused = self._check(props)
        if refused:
            return refused
        assert isinstance(props, dict)
        email = props.get("email")
        if email:
            held = self.by_email(email)
            if held is not None and held[0] != cid:
                return _error(409, "CONFLICT", f"A contact with the email {email} already exists")
        for name, value in props.items():
            if value == "":
                self.contacts[cid].pop(name, None)  # an empty value clears the property
            else:
                self.contacts[cid][name] = value
        return Reply(200, self._view(cid))

    def _gdpr_delete(self, data: Any) -> Reply:
        if not isinstance(data, dict) or not isinstance(data.get("objectId"), str):
            return _error(400, "VALIDATION_ERROR", "objectId is required")
        object_id, by = data["objectId"], data.get("idProperty")
        if by == "email":
            held = self.by_email(object_id)
            if held is not None:
                del self.contacts[held[0]]
                self.deleted.append(held[0])
            self.blocked.add(object_id.lower())  # known or not: the address may not come back
            return Reply(204)
        if by is not None:
            return _error(400, "VALIDATION_ERROR", f"idProperty {by} is not a unique property")
        if object_id not in self.contacts:
            return _not_found()
        props = self.contacts.pop(object_id)
        self.deleted.append(object_id)
        if props.get("email"):
            self.blocked.add(props["email"].lower())
        return Reply(204)

    def _unsubscribe_all(self, email: str, query: dict[str, list[str]]) -> Reply:
        if query.get("channel") != ["EMAIL"]:
            return _error(400, "VALIDATION_ERROR", "channel must be EMAIL")
        self.unsubscribed.append(email)
        result = {
            "channel": "EMAIL",
            "status": "UNSUBSCRIBED",
            "subscriberIdString": email,
            "subscriptionId": 0,
            "timestamp": STAMP,
            "wideStatusType": "PORTAL_WIDE",
        }
        body = {
            "status": "COMPLETE",
            "results": [result],
            "requestedAt": STAMP,
            "startedAt": STAMP,
            "completedAt": STAMP,
        }
        return Reply(200, body)

    # -- as an httpx transport (unit tests)
    def handler(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode("ascii")
        reply = self.answer(request.method, target, request.headers.get("authorization"), request.content)
        return httpx.Response(reply.status, headers=reply.headers, content=_content(reply))

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    # -- as a real server on 127.0.0.1 (end-to-end tests)
    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a free port of 127.0.0.1 in a thread; yields the base URL."""
        fake = self

        class Handler(QuietHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                reply = fake.answer(self.command, self.path, self.headers.get("Authorization"), body)
                content = _content(reply)
                self.reply(reply.status, content, reply.headers, "application/json;charset=utf-8" if content else None)

            do_GET = do_POST = do_PATCH = _any

        with on_loopback(Handler) as url:
            yield url


def _content(reply: Reply) -> bytes:
    if reply.raw is not None:
        return reply.raw
    if reply.body is None:
        return b""
    return json.dumps(reply.body, ensure_ascii=False).encode()


@contextmanager
def pointed_at(fake: FakeHubSpot, monkeypatch: Any) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 and set PERSONVERN_HUBSPOT_URL and _TOKEN to reach it; yields its URL."""
    with fake.serve() as url:
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PERSONVERN_HUBSPOT_URL", url)
        yield url
