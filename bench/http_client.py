"""The HTTP load: concurrent clients against `personvern serve`, in a process of their own (`bench.http_api` starts it).

Reads one JSON job from stdin: {"url", "token", "clients", "warmup": [subject ids], "steps": [{"name", "kind",
"items": [...]}]}. Each step runs its items through `clients` concurrent clients (asyncio tasks sharing one
aiohttp session with as many keep-alive connections), each client taking the next item when it is done with
its last, and records per item the seconds from its first request sent to its last answer read.

Why aiohttp here and httpx everywhere else: on two cores the load generator shares the machine with the server it
measures, and httpx's pure-Python HTTP cost about as much CPU per call as the server's answer. Measured 4
December against one `serve` process: GET /healthz at 16 clients 634 req/s with httpx, 3 011 with aiohttp (a
plain socket client: 3 137); a subject read 292 against 382 req/s. aiohttp's parser is in C; the figures are then
the server's.

The calls:

- "read": GET /api/v1/subjects/{id}
- "access" / "erasure": POST /api/v1/requests {"type", "subject_id"}, then POST …/{request id}/verify
  {"method": "bankid"}, then POST …/{request id}/fulfil {}: the three in turn, as a caller would

Writes one JSON document to stdout: per step, the seconds of each item, the step's wall time, the requests sent,
the request ids opened (for the checks) and the first few unexpected answers.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

API = "/api/v1"


async def _read(client: aiohttp.ClientSession, subject_id: str) -> tuple[int, str | None, str | None]:
    async with client.get(f"{API}/subjects/{subject_id}") as answer:
        text = await answer.text()
    if answer.status != 200:
        return 1, None, f"GET subject {answer.status} {text[:200]}"
    if json.loads(text).get("id") != subject_id:
        return 1, None, f"GET subject answered another subject: {text[:200]}"
    return 1, None, None


async def _post(client: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> tuple[int, str]:
    async with client.post(path, json=body) as answer:
        return answer.status, await answer.text()


async def _flow(client: aiohttp.ClientSession, kind: str, subject_id: str) -> tuple[int, str | None, str | None]:
    status, text = await _post(client, f"{API}/requests", {"type": kind, "subject_id": subject_id})
    if status != 201:
        return 1, None, f"POST requests {status} {text[:200]}"
    request_id = json.loads(text)["id"]
    status, text = await _post(client, f"{API}/requests/{request_id}/verify", {"method": "bankid"})
    if status != 200:
        return 2, request_id, f"verify {status} {text[:200]}"
    status, text = await _post(client, f"{API}/requests/{request_id}/fulfil", {})
    if status != 200:
        return 3, request_id, f"fulfil {status} {text[:200]}"
    return 3, request_id, None


async def _step(client: aiohttp.ClientSession, kind: str, items: list[str], clients: int) -> dict[str, Any]:
    queue = list(reversed(items))
    seconds: list[float] = []
    opened: list[str] = []
    errors: list[str] = []
    sent = failed = 0

    async def one_client() -> None:
        nonlocal sent, failed
        while queue:
            item = queue.pop()
            started = time.perf_counter()
            if kind == "read":
                count, request_id, error = await _read(client, item)
            else:
                count, request_id, error = await _flow(client, kind, item)
            seconds.append(time.perf_counter() - started)
            sent += count
            if request_id is not None:
                opened.append(request_id)
            if error is not None:
                failed += 1
                if len(errors) < 5:
                    errors.append(error)

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    wall = time.perf_counter() - started
    return {"seconds": seconds, "wall": wall, "requests": sent, "opened": opened, "errors": errors, "failed": failed}


async def run(job: dict[str, Any]) -> dict[str, Any]:
    clients = int(job["clients"])
    headers = {"Authorization": f"Bearer {job['token']}"}
    out: dict[str, Any] = {"steps": []}
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(job["url"], headers=headers, connector=connector, timeout=timeout) as client:
        # Connections opened and the server's first calls made (imports, compiled statements), untimed.
        await _step(client, "read", list(job.get("warmup", [])), clients)
        for step in job["steps"]:
            result = await _step(client, step["kind"], step["items"], int(step.get("clients", clients)))
            out["steps"].append({"name": step["name"], **result})
    return out


def main() -> int:
    job = json.load(sys.stdin)
    result = asyncio.run(run(job))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
