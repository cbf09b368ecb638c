"""The run's features composed the way they were before they became one expression: six
queries executed one by one and merged in pandas. Kept as the reference that the one expression
must equal (tests) and the baseline it must not be slower than (``bench/bench_features.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import pandas as pd

from telshield.detect.colocation import colocation_features
from telshield.detect.devices import device_features
from telshield.detect.features import history_days, number_features
from telshield.detect.holders import holder_features, office_features
from telshield.detect.inbound import inbound_features
from telshield.detect.numbering import out_of_province
from telshield.detect.rules import rule_hits
from telshield.services.detection import Detector


def piecewise_features(det: Detector, until: datetime,
                       active_since: datetime | None = None) -> pd.DataFrame:
    """What ``det.features(until, active_since)`` returns, computed piece by piece."""
    r = det.reader
    since = det.span(until)
    expr = number_features(
        r.table("calls", since, until), until=until, windows=det.windows,
        lookback=timedelta(days=det.config.lookback_days),
        sms=r.table("sms", since, until), subscribers=r.table("subscribers", None, until),
        cells=r.table("cells"), intel=r.table("device_intel"), active_since=active_since,
    )
    frame = r.con.execute(expr)
    day = r.table("calls", until - timedelta(hours=24), until)
    inbound = r.con.execute(inbound_features(day, until=until, active_since=active_since))
    frame = frame.merge(inbound, on="msisdn", how="outer") if len(inbound) else \
        frame.assign(foreign_callers_24h=0)
    frame["foreign_callers_24h"] = frame["foreign_callers_24h"].fillna(0).astype("int64")
    coloc = r.con.execute(colocation_features(day, until=until))
    frame = frame.merge(coloc, on="msisdn", how="left")
    frame["cell_one_way_callers_24h"] = (
        frame["cell_one_way_callers_24h"].fillna(0).astype("int64"))
    longest = max(w.length for w in det.windows)
    dev = r.con.execute(device_features(r.table("calls", since, until), until=until,
                                        since=until - longest))
    frame = frame.merge(dev, on="msisdn", how="left")
    frame["device_cold_predecessors"] = (
        frame["device_cold_predecessors"].fillna(0).astype("int64"))
    subs = r.table("subscribers", None, until)
    frame = frame.merge(r.con.execute(holder_features(subs, until=until)), on="msisdn",
                        how="left").merge(r.con.execute(office_features(
                            subs, day, until=until)), on="msisdn", how="left")
    for c in ("holder_enterprise", "id_lines", "id_lines_cell_24h", "cell_old_callers_24h"):
        frame[c] = frame[c].fillna(0).astype("int64")
    frame["holder_age_days"] = frame["holder_age_days"].fillna(0.0).astype("float64")
    frame["history_days"] = history_days(det.first_call(), until, until - since)
    if det.plan is not None and len(frame):
        numbers = pd.DataFrame({"msisdn": frame["msisdn"].astype(str).unique()})
        got = r.con.execute(out_of_province(ibis.memtable(numbers), "msisdn",
                                            ibis.memtable(det.plan),
                                            province=det.config.province))
        homes = dict(zip(got["msisdn"].astype(str), got["out_of_province"].astype("float64"),
                         strict=True))
        frame["out_of_province"] = frame["msisdn"].astype(str).map(homes).astype("float64")
    hits = rule_hits(ibis.memtable(frame), det.rules)
    return r.con.execute(hits).reset_index(drop=True)


def assert_same(one: pd.DataFrame, pieces: pd.DataFrame) -> None:
    """The same numbers with the same value in every column (floats to 1e-9, nulls as NaN).

    One difference is by design: a number seen only as a callee from abroad (no call of its
    own) now has no home; the pieces classified it (no rule reads the home of such a number:
    the one that reads ``out_of_province`` asks for outgoing calls too)."""
    a = one.set_index("msisdn").sort_index()
    b = pieces.set_index("msisdn").sort_index()
    if "out_of_province" in b.columns:
        b["out_of_province"] = b["out_of_province"].where(b["out_calls_7d"].notna())
    assert a.index.equals(b.index), f"numbers differ: {len(a)} vs {len(b)}"
    assert sorted(a.columns) == sorted(b.columns), set(a.columns) ^ set(b.columns)
    for col in b.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            xs, ys = x.astype("float64"), y.astype("float64")
            same = ((xs - ys).abs() <= 1e-9 * ys.abs().clip(lower=1)) | (xs.isna() & ys.isna())
        else:
            same = (x.astype(str) == y.astype(str)) | (x.isna() & y.isna())
        assert bool(same.all()), f"{col}: {list(zip(x[~same][:3], y[~same][:3], strict=False))}"
