"""A generated province's vital statistics, measured from its feeds, against published figures.

The per-number medians are computed from the calls, SMS and subscribers feeds exactly as an
analyst would compute them; only the grouping (fraud vs normal vs courier) comes from truth.
"fraud" is our SIMs used directly by fraud callers (role fraud_sim); den SIMs, swapped every
few days by design, are reported as their own group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from telshield.domain.errors import InvalidInput, NotFound
from telshield.world.prior import Entry, entries


@dataclass(frozen=True)
class Band:
    """A published figure and the band a generated province must fall in."""

    metric: str
    group: str
    published: float
    lo: float
    hi: float
    source: str

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` lies in the band."""
        return value is not None and self.lo <= value <= self.hi


SICHUAN = "operator data, Sichuan 2020 (medians, fraud vs normal numbers)"
BANDS: tuple[Band, ...] = (
    Band("calls_per_callee", "fraud", 1.2, 1.0, 1.6, SICHUAN),
    Band("calls_per_callee", "normal", 6.8, 4.5, 9.5, SICHUAN),
    Band("outgoing_share", "fraud", 0.97, 0.90, 1.0, SICHUAN),
    Band("outgoing_share", "normal", 0.52, 0.42, 0.62, SICHUAN),
    Band("active_days_per_30", "fraud", 11, 6, 16, SICHUAN),
    Band("active_days_per_30", "normal", 31, 26, 31, SICHUAN),
    Band("sim_age_months", "fraud", 1, 0.5, 2.0, SICHUAN),
    Band("sim_age_months", "normal", 8, 6, 11, SICHUAN),
    Band("counties_visited", "fraud", 1, 1, 1.5, SICHUAN),
    Band("counties_visited", "normal", 4, 3, 5, SICHUAN),
    Band("outgoing_share", "courier", 0.97, 0.8, 1.0, "couriers must look like fraud here"),
    Band("calls_per_callee", "courier", 1.2, 1.0, 1.8, "couriers must look like fraud here"),
    Band("outgoing_minutes_per_day", "all", 3.6, 2.5, 5.0, "China average per subscriber"),
    Band("fraud_number_share", "all", 0.005, 0.0005, 0.01, "a small minority of active numbers"),
)
# Medians that depend on the window's length are only comparable over about a month.
MONTHLY = {"calls_per_callee", "active_days_per_30", "counties_visited"}


def _connect(root: Path) -> tuple[duckdb.DuckDBPyConnection, dict[str, Any]]:
    meta_path = root / "world.json"
    if not meta_path.exists():
        raise NotFound(f"{root} has no world.json; point at a directory made by world generate")
    meta = json.loads(meta_path.read_text())
    con = duckdb.connect()
    ext = "parquet" if meta.get("format", "parquet") == "parquet" else "csv"
    for feed in ("calls", "sms", "subscribers", "cells", "clues"):
        pattern = (root / feed / f"*.{ext}").as_posix()
        reader = (f"read_parquet('{pattern}')" if ext == "parquet" else
                  f"read_csv('{pattern}', header=true, all_varchar=true)")
        con.execute(f"CREATE VIEW {feed}_raw AS SELECT * FROM {reader}")
    con.execute(f"CREATE VIEW roles AS SELECT * FROM read_parquet("
                f"'{(root / 'truth' / 'numbers.parquet').as_posix()}')")
    if ext == "csv":
        con.execute("CREATE VIEW calls AS SELECT caller, callee, CAST(started_at AS TIMESTAMP)"
                    " AS started_at, CAST(duration_s AS INTEGER) AS duration_s, caller_cell,"
                    " callee_cell FROM calls_raw")
        con.execute("CREATE VIEW sms AS SELECT sender, receiver, CAST(sent_at AS TIMESTAMP)"
                    " AS sent_at FROM sms_raw")
        con.execute("CREATE VIEW subscribers AS SELECT msisdn, CAST(registered_at AS TIMESTAMP)"
                    " AS registered_at FROM subscribers_raw")
    else:
        for v in ("calls", "sms", "subscribers"):
            con.execute(f"CREATE VIEW {v} AS SELECT * FROM {v}_raw")
    con.execute("CREATE VIEW cells AS SELECT * FROM cells_raw")
    return con, meta


_PER_NUMBER = """
WITH ours AS (SELECT msisdn, min(registered_at) AS registered_at FROM subscribers GROUP BY 1),
out_c AS (SELECT caller AS msisdn, count(*) AS n_out, count(DISTINCT callee) AS callees,
          min(started_at) AS first_at FROM calls GROUP BY 1),
in_c AS (SELECT callee AS msisdn, count(*) AS n_in, min(started_at) AS first_at
         FROM calls GROUP BY 1),
days AS (SELECT msisdn, count(DISTINCT d) AS active_days FROM (
           SELECT caller AS msisdn, CAST(started_at AS DATE) AS d FROM calls UNION ALL
           SELECT callee, CAST(started_at AS DATE) FROM calls UNION ALL
           SELECT sender, CAST(sent_at AS DATE) FROM sms UNION ALL
           SELECT receiver, CAST(sent_at AS DATE) FROM sms) GROUP BY 1),
places AS (SELECT msisdn, count(DISTINCT county) AS counties FROM (
           SELECT caller AS msisdn, caller_cell AS cell FROM calls WHERE caller_cell IS NOT NULL
           UNION ALL
           SELECT callee, callee_cell FROM calls WHERE callee_cell IS NOT NULL) x
           JOIN cells c ON c.cell_id = x.cell GROUP BY 1)
SELECT o.msisdn,
  CASE WHEN r.role = 'fraud_sim' THEN 'fraud' ELSE r.role END AS grp,
  coalesce(out_c.n_out, 0) AS n_out, coalesce(in_c.n_in, 0) AS n_in, out_c.callees,
  days.active_days, places.counties,
  date_diff('second', o.registered_at, least(coalesce(out_c.first_at, in_c.first_at),
            coalesce(in_c.first_at, out_c.first_at))) / 86400.0 / 30.44 AS sim_age_months
FROM ours o JOIN roles r USING (msisdn)
LEFT JOIN out_c USING (msisdn) LEFT JOIN in_c USING (msisdn)
LEFT JOIN days USING (msisdn) LEFT JOIN places USING (msisdn)
WHERE coalesce(out_c.n_out, 0) + coalesce(in_c.n_in, 0) > 0
"""


def describe(root: Path) -> dict[str, Any]:
    """Vital statistics of the province under ``root`` (medians per group, volumes, mix)."""
    if not root.is_dir():
        raise NotFound(f"{root} is not a directory; give the --out of world generate")
    con, meta = _connect(root)
    days = int(meta["config"]["world"]["days"])
    n_subs = con.execute("SELECT count(DISTINCT msisdn) FROM subscribers").fetchone()
    if n_subs is None or n_subs[0] == 0:
        raise InvalidInput(f"{root} has no subscribers; generate the province again")
    con.execute(f"CREATE TEMP TABLE per AS {_PER_NUMBER}")
    medians = con.execute(f"""
        SELECT grp, count(*) AS numbers,
          median(n_out / callees) FILTER (WHERE callees > 0) AS calls_per_callee,
          median(n_out / (n_out + n_in)) AS outgoing_share,
          median(active_days * 30.0 / {days}) AS active_days_per_30,
          median(sim_age_months) AS sim_age_months,
          median(counties) FILTER (WHERE counties > 0) AS counties_visited
        FROM per GROUP BY grp ORDER BY grp""").fetchall()
    cols = ["numbers", "calls_per_callee", "outgoing_share", "active_days_per_30",
            "sim_age_months", "counties_visited"]
    groups = {r[0]: dict(zip(cols, r[1:], strict=True)) for r in medians}
    totals = con.execute("""
        SELECT count(*), sum(duration_s) FILTER (WHERE s.msisdn IS NOT NULL) / 60.0,
               median(duration_s) FILTER (WHERE duration_s > 0)
        FROM calls LEFT JOIN (SELECT DISTINCT msisdn FROM subscribers) s
        ON s.msisdn = calls.caller""").fetchone()
    assert totals is not None
    # Of our numbers that made or took a call, the share used for fraud.
    fraud_numbers = con.execute(
        "SELECT avg(CASE WHEN grp IN ('fraud', 'den_sim', 'trafficked_card') THEN 1 ELSE 0 END)"
        " FROM per").fetchone()
    role_counts = dict(con.execute(
        "SELECT role, count(*) FROM roles GROUP BY 1 ORDER BY 2 DESC").fetchall())
    n = int(n_subs[0])
    province = {
        "subscribers": n, "days": days, "calls": int(totals[0]),
        "calls_per_subscriber_day": totals[0] / n / days,
        "outgoing_minutes_per_day": (totals[1] or 0) / n / days,
        "median_answered_duration_s": totals[2],
        "fraud_number_share": fraud_numbers[0] if fraud_numbers else 0.0,
        "clues": (con.execute("SELECT count(*) FROM clues_raw").fetchone() or (0,))[0],
    }
    return {"province": province, "groups": groups, "roles": role_counts}


def check(stats: dict[str, Any]) -> list[tuple[Band, float | None, bool]]:
    """Every band with the measured value and whether it holds."""
    out = []
    for b in BANDS:
        value = (stats["province"].get(b.metric) if b.group == "all"
                 else stats["groups"].get(b.group, {}).get(b.metric))
        out.append((b, None if value is None else float(value), b.holds(value)))
    return out


def drawn(root: Path) -> list[tuple[Entry, float]]:
    """The prior's parameters as drawn for the province under ``root`` (empty when it was not
    randomised), read from its ``world.json``."""
    meta_path = root / "world.json"
    if not meta_path.exists():
        raise NotFound(f"{root} has no world.json; point at a directory made by world generate")
    meta = json.loads(meta_path.read_text())
    if not meta.get("randomised"):
        return []
    out = []
    for e in entries():
        node: Any = meta["config"]
        for part in e.key.split("."):
            node = node[part]
        out.append((e, float(node)))
    return out
