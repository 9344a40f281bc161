"""E-mail over SMTP through the company's own mail server: one plain-text message per outbox row of kind "email".

A row's personal part is {"to": address, "subject": text, "body": plain text}. The message goes over STARTTLS
(or implicit TLS on port 465), with a login when a user is set. Its Message-ID is made from the row's id, so a
row sent again after a worker died between sending and recording carries the same Message-ID: the receiving
servers, and whoever looks at the mail logs, can tell the copy from a new message. Its Date comes from the
injected clock.

What the server answers becomes one of `connectors.errors`: a 4xx reply, a refused connection or a timeout may
work later (TemporaryFailure); a 5xx reply cannot work as sent (PermanentFailure). Reasons hold the SMTP reply
codes only, never the server's text, which often quotes the address (the reason ends up in `last_error`).
"""

from __future__ import annotations

import ipaddress
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, NoReturn, Protocol

from personvern.connectors.errors import PermanentFailure, TemporaryFailure, WaitingForCredentials
from personvern.domain.outbox import OutboxRow

KIND = "email"
DEFAULT_PORT = 587  # message submission (RFC 6409), upgraded with STARTTLS
IMPLICIT_TLS_PORT = 465  # submission over TLS from the first byte (RFC 8314)
TIMEOUT = 15.0  # seconds for the connection and for each reply; within the worker's lease (connectors/worker.py)
ENHANCED = re.compile(rb"\s*([245]\.\d{1,3}\.\d{1,3})\b")  # RFC 3463's status code at the start of a reply


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SmtpConfig:
    """The mail server: host, port, an optional login, and the sender (From) of every message."""

    host: str | None = None
    port: int | None = DEFAULT_PORT  # None: PERSONVERN_SMTP_PORT is set to something that is no port
    user: str | None = None
    password: str | None = None
    sender: str | None = None

    def missing(self) -> list[str]:
        missing = [
            name
            for name, value in (("PERSONVERN_SMTP_HOST", self.host), ("PERSONVERN_SMTP_FROM", self.sender))
            if not value
        ]
        if self.port is None:
            missing.append("PERSONVERN_SMTP_PORT to a TCP port from 1 to 65535 (587 for STARTTLS, 465 for TLS)")
        if self.user and not self.password:
            missing.append("PERSONVERN_SMTP_PASSWORD (PERSONVERN_SMTP_USER is set)")
        if self.password and not self.user:
            missing.append("PERSONVERN_SMTP_USER (PERSONVERN_SMTP_PASSWORD is set)")
        if self.sender and _sender_address(self.sender) is None:
            missing.append("PERSONVERN_SMTP_FROM to one e-mail address, e.g. personvern@example.no")
        return missing


def _sender_address(sender: str) -> str | None:
    """The bare address of a From setting ("Name <a@b>" or "a@b"), or None when it is not one address."""
    message = EmailMessage()
    try:
        message["From"] = sender
        addresses = message["From"].addresses
    except (ValueError, TypeError, IndexError):
        return None
    if len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        return None
    return str(addresses[0].addr_spec)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def message_id(row_id: str, sender: str) -> str:
    """The same Message-ID for every attempt at one row (RFC 5322 §3.6.4: unique per message, not per attempt)."""
    address = _sender_address(sender) or "personvern@localhost"
    return f"<outbox.{row_id}@{address.rpartition('@')[2]}>"


def _reply(code: int, text: bytes | str | None) -> str:
    """ "SMTP 550 5.1.1": the reply code and its enhanced status code, without the text (it may quote the address)."""
    raw = text.encode(errors="replace") if isinstance(text, str) else (text or b"")
    enhanced = ENHANCED.match(raw)
    return f"SMTP {code}" + (f" {enhanced.group(1).decode()}" if enhanced else "")


def _refused(code: int, text: bytes | str | None, what: str) -> NoReturn:
    where = _reply(code, text)
    if 400 <= code < 500:
        raise TemporaryFailure(f"the mail server deferred {what} ({where})")
    raise PermanentFailure(f"the mail server refused {what} ({where})")


class Smtp:
    kind = KIND

    def __init__(
        self,
        config: SmtpConfig,
        clock: Clock,
        *,
        timeout: float = TIMEOUT,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._timeout = timeout
        self._tls = tls  # None: the system's trusted certificates, host name checked (tests pass their own)

    def message(self, row: OutboxRow) -> EmailMessage:
        personal = row.personal or {}
        to, subject, body = personal.get("to"), personal.get("subject"), personal.get("body")
        if not to or not isinstance(body, str) or not body:
            raise PermanentFailure("the row holds no address or text")
        message = EmailMessage()
        try:
            message["From"] = self._config.sender or ""
            message["To"] = str(to)
            message["Subject"] = str(subject or "")
            recipients = message["To"].addresses
        except (ValueError, TypeError, IndexError):
            # A line break in a header (injection) or an address that cannot be written in one.
            raise PermanentFailure("the row's address or subject cannot be written in a message header") from None
        if len(recipients) != 1 or not isinstance(recipients[0], Address) or not recipients[0].domain:
            raise PermanentFailure("the row's address is not one e-mail address")
        message["Date"] = format_datetime(self._clock.now())
        message["Message-ID"] = message_id(row.id, self._config.sender or "")
        message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a code
        message.set_content(body)
        return message

    def deliver(self, row: OutboxRow) -> dict[str, Any]:
        missing = self._config.missing()
        if missing:
            raise WaitingForCredentials(missing)
        message = self.message(row)
        recipient = str(message["To"].addresses[0].addr_spec)
        try:
            self._send(message, recipient)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure(
                "the mail server refused the login: check PERSONVERN_SMTP_USER and PERSONVERN_SMTP_PASSWORD "
                f"({_reply(exc.smtp_code, exc.smtp_error)})"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (554, b""))
            _refused(code, text, "the recipient")
        except smtplib.SMTPSenderRefused as exc:
            if 400 <= exc.smtp_code < 500:
                _refused(exc.smtp_code, exc.smtp_error, "the sender")
            where = _reply(exc.smtp_code, exc.smtp_error)
            raise PermanentFailure(
                f"the mail server refused the sender: check PERSONVERN_SMTP_FROM ({where})"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentFailure(
                "the mail server cannot take an address with letters beyond ASCII (no SMTPUTF8)"
            ) from None
        except smtplib.SMTPResponseException as exc:  # the greeting, DATA, or any other reply
            _refused(exc.smtp_code, exc.smtp_error, "the message")
        except ssl.SSLCertVerificationError:
            raise PermanentFailure(
                "the mail server's certificate is not valid for PERSONVERN_SMTP_HOST (TLS certificate check failed)"
            ) from None
        except (smtplib.SMTPServerDisconnected, TimeoutError, OSError) as exc:  # ssl.SSLError is an OSError
            raise TemporaryFailure(f"cannot reach the mail server ({type(exc).__name__})") from None
        except smtplib.SMTPException as exc:
            raise TemporaryFailure(f"the mail server did not take the message ({type(exc).__name__})") from None
        return {"message_id": message["Message-ID"]}

    def _send(self, message: EmailMessage, recipient: str) -> None:
        c = self._config
        host, port = c.host or "", c.port or DEFAULT_PORT
        context = self._tls or ssl.create_default_context()
        client: smtplib.SMTP
        if port == IMPLICIT_TLS_PORT:
            client = smtplib.SMTP_SSL(host, port, timeout=self._timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=self._timeout)
        with client:
            client.ehlo()
            if port != IMPLICIT_TLS_PORT:
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif not loopback(host):
                    # The code and the address would cross the network in the clear (Art. 32(1)(a)). Only a
                    # server on this machine (a local relay, a test server) may take them without TLS: nothing
                    # leaves the machine on that hop.
                    raise PermanentFailure(
                        "the mail server at PERSONVERN_SMTP_HOST offers no STARTTLS: use one that does "
                        f"(or port {IMPLICIT_TLS_PORT} for TLS); messages are not sent in the clear"
                    )
            if c.user:
                try:
                    client.login(c.user, c.password or "")
                except smtplib.SMTPNotSupportedError:
                    raise PermanentFailure(
                        "the mail server offers no login: unset PERSONVERN_SMTP_USER and PERSONVERN_SMTP_PASSWORD, "
                        "or check PERSONVERN_SMTP_HOST"
                    ) from None
            client.send_message(message, to_addrs=[recipient])
