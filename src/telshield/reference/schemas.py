"""The eleven feeds: one schema each, as Arrow types plus the checks validation applies.

Timestamps are China Standard Time (UTC+8, no daylight saving) written without a zone,
as the operator's switches and BSS write them. Numbers are E.164 digit strings without '+'
(8613812345678). Identities and addresses arrive as HMAC-SHA256 hex digests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa

from telshield.domain.errors import InvalidInput


class Check(StrEnum):
    """What a column's text must look like, beyond its Arrow type."""

    TEXT = "text"  # any non-empty text
    INT = "int"
    FLOAT = "float"
    TIMESTAMP = "timestamp"
    NUMBER = "number"  # E.164 digits, 3-15 of them, no '+'
    HASH = "hash"  # 64 lowercase hex digits (HMAC-SHA256)
    IMEI = "imei"  # 14-16 digits
    IMSI = "imsi"  # 15 digits, 460 country code for ours
    TAC = "tac"  # 8 digits
    IP = "ip"  # dotted IPv4 or IPv6 text
    ENUM = "enum"


@dataclass(frozen=True)
class Column:
    """One column of a feed."""

    name: str
    type: pa.DataType
    check: Check
    required: bool = True
    values: tuple[str, ...] = ()  # allowed values when check is ENUM
    lo: float | None = None  # numeric lower bound (inclusive)
    hi: float | None = None  # numeric upper bound (inclusive)
    future_ok: bool = False  # a timestamp that may lie ahead (an expiry, an end date)
    doc: str = ""


@dataclass(frozen=True)
class Feed:
    """A feed: its columns, its key (duplicates are rejected) and its partitioning column."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    time_column: str | None  # partition by this column's day; None = a dimension feed
    example: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the feed's rows in the lake (without the partition column)."""
        return pa.schema([pa.field(c.name, c.type, nullable=not c.required) for c in self.columns])

    @property
    def column_names(self) -> list[str]:
        """Column names in schema order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TS = pa.timestamp("us")
INGRESS = ("radio", "interconnect", "international")
HOLDER_KINDS = ("individual", "enterprise", "iot")
SUB_STATUS = ("active", "restricted", "suspended", "cancelled")
ORDER_CHANNELS = ("app", "web", "mini_program", "partner")
FRAUD_TYPES = (
    "impersonation_police",
    "impersonation_customer_service",
    "investment",
    "loan",
    "brushing",
    "romance",
    "gaming",
    "other",
)
DEVICE_KINDS = ("goip", "simbank", "phone", "modem", "deskphone")
ROAMING_EVENTS = ("attach", "detach")
# Carriers that hand calls over interconnect and serve numbers (domain.numbers.Operator values).
CARRIERS = ("china_mobile", "china_unicom", "china_telecom", "china_broadnet")
APPLICATION_OUTCOMES = ("issued", "refused", "abandoned")


def _c(
    name: str, type_: pa.DataType, check: Check, doc: str, *, required: bool = True,
    values: tuple[str, ...] = (), lo: float | None = None, hi: float | None = None,
    future_ok: bool = False,
) -> Column:
    return Column(name, type_, check, required, values, lo, hi, future_ok, doc)


CELLS = Feed(
    "cells",
    "One row per radio cell of our network.",
    (
        _c("cell_id", pa.string(), Check.TEXT, "operator's cell identifier (ECGI or similar)"),
        _c("lat", pa.float64(), Check.FLOAT, "latitude, WGS-84", lo=-90, hi=90),
        _c("lon", pa.float64(), Check.FLOAT, "longitude, WGS-84", lo=-180, hi=180),
        _c("county", pa.string(), Check.TEXT, "district or county (区/县)"),
        _c("city", pa.string(), Check.TEXT, "prefecture-level city (地级市)"),
        _c("province", pa.string(), Check.TEXT, "province"),
    ),
    key=("cell_id",),
    time_column=None,
    example={
        "cell_id": "460-00-123456-1",
        "lat": "32.0603",
        "lon": "118.7969",
        "county": "Xuanwu",
        "city": "Nanjing",
        "province": "Jiangsu",
    },
)

SUBSCRIBERS = Feed(
    "subscribers",
    "One row per SIM registered with us (a snapshot row per registration).",
    (
        _c("msisdn", pa.string(), Check.NUMBER, "the number, E.164 digits"),
        _c("imsi", pa.string(), Check.IMSI, "the SIM's IMSI"),
        _c("id_hash", pa.string(), Check.HASH, "HMAC of the holder's identity document"),
        _c("holder_kind", pa.string(), Check.ENUM, "who holds it", values=HOLDER_KINDS),
        _c("registered_at", TS, Check.TIMESTAMP, "when the SIM was activated"),
        _c("channel_id", pa.string(), Check.TEXT, "dealer channel (store, agent, e-channel)"),
        _c("staff_id", pa.string(), Check.TEXT, "staff ID (工号) that registered it"),
        _c("terminal_id", pa.string(), Check.TEXT, "registration terminal", required=False),
        _c("order_id", pa.string(), Check.TEXT, "e-channel order, if any", required=False),
        _c("status", pa.string(), Check.ENUM, "status at export time", values=SUB_STATUS),
    ),
    key=("msisdn", "registered_at"),
    time_column="registered_at",
    example={
        "msisdn": "8613812345678",
        "imsi": "460001234567890",
        "id_hash": "9f" * 32,
        "holder_kind": "individual",
        "registered_at": "2026-03-14 10:22:05",
        "channel_id": "CH-NJ-0042",
        "staff_id": "ST-NJ-0042-07",
        "terminal_id": "T-0042-2",
        "order_id": "",
        "status": "active",
    },
)

ORDERS = Feed(
    "orders",
    "One row per e-channel SIM order (app, web, mini-program, partner platform).",
    (
        _c("order_id", pa.string(), Check.TEXT, "order identifier"),
        _c("created_at", TS, Check.TIMESTAMP, "when the order was placed"),
        _c("channel", pa.string(), Check.ENUM, "e-channel", values=ORDER_CHANNELS),
        _c("id_hash", pa.string(), Check.HASH, "HMAC of the orderer's identity document"),
        _c("msisdn", pa.string(), Check.NUMBER, "the number ordered", required=False),
        _c("contact_msisdn", pa.string(), Check.NUMBER, "contact number given"),
        _c("address_hash", pa.string(), Check.HASH, "HMAC of the delivery address"),
        _c("ip", pa.string(), Check.IP, "client IP address", required=False),
        _c("device_id", pa.string(), Check.TEXT, "client device fingerprint", required=False),
    ),
    key=("order_id",),
    time_column="created_at",
    example={
        "order_id": "O2026031400017",
        "created_at": "2026-03-14 09:58:41",
        "channel": "app",
        "id_hash": "9f" * 32,
        "msisdn": "8613812345678",
        "contact_msisdn": "8613900001111",
        "address_hash": "a1" * 32,
        "ip": "112.80.1.23",
        "device_id": "dev-5c1e9a",
    },
)

CALLS = Feed(
    "calls",
    "One row per call attempt (CDR); duration 0 means unanswered.",
    (
        _c("call_id", pa.string(), Check.TEXT, "unique call identifier"),
        _c("started_at", TS, Check.TIMESTAMP, "call set-up time"),
        _c("duration_s", pa.int32(), Check.INT, "answered seconds; 0 = unanswered", lo=0, hi=86400),
        _c("caller", pa.string(), Check.NUMBER, "calling number as presented"),
        _c("callee", pa.string(), Check.NUMBER, "called number"),
        _c("ingress", pa.string(), Check.ENUM, "where the call entered", values=INGRESS),
        _c("caller_cell", pa.string(), Check.TEXT, "caller's cell (ours only)", required=False),
        _c("caller_imei", pa.string(), Check.IMEI, "caller's IMEI (ours only)", required=False),
        _c("callee_cell", pa.string(), Check.TEXT, "callee's cell (ours only)", required=False),
        _c("ingress_carrier", pa.string(), Check.ENUM,
           "the carrier whose trunk handed the call over (interconnect only; the switch's "
           "incoming trunk group, mapped to its partner; empty for a forwarded call)",
           required=False, values=CARRIERS),
    ),
    key=("call_id",),
    time_column="started_at",
    example={
        "call_id": "C20261101000000017",
        "started_at": "2026-11-01 09:15:02",
        "duration_s": "94",
        "caller": "8613812345678",
        "callee": "8613912345678",
        "ingress": "radio",
        "caller_cell": "460-00-123456-1",
        "caller_imei": "86012345678901",
        "callee_cell": "460-00-123777-2",
        "ingress_carrier": "",
    },
)

SMS = Feed(
    "sms",
    "One row per short message.",
    (
        _c("sms_id", pa.string(), Check.TEXT, "unique message identifier"),
        _c("sent_at", TS, Check.TIMESTAMP, "when it was sent"),
        _c("sender", pa.string(), Check.NUMBER, "sending number as presented"),
        _c("receiver", pa.string(), Check.NUMBER, "receiving number"),
        _c("ingress", pa.string(), Check.ENUM, "where it entered", values=INGRESS),
        _c("sender_cell", pa.string(), Check.TEXT, "sender's cell (ours only)", required=False),
    ),
    key=("sms_id",),
    time_column="sent_at",
    example={
        "sms_id": "S20261101000000017",
        "sent_at": "2026-11-01 09:15:02",
        "sender": "8613812345678",
        "receiver": "8613912345678",
        "ingress": "radio",
        "sender_cell": "460-00-123456-1",
    },
)

CLUES = Feed(
    "clues",
    "One row per police case clue naming a number.",
    (
        _c("clue_id", pa.string(), Check.TEXT, "clue identifier from the police"),
        _c("reported_at", TS, Check.TIMESTAMP, "when the clue reached us"),
        _c("msisdn", pa.string(), Check.NUMBER, "the number named"),
        _c("case_ref", pa.string(), Check.TEXT, "police case reference"),
        _c("fraud_type", pa.string(), Check.ENUM, "kind of fraud", values=FRAUD_TYPES),
        _c("unit", pa.string(), Check.TEXT, "police unit that sent it"),
    ),
    key=("clue_id",),
    time_column="reported_at",
    example={
        "clue_id": "JS-FZ-2026-000123",
        "reported_at": "2026-11-02 16:40:00",
        "msisdn": "8613812345678",
        "case_ref": "NJ-2026-11-0042",
        "fraud_type": "impersonation_police",
        "unit": "Nanjing anti-fraud centre",
    },
)

SANCTIONS = Feed(
    "sanctions",
    "One row per sanctioned person (communication sanction, 限制入网).",
    (
        _c("id_hash", pa.string(), Check.HASH, "HMAC of the person's identity document"),
        _c("starts_at", TS, Check.TIMESTAMP, "sanction start"),
        _c("ends_at", TS, Check.TIMESTAMP, "sanction end", future_ok=True),
        _c("reason", pa.string(), Check.TEXT, "why"),
        _c("authority", pa.string(), Check.TEXT, "who imposed it"),
    ),
    key=("id_hash", "starts_at"),
    time_column="starts_at",
    example={
        "id_hash": "9f" * 32,
        "starts_at": "2026-06-01 00:00:00",
        "ends_at": "2028-06-01 00:00:00",
        "reason": "sold SIM cards to fraud gang",
        "authority": "Jiangsu Public Security",
    },
)

DEVICE_INTEL = Feed(
    "device_intel",
    "One row per IMEI type allocation code (TAC) whose device kind is known.",
    (
        _c("tac", pa.string(), Check.TAC, "first 8 digits of the IMEI"),
        _c("kind", pa.string(), Check.ENUM,
           "device kind (`deskphone`: a SIM desk phone, fixed wireless terminal)",
           values=DEVICE_KINDS),
        _c("vendor", pa.string(), Check.TEXT, "vendor", required=False),
        _c("model", pa.string(), Check.TEXT, "model", required=False),
    ),
    key=("tac",),
    time_column=None,
    example={"tac": "86123400", "kind": "goip", "vendor": "HYBERTONE", "model": "GoIP-32"},
)

ROAMING = Feed(
    "roaming",
    "One row per location update of our subscriber on a foreign network (roaming abroad): "
    "`attach` when the visited network registers the SIM, `detach` when it leaves it. A "
    "subscriber is abroad from an attach until the next detach.",
    (
        _c("msisdn", pa.string(), Check.NUMBER, "our subscriber's number"),
        _c("at", TS, Check.TIMESTAMP, "when the visited network reported it"),
        _c("visited_country", pa.string(), Check.TEXT, "ISO 3166-1 alpha-2 code of the country"),
        _c("visited_network", pa.string(), Check.TEXT, "PLMN id (MCC + MNC) of the network"),
        _c("event", pa.string(), Check.ENUM, "location update", values=ROAMING_EVENTS),
    ),
    key=("msisdn", "at", "event"),
    time_column="at",
    example={
        "msisdn": "8613812345678",
        "at": "2026-11-03 21:40:12",
        "visited_country": "JP",
        "visited_network": "44010",
        "event": "attach",
    },
)

PORTED = Feed(
    "ported",
    "One row per number served by a carrier other than the one its number segment is "
    "allocated to (携号转网), as the national number-portability database lists it now: the "
    "copy every carrier keeps to route calls. Each port is a row; a number's latest row "
    "says who serves it (a port back to its segment's carrier names that carrier).",
    (
        _c("msisdn", pa.string(), Check.NUMBER, "the ported number, E.164 digits"),
        _c("carrier", pa.string(), Check.ENUM, "the carrier serving it now", values=CARRIERS),
        _c("ported_at", TS, Check.TIMESTAMP, "when the port completed"),
    ),
    key=("msisdn", "ported_at"),
    time_column=None,
    example={"msisdn": "8618612345678", "carrier": "china_telecom",
             "ported_at": "2024-05-17 10:02:44"},
)

REGISTRATIONS = Feed(
    "registrations",
    "One row per SIM application (入网申请), including those refused or never completed: who "
    "applied where, for which number, and the speech recognition of the real-name video "
    "statement. A SIM in `subscribers` registered after the application began has its row here.",
    (
        _c("attempt_id", pa.string(), Check.TEXT, "application identifier"),
        _c("applied_at", TS, Check.TIMESTAMP, "when the application was made"),
        _c("id_hash", pa.string(), Check.HASH, "HMAC of the applicant's identity document"),
        _c("holder_kind", pa.string(), Check.ENUM, "who applies", values=HOLDER_KINDS),
        _c("channel_id", pa.string(), Check.TEXT, "dealer channel (store, agent, e-channel)"),
        _c("staff_id", pa.string(), Check.TEXT, "staff ID (工号) handling it"),
        _c("terminal_id", pa.string(), Check.TEXT, "registration terminal", required=False),
        _c("requested_msisdn", pa.string(), Check.NUMBER, "the number applied for"),
        _c("order_id", pa.string(), Check.TEXT, "e-channel order, if any", required=False),
        _c("transcript", pa.string(), Check.TEXT,
           "speech recognition of the video statement (empty: nothing recognised or none made)",
           required=False),
        _c("outcome", pa.string(), Check.ENUM, "what the process in place then decided",
           values=APPLICATION_OUTCOMES),
    ),
    key=("attempt_id",),
    time_column="applied_at",
    example={
        "attempt_id": "A0000000017",
        "applied_at": "2026-03-14 10:12:40",
        "id_hash": "9f" * 32,
        "holder_kind": "individual",
        "channel_id": "CH-NJ-0042",
        "staff_id": "ST-NJ-0042-07",
        "terminal_id": "T-0042-2",
        "requested_msisdn": "8613812345678",
        "order_id": "",
        "transcript": "我本人实名登记，并领取了尾号5678的电话卡。",
        "outcome": "issued",
    },
)

FEEDS: dict[str, Feed] = {
    f.name: f for f in (CELLS, SUBSCRIBERS, ORDERS, CALLS, SMS, CLUES, SANCTIONS, DEVICE_INTEL,
                        ROAMING, PORTED, REGISTRATIONS)
}


def feed(name: str) -> Feed:
    """The feed called ``name``; an unknown name is an error that lists the feeds there are."""
    try:
        return FEEDS[name]
    except KeyError:
        raise InvalidInput(f"unknown feed {name!r}; feeds are: {', '.join(FEEDS)}") from None
