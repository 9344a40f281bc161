"""LINK Mobility result codes, delivery reports and inbound (MO) messages, as the domain reads them."""

from __future__ import annotations

import pytest

from personvern.domain.errors import InvalidInput
from personvern.domain.sms import (
    FINAL_STATUSES,
    DeliveryReport,
    InboundSms,
    MessageStatus,
    next_status,
    parse_delivery_reports,
    parse_inbound,
    result_code,
)

REPORT = {
    "refId": "0190a1b2c3d4e5f60718293a4b5c6d7e",
    "id": "lm-000001",
    "operator": "no.telenor",
    "sentTimestamp": "2026-11-25T12:00:01Z",
    "timestamp": "2026-11-25T12:00:04Z",
    "resultCode": 1001,
    "operatorResultCode": "0",
    "segments": 1,
    "customParameters": {},
}


def test_delivered_is_the_only_success() -> None:
    code = result_code(1001)
    assert (code.status, code.final, code.meaning) == (MessageStatus.DELIVERED, True, "delivered")


@pytest.mark.parametrize(
    ("code", "status"), [(1000, MessageStatus.SENT), (1005, MessageStatus.QUEUED), (1012, MessageStatus.SENT)]
)
def test_on_the_way(code: int, status: MessageStatus) -> None:
    assert result_code(code).status is status
    assert not result_code(code).final


@pytest.mark.parametrize("code", [1002, 1004, 1006, 2104, 2105, 2106, 2107, 3, *range(4000, 4008)])
def test_final_failures_say_what_went_wrong(code: int) -> None:
    meaning = result_code(code)
    assert meaning.status is MessageStatus.FAILED and meaning.final
    assert meaning.meaning and str(code) not in meaning.meaning


@pytest.mark.parametrize("code", [4, 5, 1010])
def test_final_with_unknown_outcome(code: int) -> None:
    assert result_code(code).status is MessageStatus.UNKNOWN
    assert "unknown" in result_code(code).meaning


def test_an_undocumented_code_is_a_final_failure_that_says_so() -> None:
    code = result_code(987654)
    assert code.status is MessageStatus.FAILED
    assert code.meaning == "result code 987654 (not documented)"


@pytest.mark.parametrize("current", list(MessageStatus))
@pytest.mark.parametrize("new", list(MessageStatus))
def test_a_final_status_is_never_overwritten(current: MessageStatus, new: MessageStatus) -> None:
    assert next_status(current, new) is (current if current in FINAL_STATUSES else new)


def test_one_report_or_a_list() -> None:
    expected = DeliveryReport(REPORT["refId"], 1001, "lm-000001", 1)
    assert parse_delivery_reports(REPORT) == [expected]
    assert parse_delivery_reports([REPORT, REPORT | {"resultCode": "1005"}]) == [
        expected,
        DeliveryReport(REPORT["refId"], 1005, "lm-000001", 1),
    ]


def test_every_problem_is_named_and_nothing_is_half_accepted() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_delivery_reports([REPORT, {"resultCode": "delivered"}, "x"])
    fields = [p.field for p in info.value.problems]
    assert fields == ["report 2: refId", "report 2: resultCode", "report 3: "]
    assert "nothing was recorded" in str(info.value)


@pytest.mark.parametrize("data", [[], {"refId": "", "resultCode": 1001}, {"refId": "x", "resultCode": True}])
def test_malformed_reports(data: object) -> None:
    with pytest.raises(InvalidInput):
        parse_delivery_reports(data)


def test_inbound_in_link_shape() -> None:
    raw = {"source": "+4741000001", "destination": "NO2000", "content": {"type": "text", "userData": "STOPP"}}
    assert parse_inbound(raw) == InboundSms("+4741000001", "STOPP")
    assert parse_inbound({"source": "4741000001", "userData": " stopp "}) == InboundSms("4741000001", " stopp ")


@pytest.mark.parametrize("raw", [[], {"content": {"userData": "STOPP"}}, {"source": "+4741000001"}])
def test_malformed_inbound(raw: object) -> None:
    with pytest.raises(InvalidInput):
        parse_inbound(raw)
