"""Every contact HubSpot holds, page by page through its CRM search API, for reconciling it with the register.

The search API pages with `paging.next.after` but returns at most 10 000 results to one query, so the pages are
sorted by `hs_object_id` and, before the cap, the query starts again above the last id seen: a portal of any
size is read once, in order. Only `email` is asked for. The search endpoints have a limit of their own, a few
requests a second per token, and send no `X-HubSpot-RateLimit-*` headers: requests are paced below it, and a
429 (or a 5xx) waits as long as `Retry-After` says, else the window the headers name, else a second, then asks
for the same page again. A wait longer than a minute, or too many in a row, ends the run (NotReady): the
reconciliation is recorded as incomplete and nothing is fixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from personvern.connectors import retry_after as retry_after_header
from personvern.connectors.hubspot import (
    CONTACTS,
    HUBSPOT_ID,
    Clock,
    HubSpotConfig,
    body_of,
    described,
    window_seconds,
)
from personvern.domain.errors import NotReady
from personvern.services.ports import HeldContact

SEARCH = f"{CONTACTS}/search"
PAGE = 100  # results per search request (HubSpot's documented maximum for contacts search is at least this)
SEARCH_CAP = 10_000  # results one search query returns at most; past it, `after` is refused
PER_SECOND = 4.0  # the search API's own limit per token
MAX_WAITS = 20  # throttled or failed answers in a row for one page before the run gives up
LONGEST_WAIT = 60.0  # a window longer than this (a used-up daily limit) ends the run: run again later
RETRIABLE = {408, 423, 429}


class HubSpotContacts:
    """A `ContactSource` over HubSpot's search API; `sleep` and `tick` are time.sleep and time.monotonic."""

    def __init__(
        self,
        client: httpx.Client,
        config: HubSpotConfig,
        clock: Clock,
        *,
        sleep: Callable[[float], None] = time.sleep,
        tick: Callable[[], float] = time.monotonic,
        page: int = PAGE,
        cap: int = SEARCH_CAP,
        per_second: float = PER_SECOND,
        max_waits: int = MAX_WAITS,
    ) -> None:
        self._client = client
        self._config = config
        self._clock = clock
        self._sleep = sleep
        self._tick = tick
        self._page = page
        self._cap = cap
        self._interval = 1.0 / per_second
        self._max_waits = max_waits
        self._last: float | None = None
        self.requests = 0  # how many search requests were sent (429s included)
        self.waited = 0.0  # seconds spent waiting for HubSpot's limits

    def pages(self) -> Iterator[list[HeldContact]]:
        missing = self._config.missing()
        if missing:
            raise NotReady(f"HubSpot cannot be read: set {missing[0]}")
        after: str | None = None
        floor: str | None = None
        while True:
            data = self._post(self._query(after, floor))
            results = data.get("results")
            listed = results if isinstance(results, list) else []
            contacts = [c for c in (_contact(r) for r in listed if isinstance(r, dict)) if c is not None]
            if contacts:
                yield contacts
            paging = data.get("paging")
            following = paging.get("next") if isinstance(paging, dict) else None
            nxt = following.get("after") if isinstance(following, dict) else None
            if nxt is None or not contacts:
                return
            if str(nxt).isdecimal() and len(str(nxt)) < 16 and int(str(nxt)) + self._page > self._cap:
                floor, after = contacts[-1].id, None
            else:
                after = str(nxt)

    def _query(self, after: str | None, floor: str | None) -> dict[str, Any]:
        query: dict[str, Any] = {
            "filterGroups": [],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["email"],
            "limit": self._page,
        }
        if floor is not None:
            query["filterGroups"] = [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": floor}]}]
        if after is not None:
            query["after"] = after
        return query

    def _pace(self) -> None:
        now = self._tick()
        if self._last is not None and now - self._last < self._interval:
            self._sleep(self._interval - (now - self._last))
        self._last = self._tick()

    def _wait(self, seconds: float) -> None:
        if seconds > LONGEST_WAIT:
            raise NotReady(f"HubSpot's rate limit is used up for {seconds:.0f} s: run the reconciliation again later")
        self.waited += seconds
        self._sleep(seconds)

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        url = self._config.url.rstrip("/") + SEARCH
        headers = {"Authorization": f"Bearer {self._config.token}", "Accept": "application/json"}
        waits = 0
        while True:
            self._pace()
            self.requests += 1
            try:
                response = self._client.post(url, json=body, headers=headers)
            except httpx.TransportError as exc:
                problem = f"cannot reach HubSpot ({type(exc).__name__})"
                waits += 1
                if waits > self._max_waits:
                    raise NotReady(problem) from None
                self._wait(min(2.0**waits, LONGEST_WAIT))
                continue
            status = response.status_code
            if 200 <= status < 300:
                return body_of(response)
            where = described(status, body_of(response))
            if status in RETRIABLE or status >= 500:
                waits += 1
                if waits > self._max_waits:
                    raise NotReady(f"HubSpot kept answering {where} to the contacts search")
                self._wait(self._seconds(response))
                continue
            if status == 401:
                raise NotReady(f"HubSpot refused the token: check PERSONVERN_HUBSPOT_TOKEN ({where})")
            if status == 403:
                raise NotReady(f"HubSpot refused the contacts search: the private app lacks a scope ({where})")
            raise NotReady(f"HubSpot refused the contacts search ({where}): check PERSONVERN_HUBSPOT_URL")

    def _seconds(self, response: httpx.Response) -> float:
        """How long to wait: Retry-After, else the window HubSpot's headers name, else the search API's second."""
        from_header = retry_after_header(response.headers.get("Retry-After"), self._clock.now())
        if from_header is not None:
            return from_header
        return window_seconds(response.headers, only_if_used_up=False) or 1.0


def _contact(result: dict[str, Any]) -> HeldContact | None:
    raw = str(result.get("id", ""))
    if not HUBSPOT_ID.fullmatch(raw):
        return None
    props = result.get("properties")
    email = props.get("email") if isinstance(props, dict) else None
    return HeldContact(raw, email if isinstance(email, str) and email else None)
