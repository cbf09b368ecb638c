"""The store's tables (SQLAlchemy Core). Migrations in ``migrations/`` create and change them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger ids that are still SQLite's rowid alias.
ID = BigInteger().with_variant(Integer(), "sqlite")

# Counters that serialise writers: ("audit", last seq, last hash) and ("lists", last version).
heads = Table(
    "heads",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

list_versions = Table(
    "list_versions",
    metadata,
    Column("version", ID, primary_key=True, autoincrement=False),
    Column("at", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("note", Text, nullable=False),
)

# An entry lives from the version that added it until the version that removed it (if any).
list_entries = Table(
    "list_entries",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    Column("value_end", String(64), nullable=False, default=""),
    Column("colour", String(8), nullable=False),
    Column("source", String(16), nullable=False),
    Column("police_ordered", Boolean, nullable=False, default=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=True),
    Column("owner", String(128), nullable=False, default="", server_default=""),
    Column("added_version", BigInteger, nullable=False),
    Column("removed_version", BigInteger, nullable=True),
    Index(None, "value", "kind"),
    Index(None, "added_version"),
    Index(None, "removed_version"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("msisdn", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("detected_at", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("model_version", String(64), nullable=False, default=""),
    Column("rules_version", String(64), nullable=False, default=""),
    Column("is_open", Boolean, nullable=False),
    # Updated in place: the version count, and the data ends of the first and latest runs that
    # raised it (first_seen: when the number first became visible).
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("first_seen", DateTime, nullable=True),
    Column("last_seen", DateTime, nullable=True),
    Index(None, "msisdn"),
    # The overview's counts per tier (today, this month, open): answered from the index alone.
    Index(None, "detected_at", "tier"),
    Index(None, "is_open", "tier"),
    # One open alert per number; its earlier versions are in alert_versions.
    Index(
        "uq_alerts_open_msisdn",
        "msisdn",
        unique=True,
        sqlite_where=text("is_open"),
        postgresql_where=text("is_open"),
    ),
)

# Every version of every alert: a new one each time its tier, score, reasons or rules/model
# version changed.
alert_versions = Table(
    "alert_versions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, ForeignKey("alerts.id"), nullable=False),
    Column("msisdn", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("score", Float, nullable=False),
    Column("tier", String(16), nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("detected_at", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("model_version", String(64), nullable=False, default=""),
    Column("rules_version", String(64), nullable=False, default=""),
    Index(None, "alert_id"),
    Index(None, "msisdn"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("msisdn", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("deadline", DateTime, nullable=True),
    Column("alert_id", BigInteger, nullable=True),
    Column("group_ref", String(128), nullable=False, default=""),
    Column("is_open", Boolean, nullable=False),
    # What its alerts said (tier, score, rule reasons): a release holds until new evidence.
    Column("evidence", JSON, nullable=True),
    Index(None, "msisdn"),
    Index(None, "status"),
    Index(None, "deadline"),
    Index(
        "uq_cases_open_msisdn",
        "msisdn",
        unique=True,
        sqlite_where=text("is_open"),
        postgresql_where=text("is_open"),
    ),
)

actions = Table(
    "actions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("deadline", DateTime, nullable=True),
    Column("notice", Text, nullable=False, default=""),
    Index(None, "case_id"),
    Index(None, "at", "kind"),  # the overview's counts and daily trend of actions
)

appeals = Table(
    "appeals",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("case_id", BigInteger, ForeignKey("cases.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("documents", JSON, nullable=False),
    Column("filed_at", DateTime, nullable=False),
    Column("filed_by", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_by", String(128), nullable=False, default=""),
    Column("decided_at", DateTime, nullable=True),
    Column("decision_reason", Text, nullable=False, default=""),
    Index(None, "case_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("msisdn", String(16), nullable=False),
    Column("key", String(200), nullable=False, unique=True),
    Column("text", Text, nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("delivered_at", DateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Index(None, "delivered_at"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", ID, primary_key=True, autoincrement=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("detail", Text, nullable=False),  # canonical JSON text: the hash covers it as is
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "subject"),
)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("unit", String(128), nullable=False, default=""),
    Column("created_at", DateTime, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

# One report line per suspected number we do not hold, for the operator it belongs to.
offnet_reports = Table(
    "offnet_reports",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("msisdn", String(16), nullable=False, unique=True),
    Column("party", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("region", String(64), nullable=False, default=""),
    Column("label", String(128), nullable=False, default=""),
    Column("tier", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("first_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("alert_id", BigInteger, nullable=True),
    Column("list_entry_id", BigInteger, nullable=True),
    Index(None, "party"),
    Index(None, "updated_at"),
)

# Every registration check (入网核验): the request, the decision and its reasons. ``id_hash``
# is always a hash: the domain refuses a raw ID number before anything is written.
registration_checks = Table(
    "registration_checks",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("id_hash", String(64), nullable=False),
    Column("holder_kind", String(16), nullable=False),
    Column("channel_id", String(64), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("terminal_id", String(64), nullable=False, default=""),
    Column("msisdn", String(16), nullable=False),
    Column("order_id", String(64), nullable=False, default=""),
    Column("address_hash", String(64), nullable=False, default=""),
    Column("contact", String(16), nullable=False, default=""),
    Column("ip", String(64), nullable=False, default=""),
    Column("device_id", String(64), nullable=False, default=""),
    Column("decision", String(8), nullable=False),
    Column("reasons", JSON, nullable=False),
    Index(None, "id_hash", "decision"),
    Index(None, "staff_id", "at"),
    Index(None, "terminal_id", "at"),
    Index(None, "address_hash", "at"),
    Index(None, "contact", "at"),
    Index(None, "ip", "at"),
    Index(None, "device_id", "at"),
)

# Staff IDs (工号) suspended from registering; a lifted suspension is kept with who lifted it.
staff_suspensions = Table(
    "staff_suspensions",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("staff_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("lifted_at", DateTime, nullable=True),
    Column("lifted_by", String(128), nullable=False, default=""),
    Index(None, "staff_id"),
)

# Card-trafficking gangs (开卡贩卡团伙): each community that scored as a gang, its signals and
# the links among its cards (JSON: the graph an export draws), and one row per member card.
gangs = Table(
    "gangs",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("score", Float, nullable=False),
    Column("cards", Integer, nullable=False),
    Column("ids", Integer, nullable=False),
    Column("found_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("signals", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("links", JSON, nullable=False),
    Index(None, "status", "score"),
)

gang_members = Table(
    "gang_members",
    metadata,
    Column("gang_id", ID, ForeignKey("gangs.id", ondelete="CASCADE"), primary_key=True),
    Column("msisdn", String(16), primary_key=True),
    Column("id_hash", String(64), nullable=False),
    Column("channel_id", String(64), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("registered_at", DateTime, nullable=False),
    Column("links", JSON, nullable=False),
    Column("flags", JSON, nullable=False),
    Index(None, "msisdn"),
)

# Out-of-town concentration hotspots (外地号码聚集): a county's scan cylinder that stood out, with
# the suspicious numbers in it (JSON).
hotspots = Table(
    "hotspots",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("region", String(128), nullable=False),
    Column("city", String(64), nullable=False),
    Column("county", String(64), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("window_start", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("observed", Integer, nullable=False),
    Column("expected", Float, nullable=False),
    Column("p_value", Float, nullable=False),
    Column("llr", Float, nullable=False),
    Column("numbers", JSON, nullable=False),
    Column("found_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index(None, "status", "region"),
    Index(None, "found_at"),
)

# GOIP dens (窝点): each den's place, confidence and evidence, and one row per number seen in it
# (a port SIM or the audio-cable relay phone) with its IMEI, cell and when.
dens = Table(
    "dens",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("status", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("county", String(64), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("radius_km", Float, nullable=False),
    Column("cells", JSON, nullable=False),
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("found_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("evidence", JSON, nullable=False),
    Index(None, "status", "confidence"),
)

den_members = Table(
    "den_members",
    metadata,
    Column("den_id", ID, ForeignKey("dens.id", ondelete="CASCADE"), primary_key=True),
    Column("msisdn", String(16), primary_key=True),
    Column("role", String(8), primary_key=True),
    Column("imei", String(16), nullable=False),
    Column("cell", String(64), nullable=False),
    Column("first_at", DateTime, nullable=False),
    Column("last_at", DateTime, nullable=False),
    Column("calls", Integer, nullable=False),
    Index(None, "msisdn"),
)

# Police coordination (警企协同): the units, their query/control requests with the operator's
# maker-checker trail, the sealed response to each (JSON + HTML and their SHA-256), and the
# operator's feedback on each clue.
police_units = Table(
    "police_units",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

police_requests = Table(
    "police_requests",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("unit", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("legal_doc", String(500), nullable=False),
    Column("case_ref", String(500), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("submitted_by", String(128), nullable=False),
    Column("submitted_at", DateTime, nullable=False),
    Column("deadline", DateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("prepared_by", String(128), nullable=False),
    Column("prepared_at", DateTime, nullable=True),
    Column("decided_by", String(128), nullable=False),
    Column("decided_at", DateTime, nullable=True),
    Column("note", String(500), nullable=False),
    Column("escalated_at", DateTime, nullable=True),
    Index(None, "unit", "id"),
    Index(None, "status", "deadline"),
)

police_responses = Table(
    "police_responses",
    metadata,
    Column("request_id", ID, ForeignKey("police_requests.id"), primary_key=True),
    Column("package", Text, nullable=False),  # canonical JSON: the hash covers it as is
    Column("html", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("html_sha256", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
)

police_clue_feedback = Table(
    "police_clue_feedback",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("clue_id", String(128), nullable=False),
    Column("unit", String(128), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("note", String(500), nullable=False),
    Column("by", String(128), nullable=False),
    Column("at", DateTime, nullable=False),
    Index(None, "clue_id"),
    Index(None, "unit"),
)

# Clue bundles (线索关联号码): the numbers a police clue's trace proposed for disposal, one
# bundle per clue, and one row per member with its evidence and the analyst's decision.
clue_bundles = Table(
    "clue_bundles",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("clue_id", String(64), nullable=False, unique=True),
    Column("msisdn", String(16), nullable=False),
    Column("case_ref", String(128), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("decided_by", String(128), nullable=False),
    Column("decided_at", DateTime, nullable=True),
    Column("note", Text, nullable=False),
    Index(None, "status", "created_at"),
)

clue_bundle_members = Table(
    "clue_bundle_members",
    metadata,
    Column("bundle_id", ID, ForeignKey("clue_bundles.id", ondelete="CASCADE"),
           primary_key=True),
    Column("msisdn", String(16), primary_key=True),
    Column("strength", Float, nullable=False),
    Column("kinds", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("decision", String(16), nullable=False),
    Index(None, "msisdn"),
)

# The last backtest of each rules version (``telshield rules backtest``), shown on the rules
# page: the period, who ran it and each rule's hits, true hits and positives (JSON rows).
rule_backtests = Table(
    "rule_backtests",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("rules_version", String(128), nullable=False),
    Column("start", DateTime, nullable=False),
    Column("end", DateTime, nullable=False),
    Column("step", String(32), nullable=False),
    Column("label_lag", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("rows", JSON, nullable=False),
    Index(None, "rules_version", "id"),
)


# Wrong API keys and failed web logins, one row per failure, shared by every API worker and
# host on this store (store.lockout): a subject ("client:<address>", "key:<fingerprint>") with
# enough rows younger than the window is locked out. Rows older than the window are deleted.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("subject", String(80), nullable=False),
    Column("at", Float, nullable=False),  # seconds since the epoch (the hosts' clocks, NTP)
    Index(None, "subject", "at"),
    Index(None, "at"),
)
