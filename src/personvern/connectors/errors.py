"""The connectors' one exception tree; the worker maps each class once to what happens to an outbox row.

ConnectorError                       any failure to hand a row to its receiver
├── TemporaryFailure(retry_after)    may work later: 5xx, timeouts, connection errors, throttling.
│                                    The row is tried again after the back-off, or after Retry-After
│                                    seconds when the receiver said so; after N attempts it is dead.
├── PermanentFailure(reason)         cannot work as sent: bad credentials, a refused platform id or gate,
│                                    a refused request. The row is dead at once, with the reason.
└── WaitingForCredentials(missing)   the connector is not configured. The row stays pending, is not
                                     counted as an attempt, and says which settings are missing.

Messages never hold personal data: they end up in `outbox.last_error`, which anyone with outbox access reads.
"""

from __future__ import annotations


class ConnectorError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(ConnectorError):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after  # seconds, from the receiver's Retry-After


class PermanentFailure(ConnectorError):
    pass


class WaitingForCredentials(ConnectorError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"waiting for credentials: set {', '.join(missing)}")
        self.missing = missing
