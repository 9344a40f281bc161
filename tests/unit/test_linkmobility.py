"""The LINK Mobility connector against httpx.MockTransport: the request it sends and every class of answer."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.connectors.linkmobility import LinkMobility, LinkMobilityConfig
from personvern.domain.outbox import OutboxRow, OutboxState
from tests.fakes_linkmobility import GATE, PARTNER_ID, PASSWORD, PLATFORM_ID, SENDER, USER, FakeLink, Reply
from tests.unit.conftest import NOW
from tests.unit.fakes import FixedClock

PHONE = "+4741000001"
TEXT = "Nøkkelkortet ditt er klart"
CONFIG = LinkMobilityConfig("http://127.0.0.1:9/sms", USER, PASSWORD, PLATFORM_ID, PARTNER_ID, SENDER, GATE)


def row(row_id: str = "0190a1b2c3d4e5f60718293a4b5c6d7e") -> OutboxRow:
    return OutboxRow(
        row_id,
        "sms",
        "s1",
        OutboxState.PENDING,
        0,
        NOW,
        NOW,
        {"message_id": "m1", "purpose": "service"},
        {"destination": PHONE, "text": TEXT},
    )


def connector(fake: FakeLink, config: LinkMobilityConfig = CONFIG) -> LinkMobility:
    return LinkMobility(fake.client(), config, FixedClock(NOW))


def failing(exc: Exception) -> LinkMobility:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return LinkMobility(httpx.Client(transport=httpx.MockTransport(handler)), CONFIG, FixedClock(NOW))


def answering(status: int, body: object = None, headers: dict[str, str] | None = None, raw: bytes | None = None):
    return connector(FakeLink().then(Reply(status, body, headers or {}, raw)))


def assert_no_personal_data(exc: BaseException) -> None:
    for secret in (PHONE, PHONE[3:], "Nøkkelkortet", PASSWORD):
        assert secret not in str(exc)


def test_the_request_has_the_documented_shape() -> None:
    seen: list[httpx.Request] = []
    fake = FakeLink()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fake.handler(request)

    link = LinkMobility(httpx.Client(transport=httpx.MockTransport(handler)), CONFIG, FixedClock(NOW))
    result = link.deliver(row())
    request = seen[0]
    assert request.method == "POST"
    assert str(request.url) == "http://127.0.0.1:9/sms/send"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert json.loads(request.content) == {
        "source": SENDER,
        "sourceTON": "ALPHANUMERIC",
        "destination": PHONE,
        "userData": TEXT,
        "platformId": PLATFORM_ID,
        "platformPartnerId": PARTNER_ID,
        "refId": "0190a1b2c3d4e5f60718293a4b5c6d7e",
        "useDeliveryReport": True,
        "deliveryReportGates": [GATE],
        "ignoreResponse": False,
    }
    assert result == {"messageId": "lm-000001", "resultCode": 1005, "description": "Queued"}


def test_without_a_gate_no_delivery_report_is_asked_for_and_a_numeric_sender_is_an_msisdn() -> None:
    link = connector(FakeLink(), LinkMobilityConfig(CONFIG.url, USER, PASSWORD, PLATFORM_ID, PARTNER_ID, "+4722000000"))
    body = link.request_body(row())
    assert body["useDeliveryReport"] is False
    assert "deliveryReportGates" not in body
    assert body["sourceTON"] == "MSISDN"


def test_the_same_row_always_goes_out_with_the_same_ref_id() -> None:
    fake = FakeLink()
    link = connector(fake)
    link.deliver(row())
    link.deliver(row())
    assert [r["refId"] for r in fake.received] == [row().id, row().id]


@pytest.mark.parametrize(
    ("status", "code", "setting"),
    [
        (401, 106100, "PERSONVERN_LINKMOBILITY_USER"),
        (403, 106101, "PERSONVERN_LINKMOBILITY_PASSWORD"),
        (401, None, "PERSONVERN_LINKMOBILITY_USER"),
        (400, 106200, "PERSONVERN_LINKMOBILITY_PLATFORM_ID"),
        (400, 106201, "PERSONVERN_LINKMOBILITY_PARTNER_ID"),
        (400, 106300, "PERSONVERN_LINKMOBILITY_GATE"),
        (400, 106301, "PERSONVERN_LINKMOBILITY_GATE"),
    ],
)
def test_refusals_are_permanent_and_name_the_setting(status: int, code: int | None, setting: str) -> None:
    body = {"resultCode": code, "description": "refused"} if code else None
    with pytest.raises(PermanentFailure) as info:
        answering(status, body, raw=None if body else b"").deliver(row())
    assert setting in info.value.reason
    assert f"HTTP {status}" in info.value.reason
    assert_no_personal_data(info.value)


def test_the_fake_itself_refuses_wrong_credentials() -> None:
    config = LinkMobilityConfig(CONFIG.url, USER, "wrong", PLATFORM_ID, PARTNER_ID, SENDER, GATE)
    with pytest.raises(PermanentFailure, match="refused the credentials"):
        connector(FakeLink(), config).deliver(row())
    config = LinkMobilityConfig(CONFIG.url, USER, PASSWORD, "OTHER", PARTNER_ID, SENDER, GATE)
    with pytest.raises(PermanentFailure, match="106200"):
        connector(FakeLink(), config).deliver(row())


def test_an_unknown_refusal_quotes_the_vendor_without_numbers() -> None:
    with pytest.raises(PermanentFailure) as info:
        answering(400, {"resultCode": 106000, "description": f"bad destination {PHONE}"}).deliver(row())
    assert "unknown error" in info.value.reason
    with pytest.raises(PermanentFailure) as info:
        answering(422, {"description": f"bad destination {PHONE}"}).deliver(row())
    assert "bad destination" in info.value.reason
    assert_no_personal_data(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_server_errors_and_throttling_are_temporary(status: int) -> None:
    with pytest.raises(TemporaryFailure) as info:
        answering(status, {"description": "busy"}).deliver(row())
    assert info.value.retry_after is None
    assert f"HTTP {status}" in info.value.reason


def test_retry_after_in_seconds_and_as_a_date() -> None:
    with pytest.raises(TemporaryFailure) as info:
        answering(503, None, {"Retry-After": "120"}, raw=b"").deliver(row())
    assert info.value.retry_after == 120
    when = format_datetime(NOW + timedelta(minutes=5), usegmt=True)
    with pytest.raises(TemporaryFailure) as info:
        answering(503, None, {"Retry-After": when}, raw=b"").deliver(row())
    assert info.value.retry_after == 300
    with pytest.raises(TemporaryFailure) as info:
        answering(503, None, {"Retry-After": "soon"}, raw=b"").deliver(row())
    assert info.value.retry_after is None


def test_result_code_3_is_throttling_and_temporary() -> None:
    with pytest.raises(TemporaryFailure, match="throttling") as info:
        answering(200, {"resultCode": 3, "description": "Max throttling exceeded"}, {"Retry-After": "7"}).deliver(row())
    assert info.value.retry_after == 7


def test_a_final_failure_code_on_submission_is_permanent() -> None:
    with pytest.raises(PermanentFailure, match="unknown subscriber"):
        answering(200, {"messageId": "x", "resultCode": 2104, "description": "Unknown subscriber"}).deliver(row())


def test_an_accepted_message_without_a_readable_answer_is_not_sent_again() -> None:
    # 200 means LINK Mobility has it: retrying would send it twice.
    assert answering(200, raw=b"OK").deliver(row()) == {"messageId": None, "resultCode": None, "description": None}


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ReadTimeout("timed out"), "did not answer in time"),
        (httpx.ConnectTimeout("timed out"), "did not answer in time"),
        (httpx.ConnectError("refused"), "cannot reach LINK Mobility (ConnectError)"),
        (httpx.RemoteProtocolError("closed"), "cannot reach LINK Mobility (RemoteProtocolError)"),
    ],
)
def test_network_errors_are_temporary(exc: Exception, reason: str) -> None:
    with pytest.raises(TemporaryFailure, match=reason.replace("(", r"\(").replace(")", r"\)")):
        failing(exc).deliver(row())


def test_without_credentials_the_row_waits_and_nothing_is_sent() -> None:
    fake = FakeLink()
    with pytest.raises(WaitingForCredentials) as info:
        connector(fake, LinkMobilityConfig()).deliver(row())
    assert str(info.value).startswith("waiting for credentials: set PERSONVERN_LINKMOBILITY_USER, ")
    assert info.value.missing == [
        "PERSONVERN_LINKMOBILITY_USER",
        "PERSONVERN_LINKMOBILITY_PASSWORD",
        "PERSONVERN_LINKMOBILITY_PLATFORM_ID",
        "PERSONVERN_LINKMOBILITY_PARTNER_ID",
        "PERSONVERN_LINKMOBILITY_SENDER",
    ]
    assert fake.received == []


def test_a_malformed_sender_is_named() -> None:
    config = LinkMobilityConfig(CONFIG.url, USER, PASSWORD, PLATFORM_ID, PARTNER_ID, "24 Center AS")
    with pytest.raises(WaitingForCredentials, match="PERSONVERN_LINKMOBILITY_SENDER to 2-11 letters"):
        connector(FakeLink(), config).deliver(row())


def test_a_row_without_its_personal_part_cannot_be_sent() -> None:
    with pytest.raises(PermanentFailure, match="no destination"):
        connector(FakeLink()).deliver(OutboxRow("r", "sms", None, OutboxState.PENDING, 0, NOW, NOW, {}, {}))


@pytest.mark.parametrize("sender", ["24Center", "Center24", "1A", "ABCDEFGHIJK"])
def test_an_alphanumeric_sender_may_start_with_a_digit(sender: str) -> None:
    # Issue 16: "24Center" was refused for not starting with a letter; one letter anywhere is what makes it a name.
    config = LinkMobilityConfig(CONFIG.url, USER, PASSWORD, PLATFORM_ID, PARTNER_ID, sender)
    assert config.missing() == []
    assert connector(FakeLink(), config).request_body(row())["sourceTON"] == "ALPHANUMERIC"


@pytest.mark.parametrize("sender", ["A", "ABCDEFGHIJKL", "24 Center", "24Center!", "Ø24", "12"])
def test_a_sender_that_is_neither_a_name_nor_a_number_waits_for_its_setting(sender: str) -> None:
    config = LinkMobilityConfig(CONFIG.url, USER, PASSWORD, PLATFORM_ID, PARTNER_ID, sender)
    [missing] = config.missing()
    assert "2-11 letters and digits with at least one letter, or a phone number" in missing


@pytest.mark.parametrize("sender", ["+4722000000", "4722000000", "2200"])
def test_a_number_is_an_msisdn(sender: str) -> None:
    config = LinkMobilityConfig(CONFIG.url, USER, PASSWORD, PLATFORM_ID, PARTNER_ID, sender)
    assert config.missing() == [] and config.source_ton() == "MSISDN"
