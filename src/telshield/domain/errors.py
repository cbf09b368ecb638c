"""The one error tree. Edges (api/, cli/) map these to status codes and exit codes once."""

from __future__ import annotations


class TelshieldError(Exception):
    """Base of every error telshield raises on purpose; the message says what to do."""


class InvalidInput(TelshieldError):
    """Input that cannot be used: a bad file, field, argument or value."""


class NotFound(TelshieldError):
    """A thing that was asked for does not exist."""


class Conflict(TelshieldError):
    """The request clashes with the current state (an illegal transition, a duplicate)."""


class Forbidden(TelshieldError):
    """The actor's role does not allow this."""


class Unauthenticated(TelshieldError):
    """No valid credentials were presented."""


class Unavailable(TelshieldError):
    """A dependency (database, snapshot, lake) is missing or unreachable."""


class RateLimited(Unauthenticated):
    """Too many failed attempts to authenticate: refused until ``retry_after`` seconds pass."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
