"""Settings, read once at start-up (environment, then an optional TOML file) and passed down.

Environment variables use the prefix ``TELSHIELD_`` and ``__`` between a section and its key,
e.g. ``TELSHIELD_DATA_DIR=/srv/telshield`` or ``TELSHIELD_STORE__URL=postgresql+psycopg://...``.
Each area owns one section class below; nothing here imports the rest of telshield.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseModel):
    """How feeds are read and validated."""

    chunk_rows: int = Field(default=1_000_000, gt=0, description="rows per chunk when streaming")
    earliest: str = Field(default="2000-01-01", description="timestamps before this are rejected")
    future_slack_days: int = Field(
        default=1, ge=0, description="timestamps more than this many days ahead are rejected"
    )
    reader: Literal["auto", "chunked"] = Field(
        default="auto", description="auto: DuckDB streams whole files; chunked: pyarrow chunks"
    )
    memory_limit: str = Field(default="4GB", description="DuckDB working memory while ingesting")


class StoreSettings(BaseModel):
    """The relational store."""

    url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite in data_dir")


class DetectSettings(BaseModel):
    """Early warning: feature windows, tier thresholds, rules and model locations."""

    windows: list[str] = Field(
        default=["1h", "24h", "7d"], description="sliding feature windows (m, h or d)"
    )
    lookback_days: int = Field(
        default=7, ge=0, description="history before the longest window, for 'new callee'"
    )
    watch: float = Field(default=0.5, ge=0, le=1, description="score from which to watch")
    verify: float = Field(default=0.7, ge=0, le=1, description="score from which to re-verify")
    suspend: float = Field(default=0.9, ge=0, le=1, description="score from which to suspend")
    rules_file: Path | None = Field(default=None, description="rules TOML; None = shipped rules")
    models_dir: Path | None = Field(default=None, description="None = <data_dir>/models")
    province: str = Field(default="Jiangsu", description="our province, for out-of-province homes")
    model_alone: float = Field(
        default=1.0, ge=0, le=1,
        description="model probability from which the model alone raises an alert (1 = never)",
    )


class DisposalSettings(BaseModel):
    """The disposal policy: the action each alert tier gets, deadlines, the appeal channel."""

    tier_actions: dict[str, str] = Field(
        default={"watch": "", "verify": "verify", "suspend": "restrict"},
        description="alert tier -> action (verify, restrict, suspend, confirm; '' = watch only)",
    )
    verify_hours: int = Field(default=24, gt=0, description="re-verify real name within (Art. 11)")
    restrict_hours: int = Field(default=72, gt=0, description="restricted, then suspended after")
    bar_devices: bool = Field(
        default=True,
        description="blacklist the IMEIs that restricted, suspended or police-blocked numbers used",
    )
    device_lookback_days: int = Field(default=7, gt=0, description="IMEIs used within this")
    device_bar_days: int = Field(default=180, gt=0, description="a device entry expires after")
    appeal_channel: str = Field(
        default="call 10086 or visit a China Mobile shop with your ID card",
        description="told to every user under a measure (Art. 32)",
    )


class ApiSettings(BaseModel):
    """The HTTP API (`telshield serve`)."""

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8080, gt=0, lt=65536, description="port to listen on")
    max_page: int = Field(default=1000, gt=0, description="largest page a listing returns")


class ScreeningSettings(BaseModel):
    """Real-time call screening: the engine, its snapshot and its SIP and HTTP faces."""

    snapshot_dir: Path | None = Field(
        default=None,
        description="published snapshots (versions + pointer); empty means "
        "data_dir/screening/snapshot",
    )
    reload_s: float = Field(default=30.0, gt=0, description="how often to look for a new snapshot")
    max_age_s: float = Field(default=3 * 3600.0, gt=0, description="older snapshots are stale")
    fail_open: bool = Field(default=True, description="allow calls when the snapshot is unusable")
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(default=5070, ge=0, le=65535)
    sip_metrics_port: int = Field(
        default=9470, ge=0, le=65535, description="Prometheus port of the SIP face; 0 = off"
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8070, ge=0, le=65535)
    http_workers: int = Field(default=1, ge=1)
    http_token: SecretStr = Field(
        default=SecretStr(""), description="bearer token the switch presents to the HTTP face"
    )
    http_allow_open: bool = Field(
        default=False,
        description="start the HTTP face without a token (warned in logs and metrics); "
        "without this a face with no token refuses to start",
    )
    snapshot_keep: int = Field(default=3, ge=1, description="published versions kept")
    default_ingress: str = Field(default="interconnect", description="when X-Ingress is absent")
    own_operator: str = Field(default="china_mobile", description="whose numbers are ours")
    own_province: str = Field(
        default="Jiangsu", description="our numbers' home province; empty = the whole operator"
    )
    redress_uri: str = Field(
        default="",
        description="appeal link sent with a 608 (?decision=<id> is added); empty means the "
        "API's POST /v1/appeals at api.host:api.port",
    )
    log_dir: Path | None = Field(
        default=None, description="decision log directory; empty means data_dir/screening/decisions"
    )
    log_allowed: bool = Field(default=False, description="log allowed calls too")
    log_max_bytes: int = Field(default=256 * 2**20, gt=0, description="rotate logs at this size")
    tier_watch: str = Field(default="label", description="outcome for numbers under watch")
    tier_verify: str = Field(
        default="reject", description="outcome for numbers to re-verify (until they do)"
    )
    tier_suspend: str = Field(default="reject", description="outcome for numbers to suspend")
    label_calls_per_minute: int = 8
    reject_calls_per_minute: int = 20
    label_callees_per_minute: int = 6
    reject_callees_per_minute: int = 15
    label_calls_per_hour: int = 120
    reject_calls_per_hour: int = 400
    label_callees_per_hour: int = 40
    reject_callees_per_hour: int = 120
    max_tracked_callers: int = Field(default=2_000_000, gt=0)
    max_tracked_pairs: int = Field(default=8_000_000, gt=0, description="caller-callee pairs")


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
    screening: ScreeningSettings = ScreeningSettings()
    disposal: DisposalSettings = DisposalSettings()
    api: ApiSettings = ApiSettings()
    detect: DetectSettings = DetectSettings()

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
