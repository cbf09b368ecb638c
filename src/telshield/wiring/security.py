"""The installation secret: the audit chain's keys from it, and the refusal to serve or run
for real on the placeholder a fresh install ships with."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from telshield.domain.audit import AuditKey
from telshield.domain.errors import InvalidInput
from telshield.settings import PLACEHOLDER_SECRET, Settings

if TYPE_CHECKING:
    from telshield.store.lockout import SqlLockout

log = structlog.get_logger(__name__)


def placeholder(settings: Settings) -> bool:
    """Whether the installation still has the shipped placeholder secret (or none)."""
    value = settings.secret.get_secret_value()
    return not value or value == PLACEHOLDER_SECRET


def audit_key(settings: Settings) -> AuditKey | None:
    """The key new audit events are linked under; None (plain SHA-256) on the placeholder,
    which anyone can read in the source and so protects nothing."""
    if placeholder(settings):
        return None
    return AuditKey.from_secret(settings.secret.get_secret_value())


def audit_keys(settings: Settings) -> tuple[AuditKey, ...]:
    """The keys the chain verifies under: the current one first, then those of
    ``secret_previous`` (kept while events linked under them are verified)."""
    current = audit_key(settings)
    earlier = [AuditKey.from_secret(s.get_secret_value()) for s in settings.secret_previous
               if s.get_secret_value()]
    return tuple(k for k in ([current] if current else []) + earlier)


def refuse_placeholder(settings: Settings, what: str) -> None:
    """Refuse to ``what`` (serve, run) on the placeholder secret unless allowed on purpose."""
    if not placeholder(settings):
        return
    if settings.allow_placeholder_secret:
        log.warning("security.placeholder_secret", what=what,
                    detail="running on the shipped placeholder secret: the audit chain is "
                    "not keyed; development only")
        return
    raise InvalidInput(
        f"refusing to {what} with the placeholder installation secret: set TELSHIELD_SECRET "
        "(python3 -c \"import secrets; print(secrets.token_urlsafe(48))\"; see "
        "deploy/telshield.env.example), or allow it on purpose for development with "
        "allow_placeholder_secret = true (TELSHIELD_ALLOW_PLACEHOLDER_SECRET=true)")


def checkpoint_path(settings: Settings) -> Path:
    """Where the audit chain's checkpoints are appended (keep it off the database's disk)."""
    return settings.audit_checkpoints or settings.data_dir / "audit" / "checkpoints.jsonl"


def shared_lockout(settings: Settings, store: object) -> SqlLockout | None:
    """The wrong-key lock-out in ``store`` (every worker and host on it counts the same
    failures), or None when the store is not SQL (the API then counts in its process)."""
    from telshield.store.lockout import SqlLockout
    from telshield.store.sql import SqlStore

    if not isinstance(store, SqlStore):
        return None
    return SqlLockout(store.engine, settings.api.key_max_failures, settings.api.key_window_s)
