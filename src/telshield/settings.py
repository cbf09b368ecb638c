"""Settings, read once at start-up (environment, then an optional TOML file) and passed down.

Environment variables use the prefix ``TELSHIELD_`` and ``__`` between a section and its key,
e.g. ``TELSHIELD_DATA_DIR=/srv/telshield`` or ``TELSHIELD_STORE__URL=postgresql+psycopg://...``.
Each area owns one section class below; nothing here imports the rest of telshield.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseModel):
    """How feeds are read and validated."""

    chunk_rows: int = Field(default=1_000_000, gt=0, description="rows per chunk when streaming")
    earliest: str = Field(default="2000-01-01", description="timestamps before this are rejected")
    future_slack_days: int = Field(
        default=1, ge=0, description="timestamps more than this many days ahead are rejected"
    )


class StoreSettings(BaseModel):
    """The relational store."""

    url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir")


class Settings(BaseSettings):
    """All of telshield's settings."""

    model_config = SettingsConfigDict(
        env_prefix="TELSHIELD_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(default=Path("./data"), description="lake, quarantine, store, models")
    secret: SecretStr = Field(
        default=SecretStr("change-me-per-installation"),
        description="per-installation key for HMAC-SHA256 hashing of identities and addresses",
    )
    ingest: IngestSettings = IngestSettings()
    store: StoreSettings = StoreSettings()

    @property
    def lake_dir(self) -> Path:
        """Where the Parquet lake lives."""
        return self.data_dir / "lake"

    @property
    def quarantine_dir(self) -> Path:
        """Where rejected feed rows are kept, with their reasons."""
        return self.data_dir / "quarantine"

    @property
    def store_url(self) -> str:
        """The store's SQLAlchemy URL (SQLite in the data directory by default)."""
        return self.store.url or f"sqlite:///{(self.data_dir / 'telshield.db').as_posix()}"


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment, an optional TOML file, then explicit overrides."""
    values: dict[str, Any] = {}
    if config is not None:
        with config.open("rb") as f:
            values.update(tomllib.load(f))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
