"""Features over N call rows: the Ibis definition on DuckDB vs hand-written DuckDB SQL vs pandas.

    python -m bench features --rows 1000000 3000000 10000000 30000000 --no-pandas-above 10000000
    python bench/bench_features.py --rows 1000000 3000000     # the same, smaller
    python -m bench features --whole-run --rows 1000000 3000000   # the detector's whole run

Synthetic calls over 14 days (the 7 d window plus 7 d look-back), about 20 calls per caller.
Prints, per size, wall and CPU seconds (CPU: all threads of the process, steadier than wall on a
shared machine), rows/s per core, the ratios to the hand-written SQL and to pandas, and the growth
exponent of cost with N. On the smallest size it checks that the three give the same values for
every call feature (SMS, SIM age and home need other feeds and are left out of the baselines).

``--whole-run`` times what a detection run computes (``Detector.features``: the call features,
numbers called from abroad, co-location, history, homes and the shipped rules) as the one lazy
expression it is, against the same run composed piece by piece (six queries merged in pandas,
as it was before; ``tests/services/piecewise.py``), on the same data in the same process, and
checks on the smallest size that both give the same table.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from telshield.detect.features import (
    FIXED_KINDS,
    GOIP_KINDS,
    LONG_CALL_S,
    Window,
    feature_names,
    number_features,
)
from telshield.reference.schemas import FEEDS

UNTIL = datetime(2026, 11, 15)
START = UNTIL - timedelta(days=14)
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}
WINDOW_LIST = [Window.parse(w) for w in WINDOWS]
INGRESS = ("radio", "interconnect", "international")
ROW_GROUP = 122_880  # rows per Parquet row group, as DuckDB writes the lake
N_CELLS, CELLS_PER_COUNTY = 3000, 30  # a province's cells, numbered county by county
MEMORY = "8GB"  # DuckDB's working memory; above it DuckDB spills to disk rather than fail
# What the baselines compute: every feature of the calls alone (not SMS, SIM age, home).
CALL_FEATURES = [f for f in feature_names(WINDOW_LIST) if not f.startswith("sms_")
                 and f not in ("sim_age_days", "is_subscriber", "out_of_province")]


def make_calls(n: int, path: Path, seed: int = 1, shape: str = "realistic") -> None:
    """Write n synthetic calls as Parquet, day after day in time order and in row groups of
    DuckDB's size, as the lake holds them (a few huge row groups would leave DuckDB's threads
    idle: it scans a file in parallel by row group). Written in chunks: memory stays bounded.

    ``realistic``: subscribers as the published operator figures describe them (FACTS.md: a
    normal number calls each callee several times, from a few cells of one or two counties, on
    one phone, and is called back about as often as it calls); one caller in a hundred behaves
    like a fraud SIM (a new callee almost every call, one cell, busy). ``uniform``: every call
    from a random cell and device to a near-random callee, about one hash-table group per call
    in every grouping: the worst case for the engines, and the shape of the figures before.
    """
    if shape not in ("realistic", "uniform"):
        raise ValueError(f"shape {shape!r}: use 'realistic' or 'uniform'")
    rng = np.random.default_rng(seed)
    callers = max(100, n // (20 if shape == "uniform" else 40))
    circle = 6  # contacts a subscriber calls, the first ones most
    contacts = (np.arange(callers)[:, None] * 7919 + rng.integers(0, callers, (callers, circle)))
    contacts %= callers
    zipf = 1.0 / np.arange(1, circle + 1)
    home = rng.integers(0, N_CELLS, callers)
    phone = rng.integers(0, 10**6, callers)
    fraud = rng.random(callers) < 0.01
    activity = rng.lognormal(0.0, 1.0, callers) * np.where(fraud, 20.0, 1.0)
    activity /= activity.sum()
    writer = pq.ParquetWriter(path, FEEDS["calls"].schema)
    days, chunk = 14, 2_000_000
    bounds = [n * d // days for d in range(days + 1)]
    for day in range(days):
        for lo in range(bounds[day], bounds[day + 1], chunk):
            k = min(chunk, bounds[day + 1] - lo)
            if shape == "uniform":
                caller = rng.integers(0, callers, k)
                # Half the calls go to a caller's own circle (callbacks happen), half to anyone.
                own = rng.random(k) < 0.5
                callee = np.where(own, (caller * 7 + rng.integers(0, 10, k)) % callers,
                                  rng.integers(0, callers * 3, k))
                cell = rng.integers(0, N_CELLS, k)
                tac = np.where(rng.random(k) < 0.001, 86123400, 35000000 + rng.integers(0, 50, k))
                imei = np.char.add(tac.astype(str), "000000")
            else:
                caller = rng.choice(callers, k, p=activity)
                own = (rng.random(k) < 0.85) & ~fraud[caller]
                slot = rng.choice(circle, k, p=zipf / zipf.sum())
                callee = np.where(own, contacts[caller, slot], rng.integers(0, callers * 3, k))
                # Mostly the home cell, else a neighbour (same county or the next); fraud SIMs
                # stay put; one call in twenty is made away from home.
                near = np.where(rng.random(k) < 0.6, 0, rng.integers(1, 8, k))
                away = rng.random(k) < 0.05
                cell = np.where(away, rng.integers(0, N_CELLS, k), home[caller] + near)
                cell = np.where(fraud[caller], home[caller], cell) % N_CELLS
                tac = np.where(fraud[caller] & (caller % 4 == 0), 86123400,
                               35000000 + caller % 50)
                # One subscriber in twenty now and then uses a second phone.
                second = ((rng.random(k) < 0.3) & (caller % 20 == 0)).astype(int)
                imei = np.char.add(tac.astype(str), np.char.zfill(
                    ((phone[caller] + second) % 10**6).astype(str), 6))
            secs = day * 86400 + np.sort(rng.integers(0, 86400, k))
            ts = np.datetime64(START, "us") + secs.astype("timedelta64[s]")
            dur = np.where(rng.random(k) < 0.25, 0, rng.lognormal(4.5, 1.0, k).astype(int))
            writer.write_table(pa.table({
                "call_id": pa.array(np.char.add("C", (np.arange(lo, lo + k)).astype(str))),
                "started_at": pa.array(ts, pa.timestamp("us")),
                "duration_s": pa.array(dur.clip(0, 86400), pa.int32()),
                "caller": pa.array(np.char.add("8613", (caller + 10**8).astype(str))),
                "callee": pa.array(np.char.add("8613", (callee + 10**8).astype(str))),
                "ingress": pa.array(np.where(rng.random(k) < 0.9, "radio", "interconnect")),
                "caller_cell": pa.array(np.char.add("cell-", cell.astype(str))),
                "caller_imei": pa.array(imei),
                "callee_cell": pa.nulls(k, pa.string()),
                "ingress_carrier": pa.nulls(k, pa.string()),
            }, schema=FEEDS["calls"].schema), row_group_size=ROW_GROUP)
    writer.close()


def dims() -> tuple[pa.Table, pa.Table]:
    """Cells (with counties) and device intel (a GOIP TAC and a desk-phone TAC)."""
    cells = pa.table({"cell_id": [f"cell-{i}" for i in range(N_CELLS)],
                      "county": [f"county-{i // CELLS_PER_COUNTY}" for i in range(N_CELLS)]})
    intel = pa.table({"tac": ["86123400", "86555500"], "kind": ["goip", "deskphone"]})
    return cells, intel


def describe(path: Path) -> str:
    """The data's shape in the published figures' terms (medians over callers, 14 days)."""
    con = duckdb.connect()
    con.register("cells", dims()[0])
    row = con.execute(f"""
        WITH c AS (SELECT * FROM read_parquet('{path}') LEFT JOIN cells ON caller_cell = cell_id),
        o AS (SELECT caller AS n, count(*) AS calls, count(DISTINCT callee) AS callees,
                     count(DISTINCT county) AS counties, count(DISTINCT caller_imei) AS phones
              FROM c GROUP BY 1),
        i AS (SELECT callee AS n, count(*) AS calls_in FROM c GROUP BY 1)
        SELECT median(calls / callees), median(counties), median(phones),
               median(calls / (calls + coalesce(calls_in, 0)))
        FROM o LEFT JOIN i USING (n)""").fetchall()[0]
    return (f"medians per caller: {row[0]:.1f} calls per distinct callee, {row[1]:.0f} counties,"
            f" {row[2]:.0f} phones, outgoing share {row[3]:.2f}")


def run_ibis(path: Path, threads: int, memory: str = MEMORY) -> pd.DataFrame:
    """The product's definition, built, compiled and executed by DuckDB through Ibis."""
    con = ibis.duckdb.connect(threads=threads, memory_limit=memory)
    cells, intel = dims()
    expr = number_features(con.read_parquet(str(path)), until=UNTIL,
                           cells=ibis.memtable(cells), intel=ibis.memtable(intel))
    return con.execute(expr)


def _ts(t: datetime) -> str:
    return f"TIMESTAMP '{t}'"


def hand_sql(path: Path) -> str:
    """One hand-written DuckDB query computing the same call features, by the same plan."""
    out, derived, inc, pair, unsol = [], [], [], [], []
    place: dict[str, list[str]] = {}
    for w, secs in WINDOWS.items():
        s = f"started_at >= {_ts(UNTIL - timedelta(seconds=secs))}"
        out += [
            f"count(*) FILTER ({s}) AS out_calls_{w}",
            f"count(*) FILTER ({s} AND duration_s > 0 AND duration_s < 30) AS short_{w}",
            f"count(*) FILTER ({s} AND duration_s = 0) AS unans_{w}",
            f"count(*) FILTER ({s} AND duration_s >= {LONG_CALL_S}) AS long_calls_{w}",
            f"count(*) FILTER ({s} AND duration_s > 0) AS answered_{w}",
            f"sum(duration_s) FILTER ({s}) AS dur_{w}",
            f"count(*) FILTER ({s} AND (hour(started_at) >= 22 OR hour(started_at) < 6))"
            f" AS night_{w}",
        ] + [f"count(*) FILTER ({s} AND ingress = '{i}') AS {i}_{w}" for i in INGRESS]
        ls = s.replace("started_at", "l")
        for d in ("cells", "counties", "imeis"):
            place.setdefault(d, []).append(
                f"count(*) FILTER ({ls} AND v IS NOT NULL) AS distinct_{d}_{w}")
        place["imeis"].append(f"coalesce(max(goip) FILTER ({ls}), 0) AS goip_device_{w}")
        place["imeis"].append(f"coalesce(max(fixed) FILTER ({ls}), 0) AS fixed_device_{w}")
        inc.append(f"count(*) FILTER ({s}) AS in_calls_{w}")
        ls, fs = s.replace("started_at", "last_at"), s.replace("started_at", "first_at")
        pair += [f"count(*) FILTER ({ls}) AS distinct_callees_{w}",
                 f"count(*) FILTER ({ls} AND back) AS back_{w}",
                 f"count(*) FILTER ({ls} AND {fs}) AS new_{w}"]
        unsol.append(f"count(*) FILTER ({ls} AND (back_first IS NULL OR back_first > first_at))"
                     f" AS unsolicited_callers_{w}")
        n, c = f"nullif(out_calls_{w}, 0)", f"nullif(distinct_callees_{w}, 0)"
        derived += [
            f"out_calls_{w}", f"coalesce(in_calls_{w}, 0) AS in_calls_{w}",
            f"distinct_callees_{w}", f"out_calls_{w} / {c} AS calls_per_callee_{w}",
            f"short_{w} / {n} AS short_share_{w}", f"unans_{w} / {n} AS unanswered_share_{w}",
            f"dur_{w} / nullif(answered_{w}, 0) AS mean_duration_s_{w}",
            f"back_{w} / {c} AS callback_share_{w}", f"new_{w} / {c} AS new_callee_share_{w}",
            f"night_{w} / {n} AS night_share_{w}", f"distinct_cells_{w}",
            f"distinct_counties_{w}", f"distinct_imeis_{w}", f"goip_device_{w}",
            f"long_calls_{w}", f"fixed_device_{w}",
            f"coalesce(unsolicited_callers_{w}, 0) AS unsolicited_callers_{w}",
        ] + [f"{i}_{w} / {n} AS {i}_share_{w}" for i in INGRESS] + [
            f"out_calls_{w} / nullif(out_calls_{w} + coalesce(in_calls_{w}, 0), 0)"
            f" AS outgoing_share_{w}",
        ]
    start = UNTIL - timedelta(days=7)
    return f"""
    WITH hist AS (SELECT * FROM read_parquet('{path}')
                  WHERE started_at >= {_ts(START)} AND started_at < {_ts(UNTIL)}),
    recent AS (SELECT * FROM hist WHERE started_at >= {_ts(start)}),
    o AS (SELECT caller AS msisdn, {", ".join(out)} FROM recent GROUP BY 1),
    dc AS (SELECT caller AS msisdn, {", ".join(place["cells"])}
           FROM (SELECT caller, caller_cell AS v, max(started_at) AS l FROM recent GROUP BY 1, 2)
           GROUP BY 1),
    dn AS (SELECT caller AS msisdn, {", ".join(place["counties"])}
           FROM (SELECT caller, c.county AS v, max(started_at) AS l
                 FROM recent LEFT JOIN cells c ON caller_cell = c.cell_id GROUP BY 1, 2)
           GROUP BY 1),
    di AS (SELECT caller AS msisdn, {", ".join(place["imeis"])}
           FROM (SELECT m.*, CASE WHEN i.tac IS NOT NULL THEN 1 END AS goip,
                        CASE WHEN f.tac IS NOT NULL THEN 1 END AS fixed
                 FROM (SELECT caller, caller_imei AS v, max(started_at) AS l FROM recent
                       GROUP BY 1, 2) m
                 LEFT JOIN intel i ON substr(m.v, 1, 8) = i.tac
                 LEFT JOIN fixed f ON substr(m.v, 1, 8) = f.tac)
           GROUP BY 1),
    dd AS (SELECT caller AS msisdn, count(*) FILTER (l >= {_ts(start)}) AS active_days_7d
           FROM (SELECT caller, max(started_at) AS l FROM recent
                 GROUP BY caller, CAST(started_at AS DATE))
           GROUP BY 1),
    i AS (SELECT callee AS msisdn, {", ".join(inc)} FROM recent GROUP BY 1),
    pr AS (SELECT caller, callee, min(started_at) AS first_at, max(started_at) AS last_at
           FROM hist GROUP BY 1, 2),
    pb AS (SELECT p.*, b.caller IS NOT NULL AS back, b.first_at AS back_first FROM pr p
           LEFT JOIN pr b ON b.caller = p.callee AND b.callee = p.caller
           WHERE p.last_at >= {_ts(start)}),
    p AS (SELECT caller AS msisdn, {", ".join(pair)},
                 epoch({_ts(UNTIL)} - min(first_at)) / 86400.0 AS first_call_days
          FROM pb GROUP BY 1),
    u AS (SELECT callee AS msisdn, {", ".join(unsol)} FROM pb GROUP BY 1)
    SELECT msisdn, {", ".join(derived)}, active_days_7d, first_call_days
    FROM o JOIN dc USING (msisdn) JOIN dn USING (msisdn) JOIN di USING (msisdn)
    JOIN dd USING (msisdn) LEFT JOIN i USING (msisdn) LEFT JOIN p USING (msisdn)
    LEFT JOIN u USING (msisdn)
    """


def run_sql(path: Path, threads: int, memory: str = MEMORY) -> pd.DataFrame:
    """The hand-written query on DuckDB (same settings as the Ibis run)."""
    con = duckdb.connect(config={"threads": threads, "memory_limit": memory})
    cells, intel = dims()
    con.register("cells", cells)
    con.register("intel", intel.filter(pc.is_in(intel["kind"], pa.array(GOIP_KINDS))))
    con.register("fixed", intel.filter(pc.is_in(intel["kind"], pa.array(FIXED_KINDS))))
    return con.execute(hand_sql(path)).df()


def run_pandas(path: Path) -> pd.DataFrame:
    """The same call features in idiomatic, vectorised pandas (exact distinct counts)."""
    cols = ["started_at", "duration_s", "caller", "callee", "ingress", "caller_cell",
            "caller_imei"]
    c = pd.read_parquet(path, columns=cols)
    c = c[(c.started_at >= START) & (c.started_at < UNTIL)]
    cells, intel = dims()
    goip_tacs = intel.filter(pc.is_in(intel["kind"], pa.array(GOIP_KINDS)))["tac"].to_pylist()
    fixed_tacs = intel.filter(pc.is_in(intel["kind"], pa.array(FIXED_KINDS)))["tac"].to_pylist()
    pairs = c.groupby(["caller", "callee"], sort=False).started_at.agg(["min", "max"])
    pairs = pairs.reset_index()
    back = pairs[["caller", "callee", "min"]].rename(
        columns={"caller": "callee", "callee": "caller", "min": "back_first"})
    pairs = pairs.merge(back, on=["caller", "callee"], how="left")
    pairs["back"] = pairs["back_first"].notna()
    unsolicited = pairs["back_first"].isna() | (pairs["back_first"] > pairs["min"])
    r = c[c.started_at >= UNTIL - timedelta(days=7)]
    r = r.merge(cells.to_pandas(), left_on="caller_cell", right_on="cell_id", how="left")
    hour = r.started_at.dt.hour
    r = r.assign(
        goip=r.caller_imei.str[:8].isin(goip_tacs).astype(int),
        fixed=r.caller_imei.str[:8].isin(fixed_tacs).astype(int),
        long=r.duration_s >= LONG_CALL_S,
        night=(hour >= 22) | (hour < 6), answered=r.duration_s > 0,
        short=(r.duration_s > 0) & (r.duration_s < 30), unans=r.duration_s == 0,
        day=r.started_at.dt.normalize(),
        **{i: r.ingress == i for i in INGRESS},
    )
    parts = [r.groupby("caller").day.nunique().rename("active_days_7d")]
    for w, secs in WINDOWS.items():
        s = UNTIL - timedelta(seconds=secs)
        x = r[r.started_at >= s]
        g = x.groupby("caller")
        sums = g[["short", "unans", "answered", "night", "long", *INGRESS]].sum()
        parts.append(pd.DataFrame({
            f"out_calls_{w}": g.size(), f"dur_{w}": g.duration_s.sum(),
            **{f"{k}_{w}": sums[k] for k in sums.columns},
            f"distinct_cells_{w}": g.caller_cell.nunique(),
            f"distinct_counties_{w}": g.county.nunique(),
            f"distinct_imeis_{w}": g.caller_imei.nunique(),
            f"goip_device_{w}": g.goip.max(),
            f"fixed_device_{w}": g.fixed.max(),
        }))
        parts.append(x.groupby("callee").size().rename(f"in_calls_{w}").to_frame())
        p = pairs[pairs["max"] >= s]
        parts.append(pd.DataFrame({
            f"distinct_callees_{w}": p.groupby("caller").size(),
            f"back_{w}": p.back.groupby(p.caller).sum(),
            f"new_{w}": (p["min"] >= s).groupby(p.caller).sum(),
            f"unsolicited_callers_{w}": unsolicited[p.index].groupby(p.callee).sum(),
        }))
    live = pairs[pairs["max"] >= UNTIL - timedelta(days=7)]
    parts.append(((UNTIL - live.groupby("caller")["min"].min()).dt.total_seconds() / 86400.0)
                 .rename("first_call_days").to_frame())
    f = pd.concat(parts, axis=1)
    f = f[f.index.isin(r.caller.unique())]
    out: dict[str, pd.Series] = {}
    for w in WINDOWS:
        n = f[f"out_calls_{w}"].fillna(0)
        inc = f[f"in_calls_{w}"].fillna(0)
        callees = f[f"distinct_callees_{w}"].fillna(0)

        def share(num: pd.Series, den: pd.Series) -> pd.Series:
            return num.fillna(0) / den.where(den > 0)

        out |= {
            f"out_calls_{w}": n, f"in_calls_{w}": inc, f"distinct_callees_{w}": callees,
            f"calls_per_callee_{w}": share(n, callees),
            f"short_share_{w}": share(f[f"short_{w}"], n),
            f"unanswered_share_{w}": share(f[f"unans_{w}"], n),
            f"mean_duration_s_{w}": share(f[f"dur_{w}"], f[f"answered_{w}"]),
            f"callback_share_{w}": share(f[f"back_{w}"], callees),
            f"new_callee_share_{w}": share(f[f"new_{w}"], callees),
            f"night_share_{w}": share(f[f"night_{w}"], n),
            **{f"distinct_{d}_{w}": f[f"distinct_{d}_{w}"].fillna(0)
               for d in ("cells", "counties", "imeis")},
            f"goip_device_{w}": f[f"goip_device_{w}"].fillna(0),
            f"fixed_device_{w}": f[f"fixed_device_{w}"].fillna(0),
            f"long_calls_{w}": f[f"long_{w}"].fillna(0),
            f"unsolicited_callers_{w}": f[f"unsolicited_callers_{w}"].fillna(0),
            **{f"{i}_share_{w}": share(f[f"{i}_{w}"], n) for i in INGRESS},
            f"outgoing_share_{w}": share(n, n + inc),
        }
    out["active_days_7d"] = f["active_days_7d"]
    out["first_call_days"] = f["first_call_days"]
    return pd.DataFrame(out).rename_axis("msisdn").reset_index()


def timed(fn: Callable[..., pd.DataFrame], *args: object) -> tuple[float, float, pd.DataFrame]:
    """Wall seconds and CPU seconds (all threads of this process) taken by fn(*args), and its
    result. CPU seconds barely move with other load on the machine; wall seconds do."""
    t, c = time.perf_counter(), time.process_time()
    res = fn(*args)
    return time.perf_counter() - t, time.process_time() - c, res


def check_same(ibis_df: pd.DataFrame, other: pd.DataFrame, name: str) -> None:
    """Every call feature of ``other`` equals the Ibis one (floats to 1e-9)."""
    a = ibis_df.set_index("msisdn").sort_index()
    b = other.set_index("msisdn").sort_index()
    assert a.index.equals(b.index), f"{name}: numbers differ ({len(a)} vs {len(b)})"
    cols = [c for c in a.columns if c in b.columns]
    assert cols == CALL_FEATURES, f"{name}: features differ"
    for col in cols:
        x, y = a[col].astype("float64").to_numpy(), b[col].astype("float64").to_numpy()
        assert np.allclose(x, y, rtol=1e-9, atol=0, equal_nan=True), f"{name}: {col}"


def _blank(n: int, field: pa.Field) -> pa.Array:
    """A column the detector does not read: nulls, or zeros / empty text where none may be."""
    if field.nullable:
        return pa.nulls(n, field.type)
    return pa.array(["" if pa.types.is_string(field.type) else 0] * n).cast(field.type)


def feeds_folder(calls: Path, root: Path) -> Path:
    """A folder of per-feed Parquet files (as the simulator writes them) holding ``calls`` and
    the dimension tables, for the detector's reader."""
    cells, intel = dims()
    for name, table in (("cells", cells), ("device_intel", intel)):
        schema = FEEDS[name].schema
        full = pa.table({f.name: table[f.name] if f.name in table.column_names
                         else _blank(len(table), f) for f in schema}, schema=schema)
        (root / name).mkdir(parents=True, exist_ok=True)
        pq.write_table(full, root / name / "part-0.parquet")
    (root / "calls").mkdir(parents=True, exist_ok=True)
    calls.rename(root / "calls" / "part-0.parquet")
    return root


def whole_run(sizes: list[int], threads: int, memory: str, shape: str, tmp: Path,
              repeat: int = 3) -> None:
    """Time ``Detector.features`` (one expression) against the piecewise run, per size: each
    ``repeat`` times, alternating which goes first, and print the medians (the machine is
    shared and noisy; a ratio from one pair of runs moves by 10-20 %)."""
    from tests.services.piecewise import assert_same, piecewise_features

    from telshield.reference.numbering import load_plan_table
    from telshield.services.alerts import InMemoryAlertSink
    from telshield.services.detection import DetectConfig, Detector
    from telshield.services.lakeread import Backend, FeedReader
    from telshield.services.rules import load_rules

    plan = load_plan_table(tmp / "plan")
    for n in sizes:
        root = tmp / f"feeds-{n}"
        make_calls(n, tmp / f"calls-{n}.parquet", shape=shape)
        feeds_folder(tmp / f"calls-{n}.parquet", root)
        con = ibis.duckdb.connect(threads=threads, memory_limit=memory)
        det = Detector(FeedReader(root, Backend(con)), InMemoryAlertSink(), DetectConfig(),
                       load_rules(None), plan=plan)
        det.features(UNTIL)  # warm: file metadata, the plan's registration
        ones, pieces = [], []
        for i in range(repeat):
            if i % 2:
                pieces.append(timed(piecewise_features, det, UNTIL))
                ones.append(timed(det.features, UNTIL))
            else:
                ones.append(timed(det.features, UNTIL))
                pieces.append(timed(piecewise_features, det, UNTIL))
        a, b = ones[0][2], pieces[0][2]
        if n == sizes[0]:
            assert_same(a, b)
        t_one, c_one = (float(np.median([r[k] for r in ones])) for k in (0, 1))
        t_pc, c_pc = (float(np.median([r[k] for r in pieces])) for k in (0, 1))
        print(f"rows {n:>11,}  numbers {len(a):,}  medians of {repeat}, wall: one expression "
              f"{t_one:6.2f} s, "
              f"piecewise {t_pc:6.2f} s, one/piecewise {t_one / t_pc:.2f}x; CPU: one "
              f"{c_one:6.2f} s, piecewise {c_pc:6.2f} s, one/piecewise {c_one / c_pc:.2f}x",
              flush=True)
        del a, b


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark for each size and print the table."""
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-pandas-above", type=int, default=10_000_000,
                    help="skip pandas above this many rows (it needs ~1 GiB per million)")
    ap.add_argument("--memory-limit", default=MEMORY, help="DuckDB working memory (both runs)")
    ap.add_argument("--shape", choices=("realistic", "uniform"), default="realistic",
                    help="the calls' shape (make_calls says what each is)")
    ap.add_argument("--dir", type=Path, default=None, help="where to write the data")
    ap.add_argument("--whole-run", action="store_true",
                    help="time the detector's whole run, one expression vs piece by piece")
    ap.add_argument("--repeat", type=int, default=3, help="with --whole-run: runs of each")
    args = ap.parse_args(argv)
    if args.whole_run:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            whole_run(args.rows, args.threads, args.memory_limit, args.shape, Path(tmp),
                      args.repeat)
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = []
        for n in args.rows:
            path = Path(tmp) / f"calls-{n}.parquet"
            make_calls(n, path, shape=args.shape)
            if n == args.rows[0]:
                print(f"{args.shape} calls, {describe(path)}", flush=True)
            t_ibis, c_ibis, a = timed(run_ibis, path, args.threads, args.memory_limit)
            t_sql, c_sql, b = timed(run_sql, path, args.threads, args.memory_limit)
            t_pd, c_pd, c = (timed(run_pandas, path) if n <= args.no_pandas_above
                             else (math.nan, math.nan, None))
            if n == args.rows[0]:
                check_same(a, b, "hand SQL")
                if c is not None:
                    check_same(a, c, "pandas")
            del a, b, c
            results.append((n, t_ibis, t_sql, c_ibis, c_sql))
            print(f"rows {n:>11,}  wall: ibis+duckdb {t_ibis:6.2f} s "
                  f"({n / t_ibis / args.threads / 1e6:.2f} M rows/s/core), hand SQL {t_sql:6.2f} s,"
                  f" pandas {t_pd:6.2f} s, ibis/SQL {t_ibis / t_sql:.2f}x, "
                  f"pandas/ibis {t_pd / t_ibis:.1f}x", flush=True)
            print(f"{'':17}CPU:  ibis+duckdb {c_ibis:6.2f} s ({n / c_ibis / 1e6:.2f} M rows/CPU-s)"
                  f",       hand SQL {c_sql:6.2f} s, pandas {c_pd:6.2f} s, "
                  f"ibis/SQL {c_ibis / c_sql:.2f}x, pandas/ibis {c_pd / c_ibis:.1f}x", flush=True)
            path.unlink()
    if len(results) > 1:
        (n0, *first), (n1, *last) = results[0], results[-1]
        x = [math.log(b / a) / math.log(n1 / n0) for a, b in zip(first, last, strict=True)]
        print(f"cost growth exponent {n0:,} -> {n1:,} rows: ibis N^{x[0]:.2f} wall, "
              f"N^{x[2]:.2f} CPU; hand SQL N^{x[1]:.2f} wall, N^{x[3]:.2f} CPU")

if __name__ == "__main__":
    main()
