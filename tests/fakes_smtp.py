"""A local SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts, for tests that read codes.

Use it as a context manager; it listens on a free port of 127.0.0.1 from `__enter__` to `__exit__`:

    from tests.fakes_smtp import FakeSmtp, pointed_at

    with FakeSmtp() as smtp:                     # FakeSmtp(user="mailer", password="pw") requires AUTH LOGIN/PLAIN
        env = {**os.environ, **smtp.env}         # PERSONVERN_SMTP_HOST/_PORT/_FROM (and _USER/_PASSWORD) to reach it
        ...                                      # run `personvern serve` / the worker with env
        message = smtp.wait_for("kari@example.no", timeout=5)   # the newest message to that address (EmailMessage)
        code = smtp.code_for("kari@example.no", timeout=5)      # the six-digit code in the newest message's body
        smtp.messages                            # every accepted message, oldest first (email.message.EmailMessage)
        smtp.envelopes                           # (mail_from, [rcpt_tos]) of each, as the client sent them

    with FakeSmtp() as smtp, pointed_at(smtp, monkeypatch): ...   # the same settings, set with monkeypatch

Scripting failures: `smtp.refuse("nobody@example.no")` answers RCPT TO for that address with 550 (a bad
recipient, for ever); `smtp.then("451 4.3.0 try again later")` answers the next RCPT TO with the given reply,
once (e.g. a 4xx greylisting, or a 5xx). `smtp.host`/`smtp.port` say where it listens.

By default it offers no STARTTLS (the connector allows that only on a loopback host). `FakeSmtp(starttls=True)`
offers it with a self-signed certificate for 127.0.0.1 and requires it before MAIL; `smtp.client_tls` is an
`ssl.SSLContext` that trusts that certificate (the connector's `tls=`), `smtp.tls_sessions` counts the
messages that came over TLS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SENDER = "personvern@example.no"
CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def _free_port() -> int:
    # aiosmtpd's controller connects to its own port once started, so it needs a real one (not 0) up front.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Controller(Controller):
    def factory(self) -> Any:
        # The fake's AUTH runs without TLS on purpose (loopback only); aiosmtpd warns of it on every connection.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)
            return super().factory()


def _self_signed() -> tuple[bytes, bytes]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class FakeSmtp:
    def __init__(
        self, user: str | None = None, password: str | None = None, sender: str = SENDER, starttls: bool = False
    ) -> None:
        self.user = user
        self.password = password
        self.sender = sender
        self.host = "127.0.0.1"
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []  # the user of every successful AUTH
        self._refused: set[str] = set()
        self._script: list[str] = []
        self._changed = threading.Condition()
        self._controller: Controller | None = None
        self.starttls = starttls
        self.tls_sessions = 0
        self.client_tls: ssl.SSLContext | None = None
        self._server_tls: ssl.SSLContext | None = None
        if starttls:
            cert, key = _self_signed()
            with tempfile.TemporaryDirectory() as folder:
                (cert_file, key_file) = (f"{folder}/cert.pem", f"{folder}/key.pem")
                for path, data in ((cert_file, cert), (key_file, key)):
                    with open(path, "wb") as out:
                        out.write(data)
                self._server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self._server_tls.load_cert_chain(cert_file, key_file)
            self.client_tls = ssl.create_default_context(cadata=cert.decode())

    # -- scripting
    def refuse(self, address: str) -> FakeSmtp:
        self._refused.add(address.lower())
        return self

    def then(self, *replies: str) -> FakeSmtp:
        with self._changed:
            self._script.extend(replies)
        return self

    # -- reading what arrived
    @property
    def env(self) -> dict[str, str]:
        """The PERSONVERN_SMTP_* settings that point personvern at this server."""
        settings = {
            "PERSONVERN_SMTP_HOST": self.host,
            "PERSONVERN_SMTP_PORT": str(self.port),
            "PERSONVERN_SMTP_FROM": self.sender,
        }
        if self.user is not None:
            settings["PERSONVERN_SMTP_USER"] = self.user
        if self.password is not None:
            settings["PERSONVERN_SMTP_PASSWORD"] = self.password
        return settings

    def to(self, address: str) -> list[EmailMessage]:
        """Every message whose envelope named `address` as a recipient, oldest first."""
        wanted = address.lower()
        with self._changed:
            return [m for m, (_, rcpts) in zip(self.messages, self.envelopes, strict=True) if wanted in rcpts]

    def wait_for(self, address: str, timeout: float = 5.0, after: int = 0) -> EmailMessage:
        """The newest message to `address` once there are more than `after` of them; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = self.to(address)
                if len(found) > after:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no message to {address} within {timeout} s (have {len(self.messages)})")
                self._changed.wait(left)

    def code_for(self, address: str, timeout: float = 5.0, after: int = 0) -> str:
        """The six-digit code in the body of the newest message to `address` (see `wait_for`)."""
        message = self.wait_for(address, timeout, after)
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else str(message.get_payload())
        match = CODE.search(text)
        if match is None:
            raise AssertionError("the newest message holds no six-digit code")
        return match.group(1)

    # -- aiosmtpd's handler hooks
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self._changed:
            scripted = self._script.pop(0) if self._script else None
        if scripted is not None:
            return scripted
        if address.lower() in self._refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.tls_sessions += int(session.ssl is not None)
            self.messages.append(message)
            self.envelopes.append((str(envelope.mail_from), [str(a).lower() for a in envelope.rcpt_tos]))
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            self.user,
            self.password,
        ):
            self.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    # -- the server
    def __enter__(self) -> FakeSmtp:
        self.port = _free_port()
        options: dict[str, Any] = {}
        if self.user is not None:
            # No TLS on a loopback test server, so AUTH must be allowed in the clear.
            options = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        if self._server_tls is not None:
            options |= {"tls_context": self._server_tls, "require_starttls": True}
        self._controller = _Controller(self, hostname=self.host, port=self.port, **options)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@contextmanager
def pointed_at(smtp: FakeSmtp, monkeypatch: Any) -> Iterator[FakeSmtp]:
    """Set the PERSONVERN_SMTP_* variables to reach a running `smtp` (and unset user/password it does not want)."""
    for name in ("PERSONVERN_SMTP_USER", "PERSONVERN_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in smtp.env.items():
        monkeypatch.setenv(name, value)
    yield smtp
