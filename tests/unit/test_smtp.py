"""The e-mail connector against a local SMTP server on 127.0.0.1 (aiosmtpd): what is sent, and each failure."""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest

from personvern.connectors import smtp as smtp_module
from personvern.connectors.errors import ConnectorError, PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.connectors.smtp import Smtp, SmtpConfig
from personvern.domain.outbox import OutboxRow, OutboxState
from tests.fakes_smtp import FakeSmtp

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TO = "kari.nordmann@example.no"
ROW_ID = "0190a1b2c3d4e5f60718293a4b5c6d7e"


class Clock:
    def now(self) -> datetime:
        return AT


def row(to: str = TO, subject: str = "Your code from 24Center", body: str = "Your code is 123456.") -> OutboxRow:
    personal = {"to": to, "subject": subject, "body": body}
    return OutboxRow(ROW_ID, "email", None, OutboxState.PENDING, 0, AT, AT, {}, personal)


def config(server: FakeSmtp, **changes: object) -> SmtpConfig:
    values: dict[str, object] = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "password": server.password,
        "sender": "24Center personvern <personvern@24center.no>",
    }
    values.update(changes)
    return SmtpConfig(**values)  # type: ignore[arg-type]


def connector(server: FakeSmtp, **changes: object) -> Smtp:
    return Smtp(config(server, **changes), Clock(), timeout=5, tls=server.client_tls)


def assert_no_address(exc: ConnectorError) -> None:
    assert "@" not in exc.reason and "kari" not in exc.reason.lower() and "nordmann" not in exc.reason.lower()


def test_the_message_has_to_subject_message_id_and_date_from_the_clock() -> None:
    with FakeSmtp() as server:
        result = connector(server).deliver(row())
        message = server.wait_for(TO)
    assert message["To"] == TO
    assert message["Subject"] == "Your code from 24Center"
    assert message["From"] == "24Center personvern <personvern@24center.no>"
    assert parsedate_to_datetime(message["Date"]) == AT
    assert message["Message-ID"] == f"<outbox.{ROW_ID}@24center.no>" == result["message_id"]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content().strip() == "Your code is 123456."
    assert server.envelopes == [("personvern@24center.no", [TO])]
    assert server.code_for(TO) == "123456"


def test_a_row_sent_again_has_the_same_message_id() -> None:
    with FakeSmtp() as server:
        connector(server).deliver(row())
        connector(server).deliver(row())
        ids = {m["Message-ID"] for m in server.to(TO)}
    assert len(server.messages) == 2 and len(ids) == 1


def test_it_logs_in_when_a_user_is_set() -> None:
    with FakeSmtp(user="mailer", password="pa55word") as server:
        connector(server).deliver(row())
        assert server.logins == ["mailer"]
        with pytest.raises(PermanentFailure) as refused:
            connector(server, password="wrong").deliver(row())
    assert "PERSONVERN_SMTP_PASSWORD" in refused.value.reason and "535" in refused.value.reason


def test_starttls_is_used_when_offered_and_the_certificate_is_checked() -> None:
    with FakeSmtp(starttls=True) as server:
        connector(server).deliver(row())
        assert server.tls_sessions == 1
        untrusting = Smtp(config(server), Clock(), timeout=5, tls=ssl.create_default_context())
        with pytest.raises(PermanentFailure) as refused:
            untrusting.deliver(row())
    assert "certificate" in refused.value.reason
    assert len(server.messages) == 1


def test_without_starttls_only_a_loopback_server_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    assert smtp_module.loopback("127.0.0.1") and smtp_module.loopback("::1") and smtp_module.loopback("localhost")
    assert not smtp_module.loopback("smtp.example.no") and not smtp_module.loopback("10.0.0.5")
    with FakeSmtp() as server:
        monkeypatch.setattr(smtp_module, "loopback", lambda host: False)  # as if it were another machine
        with pytest.raises(PermanentFailure) as refused:
            connector(server).deliver(row())
    assert "STARTTLS" in refused.value.reason
    assert server.messages == []


def test_a_refused_recipient_is_permanent_and_the_reason_holds_no_address() -> None:
    with FakeSmtp() as server:
        server.refuse(TO)
        with pytest.raises(PermanentFailure) as refused:
            connector(server).deliver(row())
    assert refused.value.reason == "the mail server refused the recipient (SMTP 550 5.1.1)"
    assert_no_address(refused.value)


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        (f"451 4.3.0 <{TO}> greylisted, try later", TemporaryFailure),
        (f"452 4.2.2 mailbox of {TO} full", TemporaryFailure),
        (f"553 5.1.3 <{TO}> bad address syntax", PermanentFailure),
    ],
)
def test_4xx_replies_are_temporary_5xx_permanent_neither_quotes_the_server(
    reply: str, failure: type[ConnectorError]
) -> None:
    with FakeSmtp() as server:
        server.then(reply)
        with pytest.raises(failure) as raised:
            connector(server).deliver(row())
    assert raised.value.reason.endswith(f"(SMTP {reply[:9]})")
    assert_no_address(raised.value)


def test_a_refused_connection_is_temporary() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens on it once closed
    server = FakeSmtp()
    server.port = port
    with pytest.raises(TemporaryFailure) as raised:
        connector(server).deliver(row())
    assert raised.value.reason == "cannot reach the mail server (ConnectionRefusedError)"


def test_a_server_that_never_answers_is_a_temporary_timeout() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the connection, never greets
        server = FakeSmtp()
        server.port = silent.getsockname()[1]
        mail = Smtp(config(server), Clock(), timeout=0.3)
        with pytest.raises(TemporaryFailure) as raised:
            mail.deliver(row())
    assert "cannot reach the mail server" in raised.value.reason


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"host": None}, "PERSONVERN_SMTP_HOST"),
        ({"sender": None}, "PERSONVERN_SMTP_FROM"),
        ({"sender": "not an address"}, "PERSONVERN_SMTP_FROM to one e-mail address"),
        ({"port": None}, "PERSONVERN_SMTP_PORT"),
        ({"user": "mailer", "password": None}, "PERSONVERN_SMTP_PASSWORD"),
    ],
)
def test_missing_settings_leave_the_row_waiting_and_nothing_is_sent(changes: dict[str, object], named: str) -> None:
    with FakeSmtp() as server:
        with pytest.raises(WaitingForCredentials) as waiting:
            connector(server, **changes).deliver(row())
        assert server.messages == []
    assert any(m.startswith(named) for m in waiting.value.missing)


@pytest.mark.parametrize(
    "bad",
    [
        row(to=""),
        row(body=""),
        row(to="a@example.no, b@example.no"),
        row(subject="Code\r\nBcc: someone@example.no"),
    ],
)
def test_a_row_that_cannot_be_one_message_to_one_address_is_permanent(bad: OutboxRow) -> None:
    with FakeSmtp() as server:
        with pytest.raises(PermanentFailure) as refused:
            connector(server).deliver(bad)
        assert server.messages == []
    assert "@" not in refused.value.reason
