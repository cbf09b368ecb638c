"""GOIP dens (窝点): the den record, the analyst's den profile and the confidence law.

A den is a device (a GOIP or SIM bank, or two phones and an audio cable) on one or two
neighbouring cells whose ports call strangers outwards only, in parallel, with SIMs swapped
every few days. The finder (``detect.dens`` and ``services.dens``) groups such SIMs; the rules
here say how sure we are and how a den is named. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telshield.domain.errors import InvalidInput

PORT, RELAY = "port", "relay"


@dataclass(frozen=True)
class DenProfile:
    """What a den looks like (the den profile TOML an analyst edits; docs/dens.md)."""

    device_kinds: tuple[str, ...] = ("goip", "simbank")  # device_intel kinds of a den device
    min_callees: int = 5  # distinct numbers a port calls in the window
    max_inbound_share: float = 0.05  # calls received per call placed, at most
    min_sims: int = 4  # SIMs of a den over the window
    min_parallel: int = 2  # SIMs calling in the same hour, at least
    full_parallel: int = 8  # SIMs calling in the same hour that count as fully parallel
    max_median_duration_s: int = 120  # a den's calls are short pitches
    swap_days: int = 6  # a SIM seen longer than this is not a swapped port card
    min_relay_calls: int = 3  # calls from abroad that make a den cell's phone a relay
    threshold: float = 0.5  # confidence from which a group is a den
    # A port's SIM of ours registered longer ago than this is an honest line, no port (den SIMs
    # are bought and swapped every few days); 0: no limit. Other operators' SIMs have no age.
    max_sim_age_days: int = 180
    # A port calls at least this many calls per hour it calls in (a den dials on); 0: no limit.
    min_calls_per_hour: float = 1.5
    weights: dict[str, float] = field(default_factory=lambda: {
        "device": 0.3, "continuity": 0.2, "parallel": 0.2, "swapped": 0.2, "short": 0.1,
        "relay": 0.2})


@dataclass(frozen=True)
class DenMember:
    """One SIM seen in a den: its port (IMEI), cell and when."""

    msisdn: str
    imei: str
    cell: str
    first_at: datetime
    last_at: datetime
    calls: int
    role: str = PORT  # port, or relay (the phone taking calls from abroad)


@dataclass(frozen=True)
class Den:
    """A den case: where, who, since when, how sure and why."""

    kind: str  # goip or audio_cable
    confidence: float
    cells: tuple[str, ...]
    county: str
    lat: float
    lon: float
    radius_km: float
    members: tuple[DenMember, ...]
    first_seen: datetime
    last_seen: datetime
    found_at: datetime
    updated_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    status: str = "open"
    id: int | None = None

    @property
    def msisdns(self) -> tuple[str, ...]:
        """Every number of the den, ports and relays."""
        return tuple(sorted({m.msisdn for m in self.members}))

    @property
    def imeis(self) -> tuple[str, ...]:
        """The den's device IMEIs (its ports)."""
        return tuple(sorted({m.imei for m in self.members if m.imei}))


def confidence(signals: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted share of den signals (each in [0, 1]) a group shows. A signal missing from
    ``signals`` is positive-only evidence that does not apply (a GOIP has no relay phone): it
    counts neither way."""
    weights = {k: w for k, w in weights.items() if k in signals}
    total = sum(weights.values()) or 1.0
    return round(sum(w * min(max(signals.get(k, 0.0), 0.0), 1.0)
                     for k, w in weights.items()) / total, 4)


def den_ref(den_id: int) -> str:
    """How a den is named to people and the police (DEN-000012)."""
    return f"DEN-{den_id:06d}"


def parse_den_ref(value: str) -> int:
    """A den's id from ``12`` or ``DEN-000012`` (InvalidInput otherwise)."""
    v = value.strip().upper().removeprefix("DEN-")
    if not v.isdigit() or not 0 < int(v) < 2**53:
        raise InvalidInput(f"den {value!r} is not a den id; give a number or DEN-000012 as "
                           "`telshield dens list` shows it")
    return int(v)


def parse_profile(data: dict[str, Any], *, source: str) -> DenProfile:
    """A den profile from parsed TOML (its ``[den]`` table); InvalidInput names a bad key."""
    body = data.get("den", data)
    known = DenProfile.__dataclass_fields__
    out: dict[str, Any] = {}
    for k, v in body.items():
        if k not in known:
            raise InvalidInput(f"{source}: unknown key {k!r}; known: {', '.join(sorted(known))}")
        default = getattr(DenProfile(), k)
        if k == "device_kinds":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise InvalidInput(f"{source}: device_kinds must be a list of device kinds")
            v = tuple(v)
        elif k == "weights":
            if not isinstance(v, dict) or not all(isinstance(x, int | float) for x in v.values()):
                raise InvalidInput(f"{source}: weights must map signal names to numbers")
            v = {str(a): float(b) for a, b in v.items()}
        elif isinstance(default, float):
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
                raise InvalidInput(f"{source}: {k} must be a number >= 0")
            v = float(v)
        elif not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise InvalidInput(f"{source}: {k} must be a whole number >= 0")
        out[k] = v
    return DenProfile(**out)
