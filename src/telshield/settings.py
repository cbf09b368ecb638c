"""Settings, read once at start-up (environment, then an optional TOML file) and passed down.

Environment variables use the prefix ``TELSHIELD_`` and ``__`` between a section and its key,
e.g. ``TELSHIELD_DATA_DIR=/srv/telshield`` or ``TELSHIELD_STORE__URL=postgresql+psycopg://...``.
A key that names no setting, in a file or in the environment, is refused with the nearest valid
one: a misspelt key silently ignored would leave a default in force that the operator believes
changed. Each area owns one section class below; nothing here imports the rest of telshield but
the error it raises.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import tomllib
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from telshield.domain.errors import InvalidInput

PREFIX = "TELSHIELD_"
# Variables under the prefix that are not settings: the CLI's root options, the file the ASGI
# factories read, the test suite's database, and where `screen http --workers N` tells its
# workers to meet (screening.passon).
NOT_SETTINGS = frozenset({"config", "log_level", "log_json", "test_database_url",
                          "screening_http_run_dir"})
SENSITIVE = ("secret", "token", "password", "url")
PLACEHOLDER_SECRET = "change-me-per-installation"  # what a fresh install ships with


def duration(value: str) -> str:
    """``value`` when it is a duration like ``30m``, ``6h`` or ``1d`` (a whole positive number
    of minutes, hours or days); ValueError otherwise."""
    t = value.strip()
    if not re.fullmatch(r"[0-9]+[mhd]", t) or int(t[:-1]) <= 0:
        raise ValueError(f"{value!r} is not a duration like 30m, 6h or 1d")
    return t


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
    max_field_bytes: int = Field(
        default=131_072, gt=0, description="a longer text field is quarantined (field_too_long)")
    max_line_bytes: int = Field(
        default=1 << 20, ge=4096,
        description="a longer CSV line is quarantined unread, its start kept (field_too_long)")
    profile_dir: Path | None = Field(
        default=None, description="feed profiles named by --profile NAME (NAME.toml); "
        "empty means data_dir/profiles")


class StreamSettings(BaseModel):
    """Streaming ingest of CDR and SMS micro-batches from NATS JetStream (docs/streaming.md)."""

    url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL")
    stream: str = Field(default="TELSHIELD_FEEDS", description="JetStream stream name")
    durable: str = Field(
        default="", description="durable consumer name; empty = telshield-ingest-<feed>")
    batch: int = Field(default=100, gt=0, description="messages a micro-batch")
    max_wait_s: float = Field(
        default=2.0, gt=0, description="the longest a fetch waits for the first message")
    ack_wait_s: float = Field(
        default=60.0, gt=0,
        description="a message not acknowledged this long (its consumer died) comes again")
    max_ack_pending: int = Field(
        default=10_000, gt=0, description="messages delivered but unacknowledged, at most")
    publish_rows: int = Field(default=5000, gt=0, description="records a published message")


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
    device_min_sims: int = Field(
        default=3, ge=2,
        description="a handset this many SIMs used in the look-back window is barred with a "
        "restricted or suspended number (one SIM is everyone's phone)",
    )
    device_fresh_days: float = Field(
        default=3.0, ge=0,
        description="a handset first seen within this many days (on data reaching further back) "
        "is barred with a restricted or suspended number; 0 = never for being new",
    )
    offnet_days: int = Field(
        default=30, gt=0,
        description="a block or label on a suspected number we do not hold expires after",
    )
    new_evidence_margin: float = Field(
        default=0.1, ge=0, le=1,
        description="a released number is acted on again only on a stronger tier, a new rule "
        "reason, or a score this much above the highest its released case saw",
    )
    appeal_channel: str = Field(
        default="call 10086 or visit a China Mobile shop with your ID card",
        description="told to every user under a measure (Art. 32)",
    )

    @model_validator(mode="after")
    def _fresh_within_lookback(self) -> DisposalSettings:
        # A handset's first call is looked for inside the look-back window only: a fresh period
        # as long as the window could never be told from "seen all along", so it would silently
        # bar nothing for being new.
        if self.device_fresh_days >= self.device_lookback_days:
            raise ValueError(
                f"device_fresh_days ({self.device_fresh_days}) must be below "
                f"device_lookback_days ({self.device_lookback_days}); 0 turns it off")
        return self


class ApiSettings(BaseModel):
    """The HTTP API (`telshield serve`)."""

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8080, gt=0, lt=65536, description="port to listen on")
    max_page: int = Field(default=1000, gt=0, description="largest page a listing returns")
    metrics_host: str = Field(default="127.0.0.1", description="address of the metrics port")
    metrics_port: int = Field(
        default=9471, ge=0, lt=65536, description="Prometheus /metrics port (no key); 0 = off"
    )
    max_body_bytes: int = Field(
        default=8 * 2**20, gt=0,
        description="largest request body; a bigger one is refused (413) before it is parsed")
    key_max_failures: int = Field(
        default=20, gt=0,
        description="wrong API keys from one client address, or of one key, within "
        "key_window_s before it is locked out (429 with Retry-After)")
    key_window_s: float = Field(
        default=300.0, gt=0, description="the window of key_max_failures, in seconds")
    trace_files_max_age_s: float = Field(
        default=5.0, ge=0,
        description="the trace (API and pages) checks the lake's files for new data at most "
        "this often, in seconds (0: on every trace)")


class ListsSettings(BaseModel):
    """Black/white/grey lists."""

    white_min_digits: int = Field(
        default=7, ge=0, le=15,
        description="a white prefix or range pinning fewer leading digits than this (it "
        "whitelists many numbers) is added only by an admin; 0 = no bound")


class ScreeningSettings(BaseModel):
    """Real-time call screening: the engine, its snapshot and its SIP and HTTP faces."""

    snapshot_dir: Path | None = Field(
        default=None,
        description="published snapshots (versions + pointer); empty means "
        "data_dir/screening/snapshot",
    )
    reload_s: float = Field(default=30.0, gt=0, description="how often to look for a new snapshot")
    location_updates_s: float = Field(
        default=2.0, gt=0,
        description="how often the faces read new roaming location updates (at most reload_s)")
    max_age_s: float = Field(default=3 * 3600.0, gt=0, description="older snapshots are stale")
    fail_open: bool = Field(default=True, description="allow calls when the snapshot is unusable")
    sip_host: str = "127.0.0.1"
    sip_peers: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="addresses or networks (CIDR) of the switches the SIP face answers; "
        "anyone else's datagrams are dropped unanswered",
    )
    sip_port: int = Field(default=5070, ge=0, le=65535)
    sip_metrics_port: int = Field(
        default=9480, ge=0, le=65535,
        description="Prometheus port of the SIP face (worker i of several: this + i, so "
        "9480-9489 for up to ten workers, clear of the API's 9471 and the cycle's 9472); 0 = off",
    )
    sip_workers: int = Field(
        default=1, ge=1,
        description="SIP worker processes sharing sip_port (SO_REUSEPORT); each caller's "
        "calls are decided by one of them, so velocity counts stay exact")
    sip_affinity: bool = Field(
        default=True,
        description="with several SIP workers, pass each INVITE to the worker owning its "
        "caller; false (measurement only) splits each caller's velocity counts over workers")
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
    trunk_carriers: dict[str, Literal[
        "china_mobile", "china_unicom", "china_telecom", "china_broadnet"]] = Field(
        default_factory=dict,
        description="the SIP face's interconnect trunk groups (RFC 4904 tgrp in the "
        "Request-URI) and the partner carrier of each, e.g. {\"CU-NJ-01\" = "
        "\"china_unicom\"}: a mobile handed over by a carrier that does not serve it is "
        "refused (spoof:wrong_carrier); an X-Ingress-Carrier header names it directly")
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
    wrong_carrier: str = Field(
        default="reject",
        description="outcome for a mobile handed over on interconnect by a carrier that does "
        "not serve it (spoof:wrong_carrier); label first to watch what it would refuse")
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


class CycleSettings(BaseModel):
    """The operating cycle (`telshield run`): what each tick does and how often."""

    every: str = Field(default="1h", description="time between ticks (m, h or d)")
    detect_every: str = Field(
        default="1h", description="time between detection runs (a tick detects when due)"
    )
    watch_dir: Path | None = Field(
        default=None, description="drop folder, one sub-folder per feed; empty = no ingest"
    )
    settle_seconds: float = Field(
        default=2.0, ge=0, description="a dropped file unchanged this long is complete"
    )
    watch_profiles: dict[str, str] = Field(
        default_factory=dict, description="feed folder of watch_dir -> feed profile its files "
        "are read through (a name in ingest.profile_dir, or a path)"
    )
    state_dir: Path | None = Field(default=None, description="empty means data_dir/cycle")
    use_model: bool = Field(
        default=False, description="score with the chosen model as well as the rules"
    )
    protect_victims: bool = Field(
        default=True, description="protect callees of numbers under warning"
    )
    protect_days: int = Field(
        default=14, gt=0, description="callees called by a warned number within this are protected"
    )
    device_classes: bool = Field(
        default=True, description="bar GOIP / SIM-bank TACs listed in the device_intel feed"
    )
    roaming_days: int = Field(
        default=90, gt=0, description="location updates read back this far to know who is abroad"
    )
    keep_snapshots: int = Field(default=3, gt=0, description="published versions kept")
    metrics_port: int = Field(
        default=9472, ge=0, le=65535, description="Prometheus port of `telshield run`; 0 = off"
    )
    metrics_host: str = Field(default="127.0.0.1", description="address of the metrics port")


class RegistrationSettings(BaseModel):
    """The registration check (入网核验): each rule's setting and the appeal channel. Counts
    include the application being checked; a rule fires above its setting."""

    cards_per_id: int = Field(
        default=5, gt=0, description="numbers per ID with us; a card beyond is refused (Art. 10)"
    )
    cards_30d_verify: int = Field(
        default=3, gt=0, description="cards per ID in 30 days above which to verify in person"
    )
    staff_hour_verify: int = Field(
        default=20, gt=0, description="registrations per staff ID per hour above which to verify"
    )
    staff_hour_refuse: int = Field(
        default=60, gt=0, description="registrations per staff ID per hour above which to refuse"
    )
    terminal_hour_verify: int = Field(
        default=20, gt=0, description="registrations per terminal per hour above which to verify"
    )
    terminal_hour_refuse: int = Field(
        default=60, gt=0, description="registrations per terminal per hour above which to refuse"
    )
    order_24h_verify: int = Field(
        default=3, gt=0,
        description="e-channel orders sharing an address, contact, device or IP in 24 hours "
        "above which to verify",
    )
    appeal_channel: str = Field(
        default="call 10086 or visit a China Mobile shop with your ID card to appeal "
        "(Anti-Telecom-Fraud Law Art. 32)",
        description="told to an applicant who is refused or sent to verification (Art. 32)",
    )
    pending_days: float = Field(
        default=7.0, gt=0,
        description="a number allowed or sent to verification counts under the ID this long "
        "while the subscribers feed does not show it yet",
    )
    refresh_minutes: float = Field(
        default=15.0, ge=0,
        description="the lake's subscribers and sanctions are re-read when the in-memory index "
        "is older than this; 0 = read once",
    )
    statement_wording: str = Field(
        default="我本人实名登记并领取了尾号{last4}的电话卡",
        description="the video statement the applicant reads; {last4} is where the last four "
        "digits of the number applied for are said",
    )
    statement_threshold: float = Field(
        default=0.8, gt=0, le=1,
        description="the score (0-1] a video statement transcript needs to pass",
    )
    statement_required: bool = Field(
        default=False,
        description="every application must carry a video statement transcript "
        "(statement_missing otherwise)",
    )
    statement_on_fail: Literal["verify", "refuse"] = Field(
        default="verify",
        description="the decision for a missing or failed video statement: verify (the clerk "
        "re-records it in person) or refuse",
    )
    statement_retake: bool = Field(
        default=True,
        description="a near miss (the tail a few digits off, the rest heard) is answered "
        "retake: the applicant is recorded once more and the request sent again with "
        "retake_transcript, judged strictly (the tail exact); one retake per ID and number",
    )
    statement_retake_tail_edits: int = Field(
        default=1, ge=0, le=2,
        description="a near miss's tail is at most this many digit edits (one misheard, "
        "dropped or added) from the number's",
    )
    statement_retake_score: float = Field(
        default=0.9, gt=0, le=1,
        description="a near miss's whole statement, tail included, scores at least this",
    )
    statement_model: Path | None = Field(
        default=None,
        description="the offline speech recogniser's model folder (Vosk, Chinese); none = "
        "transcripts only",
    )

    risk_share_verify: float = Field(
        default=0.02, ge=0, le=1,
        description="verify an application whose channel or staff ID's share of registrations "
        "later alerted, clued or confirmed fraud (Wilson 95% lower bound) is above this; "
        "1 = never",
    )
    risk_min_count: int = Field(
        default=20, gt=0,
        description="registrations a channel, staff ID or terminal needs to be ranked or to "
        "count in the check",
    )
    risk_days: float = Field(
        default=365.0, ge=0,
        description="registrations of the last this many days are counted for risk; 0 = all",
    )
    risk_refresh_minutes: float = Field(
        default=60.0, ge=0,
        description="the in-memory risk ranking the check reads is recomputed when older than "
        "this; 0 = once",
    )

    @model_validator(mode="after")
    def _wording_has_slot(self) -> RegistrationSettings:
        # The tail is the fraud signal: a wording without it could not catch a mule's card.
        if self.statement_wording.count("{last4}") != 1:
            raise ValueError("statement_wording must contain {last4} exactly once, where the "
                             "last four digits of the number applied for are read")
        if len(self.statement_wording.replace("{last4}", "").strip()) < 4:
            raise ValueError("statement_wording needs a sentence around {last4}")
        return self

    @model_validator(mode="after")
    def _refuse_above_verify(self) -> RegistrationSettings:
        # A refusal threshold at or below the verify one would make verification unreachable.
        for what in ("staff", "terminal"):
            v, r = getattr(self, f"{what}_hour_verify"), getattr(self, f"{what}_hour_refuse")
            if r <= v:
                raise ValueError(f"{what}_hour_refuse ({r}) must be above "
                                 f"{what}_hour_verify ({v})")
        return self


class GangSettings(BaseModel):
    """Card-trafficking gangs (开卡贩卡团伙): how the registration graph is built and when a
    community becomes a gang case (docs/gangs.md)."""

    in_cycle: bool = Field(default=False, description="find gangs in the operating cycle")
    every: str = Field(
        default="1d", description="time between the cycle's gang finds (m, h or d)"
    )
    lookback_days: int = Field(default=120, gt=0, description="cards registered this far back")
    burst_hours: int = Field(
        default=24, gt=0, description="a staff ID's or terminal's registrations within this link"
    )
    id_days: int = Field(default=30, gt=0, description="cards of one ID within this link")
    max_group: int = Field(
        default=50, ge=2, description="an attribute value shared by more cards is ignored"
    )
    use_imei: bool = Field(default=True, description="link cards first used in the same phone")
    annex: bool = Field(
        default=True, description="join a gang's parts that Leiden cut apart but that met "
        "through its staff's bursts at its own stores"
    )
    threshold: float = Field(default=0.5, ge=0, le=1, description="score from which a gang")
    min_cards: int = Field(default=5, ge=2, description="fewest cards of a gang")
    min_openers: int = Field(
        default=3, ge=1, description="fewest IDs with several cards within id_days in a gang"
    )
    weight_bulk: float = Field(default=0.45, ge=0, description="weight of cards per ID in days")
    weight_cross: float = Field(default=0.35, ge=0, description="weight of links across IDs")
    weight_flagged: float = Field(
        default=0.2, ge=0, description="weight of cards later alerted, clued or disposed"
    )

    @field_validator("every")
    @classmethod
    def _every_is_a_duration(cls, value: str) -> str:
        return duration(value)


class HotspotSettings(BaseModel):
    """Out-of-town concentration hotspots (外地号码聚集): the space-time scan (docs/hotspots.md)."""

    in_cycle: bool = Field(default=False, description="scan for hotspots on each cycle tick")
    bucket_hours: int = Field(default=6, gt=0, description="time bucket of the scan")
    scan_hours: int = Field(
        default=24, gt=0, description="longest recent window scanned (a multiple of buckets)"
    )
    baseline_days: int = Field(default=7, gt=0, description="a county's own history before it")
    replicates: int = Field(default=999, ge=99, description="Monte Carlo replicates")
    alpha: float = Field(default=0.01, gt=0, le=1, description="p-value from which an alert")
    min_numbers: int = Field(default=2, ge=1, description="fewest numbers in a hotspot")
    min_factor: float = Field(
        default=3.0, ge=1, description="fewest times the county's own baseline"
    )
    min_callees: int = Field(
        default=5, ge=1, description="fewest distinct callees of a suspicious number"
    )


class EngineSettings(BaseModel):
    """Where detection's lazy expressions run: DuckDB in this process, or a Spark session."""

    name: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="duckdb (one machine) or spark (a Spark session)")
    spark_master: str = Field(
        default="local[*]", description="the Spark master: local[N], yarn, k8s://https://HOST:PORT")
    spark_app_name: str = Field(default="telshield", description="the Spark application's name")
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="more Spark configuration (spark.executor.memory, spark.executor.instances, "
        "spark.sql.shuffle.partitions, ...), passed to the session as given")


class DenSettings(BaseModel):
    """GOIP dens (窝点): the den profile and the window each ``dens find`` reads
    (docs/dens.md)."""

    profile: Path | None = Field(
        default=None, description="den profile TOML (default: the shipped profile)"
    )
    lookback_hours: int = Field(default=72, gt=0, description="calls read by each dens find")
    in_cycle: bool = Field(default=False, description="find dens in the operating cycle")
    every: str = Field(
        default="6h", description="time between the cycle's den finds (m, h or d)"
    )

    @field_validator("every")
    @classmethod
    def _every_is_a_duration(cls, value: str) -> str:
        return duration(value)


class PoliceSettings(BaseModel):
    """Police coordination (警企协同): SLA per request kind and what a query reads
    (docs/police.md)."""

    query_hours: int = Field(default=24, gt=0, description="SLA of a query request, hours")
    control_hours: int = Field(default=2, gt=0, description="SLA of a control request, hours")
    lookback_days: int = Field(default=30, gt=0, description="recent cells and IMEIs: days read")


class ClueSettings(BaseModel):
    """Police clues: the bundle of related numbers each clue's trace proposes (docs/clues.md)."""

    bundles_in_cycle: bool = Field(
        default=True, description="propose a bundle for each new clue on each cycle tick"
    )
    bundle_min_strength: float = Field(
        default=0.5, ge=0, le=1, description="weakest trace link proposed in a bundle"
    )
    bundle_max_members: int = Field(default=30, gt=0, description="most numbers in a bundle")
    bundle_depth: int = Field(default=2, ge=1, le=2, description="trace depth for bundles")


class Settings(BaseSettings):
    """All of telshield's settings."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default=Path("./data"), description="lake, quarantine, store, models")
    secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description="per-installation key for HMAC-SHA256 hashing of identities and addresses, "
        "and the audit chain's key",
    )
    secret_previous: list[SecretStr] = Field(
        default_factory=list,
        description="earlier installation secrets: audit events linked under them still verify "
        "(rotation with an overlap)",
    )
    audit_checkpoints: Path | None = Field(
        default=None,
        description="file the audit chain's head is appended to each tick (keep it off the "
        "database's disk); empty means data_dir/audit/checkpoints.jsonl",
    )
    allow_placeholder_secret: bool = Field(
        default=False,
        description="serve and run on the shipped placeholder secret (development only; the "
        "audit chain is then not keyed)",
    )
    ingest: IngestSettings = IngestSettings()
    stream: StreamSettings = StreamSettings()
    store: StoreSettings = StoreSettings()
    screening: ScreeningSettings = ScreeningSettings()
    disposal: DisposalSettings = DisposalSettings()
    api: ApiSettings = ApiSettings()
    lists: ListsSettings = ListsSettings()
    detect: DetectSettings = DetectSettings()
    cycle: CycleSettings = CycleSettings()
    registration: RegistrationSettings = RegistrationSettings()
    gangs: GangSettings = GangSettings()
    hotspots: HotspotSettings = HotspotSettings()
    dens: DenSettings = DenSettings()
    police: PoliceSettings = PoliceSettings()
    engine: EngineSettings = EngineSettings()
    clues: ClueSettings = ClueSettings()

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The usual sources, with the environment checked for misspelt keys first."""
        return (init_settings, _CheckedEnvironment(settings_cls), dotenv_settings,
                file_secret_settings)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment, an optional TOML file, then explicit overrides;
    InvalidInput names the file, line and key of a misspelt key or a bad value."""
    values: dict[str, Any] = {}
    text = ""
    if config is not None:
        text = config.read_text(encoding="utf-8")
        try:
            values.update(tomllib.loads(text))
        except tomllib.TOMLDecodeError as e:
            raise InvalidInput(f"{config} is not valid TOML: {e}") from e
        for path in _paths(values, Settings):
            problem = _problem(path, Settings)
            if problem is not None:
                line = _line_of(text, path)
                where = f"{config}, line {line}" if line else str(config)
                raise InvalidInput(f"{problem[0]} in {where}{_hint(problem[1], '`', '.')}")
    given = {k: v for k, v in overrides.items() if v is not None}
    for key in given:
        problem = _problem((key,), Settings)
        if problem is not None:
            raise InvalidInput(f"{problem[0]} given to load_settings{_hint(problem[1], '`', '.')}")
    values.update(given)
    try:
        return Settings(**values)
    except ValidationError as e:
        raise InvalidInput(_bad_values(e, config)) from e


# --- refusing keys that name no setting ------------------------------------------------------

class _CheckedEnvironment(EnvSettingsSource):
    """The environment source, refusing a ``TELSHIELD_`` variable that names no setting."""

    def __call__(self) -> dict[str, Any]:
        for name, value in os.environ.items():
            if name.upper().startswith(PREFIX):
                _check_variable(name, value)
        return super().__call__()


def _check_variable(name: str, value: str) -> None:
    key = name[len(PREFIX):].lower()
    if key in NOT_SETTINGS:
        return
    paths = [tuple(key.split("__"))]
    field = Settings.model_fields.get(key)
    section = _model_in(field.annotation) if field is not None else None
    if section is not None and value.lstrip().startswith("{"):
        # A whole section as JSON: check its keys too (bad JSON is the section's to report).
        with contextlib.suppress(ValueError):
            paths = [(key, *p) for p in _paths(json.loads(value), section)]
    for path in paths:
        problem = _problem(path, Settings)
        if problem is not None:
            raise InvalidInput(f"{problem[0]} from environment variable {name}"
                               + _hint(problem[1], "", "__", env=True))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings section a field holds (also inside ``X | None``), or None for a value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _paths(values: Mapping[str, Any], model: type[BaseModel],
           prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path in ``values``, descending into sections (never into free-form tables)."""
    for key, value in values.items():
        path = (*prefix, key)
        field = model.model_fields.get(key)
        sub = _model_in(field.annotation) if field is not None else None
        if sub is not None and isinstance(value, Mapping):
            yield from _paths(value, sub, path)
        else:
            yield path


def _problem(path: Sequence[str], model: type[BaseModel]
             ) -> tuple[str, tuple[str, ...] | list[str]] | None:
    """What is wrong with ``path``, and the nearest valid path (or the valid keys at its
    level), or None when it names a setting."""
    for depth, key in enumerate(path):
        fields = model.model_fields
        if key not in fields:
            dotted = ".".join(path[: depth + 1])
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            if close:
                return f"unknown setting `{dotted}`", (*path[:depth], close[0], *path[depth + 1:])
            section = ".".join(path[:depth])
            return (f"unknown setting `{dotted}`",
                    [f"valid keys in [{section}]" if section else "valid keys", *sorted(fields)])
        sub = _model_in(fields[key].annotation)
        if sub is None:
            rest = path[depth + 1:]
            if rest and not _is_table(fields[key].annotation):
                return f"`{'.'.join(path[: depth + 1])}` is a value, not a section", []
            return None
        model = sub
    return None


def _is_table(annotation: Any) -> bool:
    return get_origin(annotation) is dict or annotation is dict


def _hint(near: tuple[str, ...] | list[str], quote: str, sep: str, *, env: bool = False) -> str:
    if isinstance(near, tuple):
        name = PREFIX + sep.join(near).upper() if env else sep.join(near)
        return f"; did you mean {quote}{name}{quote}?"
    if not near:
        return ""
    return f"; {near[0]}: {', '.join(near[1:])}"


def _line_of(text: str, path: Sequence[str]) -> int | None:
    """The line of ``text`` that sets ``path`` (in a [table] or as a dotted key), if found."""
    table: tuple[str, ...] = ()
    for n, line in enumerate(text.splitlines(), start=1):
        head = re.match(r"\s*\[+\s*([^\]]+?)\s*\]+", line)
        if head:
            table = tuple(p.strip().strip("\"'") for p in head.group(1).split("."))
            if table == tuple(path):
                return n
            continue
        key = re.match(r"\s*([A-Za-z0-9_.\"' -]+?)\s*=", line)
        if key:
            full = table + tuple(p.strip().strip("\"'") for p in key.group(1).split("."))
            if full == tuple(path) or (len(full) < len(path) and full == tuple(path[:len(full)])
                                       and "{" in line):
                return n
    return None


def _bad_values(error: ValidationError, config: Path | None) -> str:
    where = f" in {config}" if config is not None else ""
    problems = []
    for e in error.errors():
        key = ".".join(str(p) for p in e["loc"])
        # Never echo what may hold a credential (a secret, a token, a URL with a password).
        shown = "" if any(w in key for w in SENSITIVE) else f" (got {e.get('input')!r})"
        problems.append(f"`{key}`: {e['msg']}{shown}")
    return f"bad setting{where}: {'; '.join(problems)}"
