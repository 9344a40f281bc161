"""Hostile input to every parser of outside input: only our own refusals, never another exception (issue 17, item 4).

The CSV import, the policy loader, a column map, LINK Mobility's delivery reports and replies and its answers to
a send, HubSpot's answers: each fed arbitrary text, structures, statuses and headers by hypothesis. And the bounds:
a line of a million characters, a 200 MB file, read within a stated memory.
"""

from __future__ import annotations

import io
import json
import math
import tomllib
import tracemalloc
from collections.abc import Iterator
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from personvern.cli.register import MAX_IMPORT_FILE, read_csv
from personvern.connectors.errors import ConnectorError
from personvern.connectors.hubspot import HubSpot, HubSpotConfig
from personvern.connectors.linkmobility import LinkMobility, LinkMobilityConfig
from personvern.domain.columns import parse_map
from personvern.domain.csvfile import MAX_LINE, read_rows
from personvern.domain.errors import InvalidInput
from personvern.domain.outbox import OutboxRow, OutboxState
from personvern.domain.sms import parse_delivery_reports, parse_inbound
from personvern.policy.loader import BUNDLED_NAME, LoadedPolicy, PolicyInvalid, parse_policy
from tests.unit.conftest import NOW
from tests.unit.fakes import FixedClock

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MiB = 1024 * 1024

# JSON as a hostile sender writes it: deep, odd numbers (a 5 000-digit integer too), odd text.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "²", "١٢", "-1", "1e400", "NaN", "0x10", "\x00", "1" * 5000])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def keyed(*names: str) -> st.SearchStrategy[dict[str, Any]]:
    """Objects whose keys are mostly the ones a parser looks for, with hostile values."""
    return st.dictionaries(st.sampled_from(names) | st.text(max_size=8), JSON, max_size=len(names) + 1)


# ---------------------------------------------------------------- the CSV import


CSV_TEXT = st.text(alphabet=st.sampled_from(list('ab1 ;,\t"\r\n\x00æ\ufeff\u2028')) | st.characters(), max_size=300)


@FUZZ
@given(CSV_TEXT)
def test_any_text_is_rows_or_a_refusal(text: str) -> None:
    try:
        header, rows = read_rows(io.StringIO(text, newline=""), "upload.csv")
    except InvalidInput as exc:
        assert exc.problems and all(p.field for p in exc.problems)
        return
    assert header and any(header)
    assert all(set(values) == set(header) and line >= 2 for line, values in rows)
    assert [line for line, _ in rows] == sorted({line for line, _ in rows})


@pytest.mark.parametrize(
    "long",
    ["x" * 1_000_000 + ",2", '"' + "x" * 1_000_000 + '",2', "," * 1_000_000, "x" * 1_000_000],
    ids=["unquoted", "quoted", "a million delimiters", "no newline at the end"],
)
def test_a_line_of_a_million_characters_is_refused_naming_it_within_a_bound(long: str) -> None:
    text = "name,note\nKari,hei\n" + long + ("\n" if long.startswith(("x,", '"', ",")) else "")
    f = io.StringIO(text, newline="")
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput) as caught:
            read_rows(f, "upload.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [problem] = caught.value.problems
    assert problem.line == 3 and problem.field == "file"
    assert f"longer than {MAX_LINE:,} characters" in problem.message or "more columns" in problem.message
    assert "line 3" in str(caught.value)
    # The line is read no further than its bound (4 bytes a character at worst); never the whole line.
    assert peak < 4 * MAX_LINE * 4, f"peak {peak / MiB:.1f} MiB"


class Generated(io.TextIOBase):
    """A CSV of `size` characters made as it is read: a 200 MB file that never exists whole."""

    LINE = "Kari Nordmann,kari@example.no,+4741234567,Storgata 1,0150,Oslo\n"

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        assert (offset, whence) == (0, 0)
        self.pos = 0
        return 0

    def readline(self, size: int | None = -1) -> str:
        if self.pos >= self.size:
            return ""
        line = "full_name,email,phone,postal_address,postal_code,city\n" if self.pos == 0 else self.LINE
        line = line[: size if size is not None and size >= 0 else None]
        self.pos += len(line)
        return line

    def read(self, size: int | None = -1) -> str:
        return self.readline(size)


def test_a_file_longer_than_the_bound_is_refused_as_it_is_read() -> None:
    limit = 2 * MiB
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match="larger than 2,097,152 characters"):
            read_rows(Generated(200 * 1000 * 1000), "big.csv", limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The rows read before the bound are held (an import is every row or none): about 12 times their text.
    assert peak < 16 * limit, f"peak {peak / MiB:.1f} MiB for rows of a {limit / MiB:.0f} MiB bound"


def test_a_200_mb_file_on_the_command_line_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("wb") as f:
        f.write(b"full_name,email\n")
        f.truncate(200 * 1000 * 1000)  # sparse: 200 MB on paper, nothing on the disk
    assert path.stat().st_size > MAX_IMPORT_FILE
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match=r"larger than 100 MiB; split it"):
            read_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MiB


# ---------------------------------------------------------------- the policy and a column map


def toml(value: Any) -> str:
    """A value in TOML (inline tables), enough for the structures below."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def document(data: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(str(k), ensure_ascii=False)} = {toml(v)}" for k, v in data.items()) + "\n"


BUNDLED = resources.files("personvern.policy.bundled").joinpath(BUNDLED_NAME).read_text("utf-8")
TOML_VALUES = st.recursive(
    st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.sampled_from(["", "art6_1a", "marketing"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*prefix, i))


BUNDLED_PATHS = [p for p in _paths(tomllib.loads(BUNDLED)) if p]


@FUZZ
@given(st.text(max_size=400) | st.sampled_from(BUNDLED.splitlines(keepends=True)).map(lambda line: line * 3))
def test_any_policy_text_is_a_policy_or_policy_invalid(text: str) -> None:
    try:
        assert isinstance(parse_policy(text, "fuzz.toml"), LoadedPolicy)
    except PolicyInvalid as exc:
        assert exc.problems


@FUZZ
@given(st.data())
def test_the_bundled_policy_with_any_part_changed_or_removed_loads_or_is_policy_invalid(data: st.DataObject) -> None:
    policy = tomllib.loads(BUNDLED)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(BUNDLED_PATHS))
        *parents, last = path
        holder: Any = policy
        try:
            for key in parents:
                holder = holder[key]
            if data.draw(st.booleans()) and isinstance(holder, dict):
                holder.pop(last, None)
            else:
                holder[last] = data.draw(TOML_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change took this path away
    try:
        parse_policy(document(policy), "fuzz.toml")
    except PolicyInvalid as exc:
        assert exc.problems and all(str(p) for p in exc.problems)


@FUZZ
@given(
    st.text(max_size=200)
    | st.fixed_dictionaries(
        {}, optional={"columns": TOML_VALUES, "values": TOML_VALUES, "ignore": TOML_VALUES, "other": TOML_VALUES}
    ).map(document)
)
def test_any_column_map_is_a_map_or_invalid_input(text: str) -> None:
    try:
        parse_map(text, "map.toml")
    except InvalidInput as exc:
        assert exc.problems


# ---------------------------------------------------------------- LINK Mobility's reports and replies


REPORT = keyed("refId", "resultCode", "id", "segments")


@FUZZ
@given(JSON | REPORT | st.lists(REPORT | JSON, max_size=4))
@example({"refId": "0190", "resultCode": "1" * 5000})  # found: int() of 5 000 digits raised ValueError (a 500)
@example({"refId": "0190", "resultCode": "²"})  # found: "²".isdigit() is true, int("²") raised ValueError
def test_any_delivery_report_body_is_reports_or_invalid_input(data: Any) -> None:
    try:
        reports = parse_delivery_reports(data)
    except InvalidInput as exc:
        assert exc.problems
        return
    assert reports and all(r.ref_id and isinstance(r.result_code, int) for r in reports)


@FUZZ
@given(
    JSON | keyed("source", "content", "userData") | st.builds(lambda c: {"source": "+4741234567", "content": c}, JSON)
)
def test_any_inbound_body_is_a_message_or_invalid_input(data: Any) -> None:
    try:
        message = parse_inbound(data)
    except InvalidInput as exc:
        assert exc.problems
        return
    assert message.source and isinstance(message.text, str)


# ---------------------------------------------------------------- the vendors' answers


STATUS = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 408, 409, 423, 429, 500, 502, 503]) | st.integers(
    100, 599
)
HEADER_VALUE = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=12
)
HEADER_NAMES = [
    "Retry-After",
    "X-HubSpot-RateLimit-Daily-Remaining",
    "X-HubSpot-RateLimit-Interval-Milliseconds",
    "X-HubSpot-RateLimit-Remaining",
    "X-HubSpot-RateLimit-Secondly-Remaining",
    "Content-Type",
]


@st.composite
def answers(draw: st.DrawFn, keys: tuple[str, ...]) -> httpx.Response:
    headers = draw(
        st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_VALUE | st.sampled_from(["0", "²", "-5", "1e9"]))
    )
    body = draw(
        JSON.map(lambda v: json.dumps(v).encode())
        | keyed(*keys).map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=40)
        | st.sampled_from([b"1" * 5000, b"[" * 5000])  # found: a ValueError and a RecursionError escaped
    )
    return httpx.Response(
        draw(STATUS), headers=[(k.encode(), v.encode("latin-1")) for k, v in headers.items()], content=body
    )


def replying(draw: st.DrawFn, keys: tuple[str, ...]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = draw(answers(keys) | st.sampled_from(["drop", "timeout"]))
        if answer == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response", request=request)
        if answer == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        assert isinstance(answer, httpx.Response)
        return answer

    return httpx.Client(transport=httpx.MockTransport(handler))


def outbox_row(kind: str, personal: dict[str, Any], **public: Any) -> OutboxRow:
    return OutboxRow("0190a1b2c3d4e5f60718293a4b5c6d7e", kind, "s1", OutboxState.PENDING, 0, NOW, NOW, public, personal)


HUBSPOT_KEYS = ("id", "results", "properties", "category", "errors", "correlationId", "message", "policyName", "status")


@FUZZ
@given(st.data(), st.sampled_from(["hubspot.upsert", "hubspot.unsubscribe", "hubspot.delete"]))
def test_any_hubspot_answer_is_a_result_or_a_connector_error(data: st.DataObject, kind: str) -> None:
    hub = HubSpot(replying(data.draw, HUBSPOT_KEYS), HubSpotConfig("http://127.0.0.1:9", "pat-na1-x"), FixedClock(NOW))
    personal = {"email": "kari@example.no", "full_name": "Kari Nordmann", "phone": "+4741234567"}
    row = outbox_row(
        kind, personal, purpose="marketing", legal_basis="6(1)(a)", fields=list(personal), hubspot_id="1001"
    )
    for _ in range(2):  # the second delivery meets what the first one learnt (a used-up rate-limit window)
        try:
            assert isinstance(hub.deliver(row), dict)
        except ConnectorError as exc:
            assert exc.reason and "kari" not in exc.reason.lower()


@FUZZ
@given(st.data())
def test_any_link_mobility_answer_is_a_result_or_a_connector_error(data: st.DataObject) -> None:
    config = LinkMobilityConfig("http://127.0.0.1:9/sms", "user", "pw", "COMMON_API", "4711", "Center24", "gate-1")
    link = LinkMobility(
        replying(data.draw, ("messageId", "resultCode", "errorCode", "description")), config, FixedClock(NOW)
    )
    try:
        assert isinstance(link.deliver(outbox_row("sms", {"destination": "+4741234567", "text": "Hei"})), dict)
    except ConnectorError as exc:
        assert exc.reason and "4741234567" not in exc.reason


@pytest.mark.parametrize("raw", ["²", "0", "100000", "1e2", "9" * 5000, " "])
def test_a_setting_of_digits_that_int_refuses_is_a_clear_refusal(raw: str) -> None:
    # "²".isdigit() is true but int("²") fails: settings are read with isdecimal and a length bound.
    from personvern.bootstrap import retry_policy, smtp_config
    from personvern.domain.errors import InvalidInput

    with pytest.raises(InvalidInput, match="PERSONVERN_OUTBOX_MAX_ATTEMPTS"):
        retry_policy({"PERSONVERN_OUTBOX_MAX_ATTEMPTS": raw})
    assert smtp_config({"PERSONVERN_SMTP_PORT": raw}).port is None
