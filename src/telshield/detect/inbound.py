"""Features of numbers as callees, for numbers that may never place a call themselves.

An audio-cable relay (``docs/world.md``: two phones and a cable) has one phone take the
fraudster's call from abroad while the other calls the victim. The receiving phone places no
calls, so the per-caller features never see it; what gives it away is how many different
numbers call it over the international gateway: dozens a day, where a person with family or
business abroad gets one or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from telshield.detect.colocation import COLOCATION_FEATURES
from telshield.detect.devices import DEVICE_FEATURES
from telshield.detect.features import DEFAULT_WINDOWS, RUN_FEATURES, Window, feature_names
from telshield.detect.holders import HOLDER_FEATURES, OFFICE_FEATURES

INBOUND_FEATURES: dict[str, str] = {
    "foreign_callers_24h": "distinct numbers that called this number over the international "
                           "gateway in the last 24 h",
}
_DAY = timedelta(hours=24)


def detection_feature_names(windows: Sequence[Window] = DEFAULT_WINDOWS) -> list[str]:
    """Every feature a rule may name: the per-caller, inbound, co-location, device, holder and
    run features."""
    return (feature_names(windows) + list(INBOUND_FEATURES) + list(COLOCATION_FEATURES)
            + list(DEVICE_FEATURES) + list(HOLDER_FEATURES) + list(OFFICE_FEATURES)
            + list(RUN_FEATURES))


def inbound_features(
    calls: ir.Table, *, until: datetime, active_since: datetime | None = None
) -> ir.Table:
    """One row per number called over the international gateway in the 24 h before ``until``
    (with ``active_since``: only those called at or after it): ``msisdn`` and
    ``foreign_callers_24h``."""
    since = ibis.timestamp(until - _DAY)
    c = calls.filter(
        (calls.ingress == "international")
        & (calls.started_at >= since)
        & (calls.started_at < ibis.timestamp(until))
    )
    t = c.group_by(msisdn=c.callee).agg(
        foreign_callers_24h=c.caller.nunique(), last_called=c.started_at.max()
    )
    if active_since is not None:
        t = t.filter(t.last_called >= ibis.timestamp(active_since))
    return t.select("msisdn", t.foreign_callers_24h.cast("int64"))
