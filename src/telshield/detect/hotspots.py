"""Out-of-town concentration (外地号码聚集): suspicious numbers homed outside the province, counted
per county and time bucket, as lazy expressions over the lake.

A GOIP den fed with other provinces' SIMs shows up as a burst of out-of-province numbers that
call outwards only, to many numbers never called before, mostly unanswered, all from the same
one or two cells. Which numbers are suspicious is read from the five per-number features the
rule reads (``detect.features.suspect_features``: ``out_of_province``, ``outgoing_share``,
``new_callee_share``, ``unanswered_share``, ``distinct_callees``, defined as in detection) over
the whole period a run reads; where they are is
read from the cells their calls were placed from. The scan statistic (``detect.scan``) then
weighs each county's recent counts against that county's own history.

A county is named ``city/county`` (county names repeat across cities: Gulou is in Nanjing and
Xuzhou); its map position is the mean position of its cells in the cells feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir

from telshield.detect.features import Window, suspect_features
from telshield.detect.portable import epoch_s


@dataclass(frozen=True)
class SuspectRule:
    """When an out-of-province number's behaviour over the run's period is suspicious."""

    min_callees: int = 5  # distinct numbers called
    min_outgoing_share: float = 0.9  # calls out / all calls: one-way callers
    min_new_callee_share: float = 0.8  # callees never called before
    min_unanswered_share: float = 0.3  # calls out not answered


def suspects(features: ir.Table, window: str, rule: SuspectRule = SuspectRule()) -> ir.Table:
    """``msisdn``: numbers whose home is outside the province that behave as ``rule`` says,
    from ``suspect_features`` (or ``number_features``) over a window named ``window``."""
    f = features
    return f.filter(
        (f.out_of_province == 1)
        & (f[f"distinct_callees_{window}"] >= rule.min_callees)
        & (f[f"outgoing_share_{window}"].fill_null(0.0) >= rule.min_outgoing_share)
        & (f[f"new_callee_share_{window}"].fill_null(0.0) >= rule.min_new_callee_share)
        & (f[f"unanswered_share_{window}"].fill_null(0.0) >= rule.min_unanswered_share)
    ).select("msisdn")


def suspect_numbers(calls: ir.Table, plan: ir.Table, *, since: datetime, until: datetime,
                    province: str, rule: SuspectRule = SuspectRule(),
                    lookback: timedelta = timedelta(days=1)) -> ir.Table:
    """``msisdn`` of the suspicious out-of-province callers of [since, until)."""
    hours = max(1, int((until - since).total_seconds() // 3600))
    w = Window.parse(f"{hours}h")
    f = suspect_features(calls, until=until, window=w, lookback=lookback, plan=plan,
                         province=province)
    return suspects(f, w.name, rule)


def region_key(cells: ir.Table) -> ir.StringValue:
    """``city/county`` of each cell."""
    return cells.city.fill_null("").concat("/", cells.county.fill_null(""))


def regions(cells: ir.Table) -> ir.Table:
    """``region, city, county, lat, lon, cells``: each county with its cells' mean position."""
    c = cells.mutate(region=region_key(cells))
    return c.group_by("region").agg(city=c.city.first(), county=c.county.first(),
                                    lat=c.lat.mean(), lon=c.lon.mean(), cells=c.count())


def activity(calls: ir.Table, cells: ir.Table, numbers: ir.Table, *, since: datetime,
             until: datetime, bucket_hours: int) -> ir.Table:
    """``region, bucket, msisdn`` (distinct): in which county, in which bucket of
    ``bucket_hours`` counted from ``since``, each of ``numbers`` placed a call."""
    c = calls.filter((calls.started_at >= ibis.timestamp(since))
                     & (calls.started_at < ibis.timestamp(until)) & calls.caller_cell.notnull())
    c = c.filter(c.caller.isin(numbers.msisdn))
    g = cells.select(cell_id=cells.cell_id, region=region_key(cells))
    c = c.join(g, c.caller_cell == g.cell_id)
    start = int(since.timestamp()) if since.tzinfo else int(
        (since - datetime(1970, 1, 1)).total_seconds())
    bucket = ((epoch_s(c.started_at) - start) // (bucket_hours * 3600)).cast("int64")
    return c.select(region=c.region, bucket=bucket, msisdn=c.caller).distinct()
