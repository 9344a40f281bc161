"""A fake LINK Mobility SMS API in the documented shapes: an httpx.MockTransport handler, or a server on 127.0.0.1.

`POST /send` with HTTP Basic auth and a JSON body (source, destination, userData, platformId,
platformPartnerId, refId, …) answers `200 {"messageId", "resultCode": 1005, "description": "Queued"}`;
bad credentials `401 {"resultCode": 106100}`, a wrong platform id `400 {"resultCode": 106200}`, a wrong
partner id `400 {"resultCode": 106201}`, a malformed request `400 {"resultCode": 106000}`. Tests script
other answers (503 with Retry-After, throttling …) with `then(...)`, or hold a request with `on_request`.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fakes_http import QuietHandler, on_loopback

USER = "24center"
PASSWORD = "s3cret"
PLATFORM_ID = "COMMON_API"
PARTNER_ID = "4711"
SENDER = "Center24"  # starts with a letter, as LINK requires of an alphanumeric sender
GATE = "gate-1"

# The settings a worker needs to reach the fake; PERSONVERN_LINKMOBILITY_URL is added by the caller.
ENV = {
    "PERSONVERN_LINKMOBILITY_USER": USER,
    "PERSONVERN_LINKMOBILITY_PASSWORD": PASSWORD,
    "PERSONVERN_LINKMOBILITY_PLATFORM_ID": PLATFORM_ID,
    "PERSONVERN_LINKMOBILITY_PARTNER_ID": PARTNER_ID,
    "PERSONVERN_LINKMOBILITY_SENDER": SENDER,
    "PERSONVERN_LINKMOBILITY_GATE": GATE,
}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON; None: the default accepted answer
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body that is not JSON

    def content(self) -> bytes:
        """The body as sent: `raw`, or the JSON of `body`."""
        return self.raw if self.raw is not None else json.dumps(self.body).encode()


@dataclass
class FakeLink:
    user: str = USER
    password: str = PASSWORD
    platform_id: str = PLATFORM_ID
    partner_id: str = PARTNER_ID
    received: list[dict[str, Any]] = field(default_factory=list)  # every well-formed, authorised request
    accepted: list[str] = field(default_factory=list)  # the refId of every request answered 200 and queued
    script: list[Reply] = field(default_factory=list)  # answers for the next requests, before the default
    on_request: Callable[[int, dict[str, Any]], None] | None = None  # called before answering (may block)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def then(self, *replies: Reply) -> FakeLink:
        self.script.extend(replies)
        return self

    def accepted_counts(self) -> Counter[str]:
        return Counter(self.accepted)

    # -- the API
    def answer(self, method: str, path: str, authorization: str | None, body: bytes) -> Reply:
        if method != "POST" or not path.rstrip("/").endswith("/send"):
            return Reply(404, {"resultCode": 106000, "description": "Not found"})
        expected = "Basic " + base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if authorization != expected:
            return Reply(401, {"resultCode": 106100, "description": "Authentication failed"})
        try:
            data = json.loads(body)
        except ValueError:
            return Reply(400, {"resultCode": 106000, "description": "Malformed JSON"})
        required = ("source", "destination", "userData", "platformId", "platformPartnerId")
        if not isinstance(data, dict) or any(not data.get(k) for k in required):
            return Reply(400, {"resultCode": 106000, "description": "Missing field"})
        if not str(data["destination"]).startswith("+"):
            return Reply(400, {"resultCode": 106000, "description": "Destination must be E.164"})
        if data["platformId"] != self.platform_id:
            return Reply(400, {"resultCode": 106200, "description": "Invalid platformId"})
        if data["platformPartnerId"] != self.partner_id:
            return Reply(400, {"resultCode": 106201, "description": "Invalid platformPartnerId"})
        with self.lock:
            self.received.append(data)
            index = len(self.received) - 1
            scripted = self.script.pop(0) if self.script else None
        if self.on_request is not None:
            self.on_request(index, data)
        reply = scripted or Reply()
        if reply.status == 200 and reply.body is None and reply.raw is None:
            with self.lock:
                self.accepted.append(data.get("refId"))
                number = len(self.accepted)
            return Reply(200, {"messageId": f"lm-{number:06d}", "resultCode": 1005, "description": "Queued"})
        if reply.status == 200 and isinstance(reply.body, dict) and reply.body.get("resultCode") in {1000, 1005}:
            with self.lock:
                self.accepted.append(data.get("refId"))
        return reply

    # -- as an httpx transport (unit tests)
    def handler(self, request: httpx.Request) -> httpx.Response:
        reply = self.answer(request.method, request.url.path, request.headers.get("authorization"), request.content)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.content())

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    # -- as a real server on 127.0.0.1 (end-to-end tests)
    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on a free port of 127.0.0.1 in a thread; yields the base URL (…/sms)."""
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                reply = fake.answer("POST", self.path, self.headers.get("Authorization"), body)
                self.reply(reply.status, reply.content(), reply.headers)

        with on_loopback(Handler, "/sms") as url:
            yield url


@contextmanager
def pointed_at(fake: FakeLink, monkeypatch: Any) -> Iterator[str]:
    """Serve `fake` on 127.0.0.1 and set the PERSONVERN_LINKMOBILITY_* variables to reach it; yields its URL."""
    with fake.serve() as url:
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PERSONVERN_LINKMOBILITY_URL", url)
        yield url
