"""LINK Mobility's SMS REST API ("MT and Delivery Reports", v1.18): one `POST {base}/send` per outbox row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from personvern.connectors import retry_after as retry_after_header
from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.domain.outbox import OutboxRow
from personvern.domain.sms import MessageStatus, result_code

DEFAULT_URL = "https://wsx.sp247.net/sms"
THROTTLED = 3
# An alphanumeric sender is 2-11 letters and digits with at least one letter ("24Center"); all digits is a number.
ALPHANUMERIC_SENDER = re.compile(r"(?=[0-9]*[A-Za-z])[A-Za-z0-9]{2,11}")
NUMERIC_SENDER = re.compile(r"\+?[0-9]{3,15}")

# The 4xx codes LINK Mobility documents, each with the setting that is wrong.
REFUSALS = {
    106000: "LINK Mobility refused the request (unknown error)",
    106100: "LINK Mobility refused the credentials: check PERSONVERN_LINKMOBILITY_USER and "
    "PERSONVERN_LINKMOBILITY_PASSWORD",
    106101: "LINK Mobility refused access for these credentials: check PERSONVERN_LINKMOBILITY_USER and "
    "PERSONVERN_LINKMOBILITY_PASSWORD",
    106200: "LINK Mobility refused the platform id: check PERSONVERN_LINKMOBILITY_PLATFORM_ID",
    106201: "LINK Mobility refused the platform partner id: check PERSONVERN_LINKMOBILITY_PARTNER_ID",
    106300: "LINK Mobility refused the delivery report gate: check PERSONVERN_LINKMOBILITY_GATE",
    106301: "LINK Mobility refused the delivery report gate: check PERSONVERN_LINKMOBILITY_GATE",
}


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class LinkMobilityConfig:
    """The account: base URL, Basic-auth user and password, platform ids, sender and (optional) report gate."""

    url: str = DEFAULT_URL
    user: str | None = None
    password: str | None = None
    platform_id: str | None = None
    partner_id: str | None = None
    sender: str | None = None
    gate: str | None = None

    def missing(self) -> list[str]:
        required = (
            ("PERSONVERN_LINKMOBILITY_USER", self.user),
            ("PERSONVERN_LINKMOBILITY_PASSWORD", self.password),
            ("PERSONVERN_LINKMOBILITY_PLATFORM_ID", self.platform_id),
            ("PERSONVERN_LINKMOBILITY_PARTNER_ID", self.partner_id),
            ("PERSONVERN_LINKMOBILITY_SENDER", self.sender),
        )
        missing = [name for name, value in required if not value]
        if self.sender and not (ALPHANUMERIC_SENDER.fullmatch(self.sender) or NUMERIC_SENDER.fullmatch(self.sender)):
            missing.append(
                "PERSONVERN_LINKMOBILITY_SENDER to 2-11 letters and digits with at least one letter, or a phone number"
            )
        return missing

    def source_ton(self) -> str:
        return "ALPHANUMERIC" if self.sender and ALPHANUMERIC_SENDER.fullmatch(self.sender) else "MSISDN"


def _quiet(text: Any, limit: int = 120) -> str:
    """A receiver's free text, made safe for `last_error`: runs of digits (a phone number echoed back) masked."""
    return re.sub(r"\+?\d[\d ]{4,}\d", "…", str(text))[:limit]


class LinkMobility:
    kind = "sms"

    def __init__(self, client: httpx.Client, config: LinkMobilityConfig, clock: Clock) -> None:
        self._client = client
        self._config = config
        self._clock = clock

    def request_body(self, row: OutboxRow) -> dict[str, Any]:
        c = self._config
        personal = row.personal or {}
        body: dict[str, Any] = {
            "source": c.sender,
            "sourceTON": c.source_ton(),
            "destination": personal.get("destination"),
            "userData": personal.get("text"),
            "platformId": c.platform_id,
            "platformPartnerId": c.partner_id,
            "refId": row.id,  # the idempotency key: the same row always goes out with the same refId
            "useDeliveryReport": bool(c.gate),  # the API wants false when there is no gate to report to
            "ignoreResponse": False,  # otherwise the answer has no messageId
        }
        if c.gate:
            body["deliveryReportGates"] = [c.gate]
        return body

    def deliver(self, row: OutboxRow) -> dict[str, Any]:
        missing = self._config.missing()
        if missing:
            raise WaitingForCredentials(missing)
        if not row.personal or not row.personal.get("destination") or not row.personal.get("text"):
            raise PermanentFailure("the row holds no destination or text")
        url = self._config.url.rstrip("/") + "/send"
        auth = (self._config.user or "", self._config.password or "")
        try:
            response = self._client.post(url, json=self.request_body(row), auth=auth)
        except httpx.TimeoutException:
            raise TemporaryFailure("LINK Mobility did not answer in time") from None
        except httpx.TransportError as exc:
            raise TemporaryFailure(f"cannot reach LINK Mobility ({type(exc).__name__})") from None
        return self._interpret(response)

    def _interpret(self, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        body = _json(response)
        code = _code(body)
        retry_after = retry_after_header(response.headers.get("Retry-After"), self._clock.now())
        if 200 <= status < 300:
            if code == THROTTLED:
                raise TemporaryFailure("LINK Mobility is throttling (result code 3)", retry_after)
            if code is not None and result_code(code).status in {MessageStatus.FAILED, MessageStatus.UNKNOWN}:
                raise PermanentFailure(f"LINK Mobility refused the message: {result_code(code).meaning} ({code})")
            message_id = body.get("messageId")
            return {
                "messageId": None if message_id is None else str(message_id)[:64],
                "resultCode": code,
                "description": None if body.get("description") is None else _quiet(body["description"]),
            }
        where = f"HTTP {status}" + (f", code {code}" if code is not None else "")
        if status in {408, 429} or status >= 500:
            raise TemporaryFailure(f"LINK Mobility answered {where}", retry_after)
        if 400 <= status < 500:
            reason = REFUSALS.get(code or 0)
            if reason is None and status in {401, 403}:
                reason = REFUSALS[106100]
            if reason is None:
                described = f": {_quiet(body['description'])}" if body.get("description") else ""
                reason = f"LINK Mobility refused the request{described}"
            raise PermanentFailure(f"{reason} ({where})")
        raise PermanentFailure(f"LINK Mobility answered {where}: check PERSONVERN_LINKMOBILITY_URL")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, a number of over 4 300 digits, too deep
        return {}
    return data if isinstance(data, dict) else {}


def _code(body: dict[str, Any]) -> int | None:
    raw = body.get("resultCode", body.get("errorCode"))
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdecimal() and len(raw.strip()) < 10:
        return int(raw)
    return None
