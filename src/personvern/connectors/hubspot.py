"""HubSpot's CRM API for a private app: contacts upserted by email, unsubscribed from all email, erased by gdpr-delete.

HubSpot is a processor (Art. 28): it receives only the fields the policy's `recipients.hubspot.fields` declare,
and is told of every rectification and erasure (Art. 17(2), 19). One `HubSpot` object delivers three kinds of
outbox row:

- `hubspot.upsert`: find the contact (by the HubSpot id we were given before, else by email), PATCH it, or
  create it. A row marked `update_only` (a rectification) never creates a contact HubSpot no longer holds.
- `hubspot.unsubscribe`: communication preferences v4 "unsubscribe from all" email (consent withdrawn, objection).
- `hubspot.delete`: `gdpr-delete` by every HubSpot id we know and by email. An email HubSpot does not know is
  put on its block list and answered 204 as well, so the row is idempotent.

Throttling is read from HubSpot's answers, never assumed: `Retry-After`, else the `X-HubSpot-RateLimit-*`
headers. When they say a window is used up, the rows after it wait for the window instead of spending requests
on certain 429s (HubSpot counts error answers against an app).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn, Protocol
from urllib.parse import quote

import httpx

from personvern.connectors import retry_after as retry_after_header
from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.domain.outbox import OutboxRow

DEFAULT_URL = "https://api.hubapi.com"
UPSERT = "hubspot.upsert"
UNSUBSCRIBE = "hubspot.unsubscribe"
DELETE = "hubspot.delete"
KINDS = (UPSERT, UNSUBSCRIBE, DELETE)

CONTACTS = "/crm/v3/objects/contacts"
UNSUBSCRIBE_ALL = "/communication-preferences/v4/statuses/{email}/unsubscribe-all"

# HubSpot's headers say when a per-app window resets, but not when the account's day does (midnight in the
# account's own time zone): a used-up daily limit is looked at again after this long.
DAILY_WAIT = 3600.0

# Our field -> HubSpot's default contact properties (full_name is split into firstname and lastname).
PROPERTIES: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "phone": ("phone", "mobilephone"),  # the policy's phone is a mobile number (SMS go to it)
    "organisation_name": ("company",),
    "role": ("jobtitle",),
    "postal_address": ("address",),
}
NAME = "full_name"
PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")

# Art. 6(1) points -> the options of HubSpot's multi-select `hs_legal_basis` (values separated by ";").
LEGAL_BASIS = {
    "6(1)(a)": "Freely given consent from contact",
    "6(1)(b)": "Performance of a contract",
    "6(1)(f)": "Legitimate interest – existing customer",
}
NOT_APPLICABLE = "Not applicable"

# Lower-case words that belong to the family name that follows them: "Jan van der Berg" -> "Jan", "van der Berg".
PARTICLES = frozenset(
    {"af", "av", "da", "de", "del", "den", "der", "di", "dos", "du", "la", "le", "ten", "ter", "van", "von"}
)

EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")
HUBSPOT_ID = re.compile(r"\d{1,30}")


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class HubSpotConfig:
    """The account: the API's base URL and a private app's access token (sent as a Bearer token)."""

    url: str = DEFAULT_URL
    token: str | None = None
    # The contact property (created in the HubSpot account) that holds the person's own consent link, for the
    # marketing e-mail templates to show (Art. 7(3): withdrawing as easy as giving). None: no link is sent.
    consent_property: str | None = None

    def missing(self) -> list[str]:
        if not self.token:
            return ["PERSONVERN_HUBSPOT_TOKEN"]
        if any(ch.isspace() or not ch.isprintable() for ch in self.token):
            return ["PERSONVERN_HUBSPOT_TOKEN to the private app's access token (this one holds spaces)"]
        if self.consent_property is not None and not PROPERTY_NAME.fullmatch(self.consent_property):
            return ["PERSONVERN_HUBSPOT_CONSENT_PROPERTY to a HubSpot property's internal name (a-z, 0-9, _)"]
        return []


def split_name(full_name: str) -> tuple[str, str]:
    """First and last name for HubSpot: the last word is the family name, with any particles before it.

    Norwegian middle names ("Kari Hansen Nordmann") stay with the first name, as they are written first.
    """
    words = full_name.split()
    if not words:
        return "", ""
    if len(words) == 1:
        return words[0], ""
    start = len(words) - 1
    while start > 1 and words[start - 1] in PARTICLES:
        start -= 1
    return " ".join(words[:start]), " ".join(words[start:])


def properties_for(personal: dict[str, Any]) -> dict[str, str]:
    """HubSpot properties from the row's fields; an empty value clears the property (the field was removed)."""
    props: dict[str, str] = {}
    for field, value in personal.items():
        text = "" if value is None else str(value)
        if field == NAME:
            props["firstname"], props["lastname"] = split_name(text)
        elif field in PROPERTIES:
            for name in PROPERTIES[field]:
                props[name] = text
        else:
            # Dropping it quietly would make the register's account of what HubSpot holds wrong (Art. 15(1)(c)).
            raise PermanentFailure(
                f"no HubSpot property for the field {field!r}: take it out of the policy's recipients.hubspot.fields"
            )
    return props


def legal_basis(point: Any) -> str | None:
    if point is None:
        return None
    return LEGAL_BASIS.get(str(point), NOT_APPLICABLE)


def merged_basis(held: str | None, ours: str) -> str:
    """Add our basis to those HubSpot holds for the contact (a multi-select), keeping theirs."""
    options = [o for o in (held or "").split(";") if o and o != NOT_APPLICABLE]
    if ours not in options:
        options.append(ours)
    return ";".join(options)


@dataclass(frozen=True)
class Contact:
    id: str
    legal_basis: str | None


class HubSpot:
    kind = "hubspot"
    kinds = KINDS

    def __init__(
        self,
        client: httpx.Client,
        config: HubSpotConfig,
        clock: Clock,
        consent_link: Callable[[str], str | None] | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self._clock = clock
        self._paused_until: datetime | None = None  # a rate-limit window HubSpot said is used up
        # The person's own consent link, made fresh at delivery (never stored in the outbox row).
        self._consent_link = consent_link

    def deliver(self, row: OutboxRow) -> dict[str, Any]:
        missing = self._config.missing()
        if missing:
            raise WaitingForCredentials(missing)
        personal = dict(row.personal or {})
        if row.kind == UPSERT:
            return self._upsert(row, personal)
        if row.kind == UNSUBSCRIBE:
            return self._unsubscribe(personal)
        if row.kind == DELETE:
            return self._delete(row, personal)
        raise PermanentFailure(f"the HubSpot connector does not deliver {row.kind!r} rows")

    # ---------------------------------------------------------------- the three kinds

    def _upsert(self, row: OutboxRow, personal: dict[str, Any]) -> dict[str, Any]:
        email = personal.get("email")
        if not email:
            raise PermanentFailure("the row holds no email address to find the HubSpot contact by")
        props = properties_for(personal)
        link = self._link_for(row)
        if link is not None and self._config.consent_property is not None:
            props[self._config.consent_property] = link
        basis = legal_basis(row.public.get("legal_basis"))
        contact = None
        known = str(row.public.get("hubspot_id") or "")
        if HUBSPOT_ID.fullmatch(known):
            # By id first: the email may be the very thing that changed (rectification, Art. 16 and 19).
            contact = self._get(known)
        if contact is None:
            contact = self._find(str(email))
        if contact is None:
            if row.public.get("update_only"):
                return {"hubspot_id": None, "found": False}  # HubSpot no longer holds the person: nothing to correct
            if basis:
                props["hs_legal_basis"] = basis
            response = self._send("POST", CONTACTS, "creating a contact", body={"properties": props}, also=(409,))
            if response.status_code != 409:
                return {"hubspot_id": _id(body_of(response)), "created": True}
            # The search index lags behind creation by a few seconds; HubSpot names the contact it already has.
            match = EXISTING_ID.search(str(body_of(response).get("message", "")))
            if match is None:
                raise PermanentFailure("HubSpot says the contact exists but names no id (HTTP 409)")
            contact = Contact(match.group(1), None)
        if basis:
            props["hs_legal_basis"] = merged_basis(contact.legal_basis, basis)
        response = self._send(
            "PATCH", f"{CONTACTS}/{contact.id}", "updating a contact", body={"properties": props}, also=(404, 409)
        )
        if response.status_code == 404:
            raise TemporaryFailure("the HubSpot contact went away while it was being updated; trying again")
        if response.status_code == 409:
            raise PermanentFailure(
                "another HubSpot contact already has this email address: merge the two in HubSpot (HTTP 409)"
            )
        return {"hubspot_id": contact.id, "created": False}

    def _link_for(self, row: OutboxRow) -> str | None:
        """A share for email marketing carries the person's consent link, when the account has the property."""
        shared = row.public.get("reason") == "share" and row.public.get("purpose") == "marketing"
        if not shared or self._consent_link is None or self._config.consent_property is None or not row.subject_id:
            return None
        return self._consent_link(row.subject_id)

    def _unsubscribe(self, personal: dict[str, Any]) -> dict[str, Any]:
        email = personal.get("email")
        if not email:
            raise PermanentFailure("the row holds no email address to unsubscribe")
        path = UNSUBSCRIBE_ALL.format(email=quote(str(email), safe="@"))
        response = self._send("POST", path, "unsubscribing from all email", params={"channel": "EMAIL"}, also=(404,))
        if response.status_code == 404:
            if not _not_found(response):
                self._refuse(response, "unsubscribing from all email")
            return {"status": "not found"}  # HubSpot holds no such address: nothing can be sent to it
        body = body_of(response)
        status = body.get("status")
        results = body.get("results")
        # The results echo the address back: only their number is kept.
        return {
            "status": str(status)[:20] if isinstance(status, str) else None,
            "unsubscribed": len(results) if isinstance(results, list) else 0,
        }

    def _delete(self, row: OutboxRow, personal: dict[str, Any]) -> dict[str, Any]:
        ids = [str(i) for i in row.public.get("hubspot_ids") or [] if HUBSPOT_ID.fullmatch(str(i))]
        email = personal.get("email")
        if not ids and not email:
            raise PermanentFailure("the row holds neither a HubSpot id nor an email address to erase by")
        if row.resumed:
            # A worker died after sending some of these and before recording it. A gdpr-delete cannot be told
            # from a new one (HubSpot takes no idempotency key), so ask first which contacts are still there:
            # each is told once. The address goes again: on a contact gone, it only keeps the block in place.
            ids = [i for i in ids if self._get(i) is not None]
        requests: list[dict[str, str]] = [{"objectId": i} for i in ids]
        if email:
            # Last, and always: HubSpot erases the contact that has the address now, or blocks the address.
            requests.append({"objectId": str(email), "idProperty": "email"})
        erased = 0
        for body in requests:
            response = self._send("POST", f"{CONTACTS}/gdpr-delete", "erasing a contact", body=body, also=(404,))
            if response.status_code == 404 and not _not_found(response):
                self._refuse(response, "erasing a contact")
            erased += int(response.status_code != 404)  # a 404 for an id: erased already, by us or in HubSpot
        return {"gdpr_deleted": erased, "requests": len(requests), **({"resumed": True} if row.resumed else {})}

    # ---------------------------------------------------------------- look-ups

    def _get(self, contact_id: str) -> Contact | None:
        response = self._send(
            "GET",
            f"{CONTACTS}/{contact_id}",
            "reading a contact",
            params={"properties": "email,hs_legal_basis"},
            also=(404,),
        )
        if response.status_code == 404:
            return None
        return _contact(body_of(response))

    def _find(self, email: str) -> Contact | None:
        body = {
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}],
            "properties": ["email", "hs_legal_basis"],
            "limit": 1,
        }
        response = self._send("POST", f"{CONTACTS}/search", "searching contacts", body=body)
        results = body_of(response).get("results")
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            return None
        return _contact(results[0])

    # ---------------------------------------------------------------- HTTP

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        also: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One request; 2xx and the statuses in `also` are returned, everything else raised as a ConnectorError."""
        now = self._clock.now()
        if self._paused_until is not None and now < self._paused_until:
            wait = (self._paused_until - now).total_seconds()
            raise TemporaryFailure(f"HubSpot's rate limit is used up for {wait:.0f} s more", wait)
        url = self._config.url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {self._config.token}", "Accept": "application/json"}
        try:
            response = self._client.request(method, url, json=body, params=params, headers=headers)
        except httpx.TimeoutException:
            raise TemporaryFailure("HubSpot did not answer in time") from None
        except httpx.TransportError as exc:
            raise TemporaryFailure(f"cannot reach HubSpot ({type(exc).__name__})") from None
        self._note_limits(response)
        if 200 <= response.status_code < 300 or response.status_code in also:
            return response
        self._refuse(response, what)

    def _refuse(self, response: httpx.Response, what: str) -> NoReturn:
        status = response.status_code
        body = body_of(response)
        where = described(status, body)
        if status in {408, 423, 429} or status >= 500:
            retry_after = (
                self._retry_after(response, body)
                if status == 429
                else retry_after_header(response.headers.get("Retry-After"), self._clock.now())
            )
            raise TemporaryFailure(f"HubSpot answered {where} to {what}", retry_after)
        if status == 401:
            raise PermanentFailure(f"HubSpot refused the token: check PERSONVERN_HUBSPOT_TOKEN ({where})")
        if status == 403:
            raise PermanentFailure(f"HubSpot refused {what}: the private app lacks a scope it needs ({where})")
        if status == 404:
            raise PermanentFailure(f"HubSpot answered {where} to {what}: check PERSONVERN_HUBSPOT_URL")
        if 400 <= status < 500:
            raise PermanentFailure(f"HubSpot refused {what} ({where})")
        raise PermanentFailure(f"HubSpot answered {where} to {what}: check PERSONVERN_HUBSPOT_URL")

    def _note_limits(self, response: httpx.Response) -> None:
        """Remember a window HubSpot says is used up, so the next rows wait for it rather than draw 429s."""
        wait = window_seconds(response.headers, only_if_used_up=True)
        if wait:
            until = self._clock.now() + timedelta(seconds=wait)
            if self._paused_until is None or until > self._paused_until:
                self._paused_until = until

    def _retry_after(self, response: httpx.Response, body: dict[str, Any]) -> float | None:
        """How long a 429 asks us to wait: Retry-After, else the limit HubSpot names, else its window headers."""
        seconds = retry_after_header(response.headers.get("Retry-After"), self._clock.now())
        if seconds is not None:
            return seconds
        if str(body.get("policyName", "")).upper() == "DAILY":
            return DAILY_WAIT
        return window_seconds(response.headers, only_if_used_up=False)


# ---------------------------------------------------------------- reading HubSpot's answers


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdecimal() and len(value.strip()) < 16 else None


def window_seconds(headers: httpx.Headers, *, only_if_used_up: bool) -> float | None:
    """Seconds until the limit HubSpot reports as reached resets (daily, per interval, per second)."""
    daily_left = _int(headers.get("X-HubSpot-RateLimit-Daily-Remaining"))
    if daily_left == 0:
        return DAILY_WAIT
    interval_ms = _int(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds"))
    left = _int(headers.get("X-HubSpot-RateLimit-Remaining"))
    if interval_ms and (left == 0 or not only_if_used_up):
        return interval_ms / 1000
    if _int(headers.get("X-HubSpot-RateLimit-Secondly-Remaining")) == 0:
        return 1.0
    return None


def body_of(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, a number of over 4 300 digits, too deep
        return {}
    return data if isinstance(data, dict) else {}


def _not_found(response: httpx.Response) -> bool:
    """HubSpot's own 404 for an object it does not have, not a wrong URL answered by some other server."""
    return response.status_code == 404 and body_of(response).get("category") == "OBJECT_NOT_FOUND"


def described(status: int, body: dict[str, Any]) -> str:
    """HTTP status, HubSpot's category and error codes, and its correlation id: never its message, which may
    quote the values sent (an email address)."""
    parts = [f"HTTP {status}"]
    category = body.get("category")
    if isinstance(category, str) and re.fullmatch(r"[A-Z_]{1,40}", category):
        parts.append(category)
    errors = body.get("errors")
    if isinstance(errors, list):
        codes = sorted(
            {e["code"] for e in errors if isinstance(e, dict) and re.fullmatch(r"[A-Z_]{1,40}", str(e.get("code")))}
        )
        parts += codes[:3]
    correlation = body.get("correlationId")
    if isinstance(correlation, str) and re.fullmatch(r"[0-9a-fA-F-]{8,40}", correlation):
        parts.append(f"correlation id {correlation}")
    return ", ".join(parts)


def _id(body: dict[str, Any]) -> str:
    raw = str(body.get("id", ""))
    if not HUBSPOT_ID.fullmatch(raw):
        raise PermanentFailure("HubSpot's answer names no contact id: check PERSONVERN_HUBSPOT_URL")
    return raw


def _contact(body: dict[str, Any]) -> Contact:
    props = body.get("properties")
    held = props.get("hs_legal_basis") if isinstance(props, dict) else None
    return Contact(_id(body), held if isinstance(held, str) else None)
