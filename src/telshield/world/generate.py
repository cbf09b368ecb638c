"""Build a province and stream its feeds to disk, day by day, with the truth kept apart."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import structlog

from telshield.domain.clock import feed_now
from telshield.domain.errors import InvalidInput
from telshield.reference.schemas import CARRIERS
from telshield.world import (
    applications,
    business,
    geography,
    graph,
    population,
    portability,
    prior,
    scenarios,
    trafficking,
)
from telshield.world.config import WorldConfig
from telshield.world.devices import make_tacs, phone_popularity, with_deskphones, world_key
from telshield.world.nodes import ROLE, SCENARIOS, Nodes, cell_index, concat
from telshield.world.numbering import load_segments
from telshield.world.registry import Channels, Sims, concat_sims, make_channels, ordinary_sims
from telshield.world.static import (
    cells_table,
    clues_table,
    device_intel_table,
    registration_order,
    roaming_table,
    sanctions_table,
    subscribers_and_orders,
)
from telshield.world.tables import TRUTH_SCHEMAS, TS, digits, pick, prefixed, table, times
from telshield.world.traffic import INGRESS, ROUTES, Batch, Day
from telshield.world.truth import dens_table, gangs_table, numbers_table, reverification

log = structlog.get_logger(__name__)
Format = Literal["parquet", "csv"]
FEED_NAMES = ("cells", "subscribers", "orders", "calls", "sms", "clues", "sanctions",
              "device_intel", "roaming", "ported", "registrations")


@dataclass
class Summary:
    """What a run wrote: rows per feed and truth table, and how long it took."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def traffic_rows(self) -> int:
        """Calls plus SMS rows."""
        return self.rows.get("calls", 0) + self.rows.get("sms", 0)


class _Writer:
    """Writes feed parts (``DIR/<feed>/part-NNNNN.<ext>``) and truth tables."""

    def __init__(self, out: Path, fmt: Format) -> None:
        self.out, self.fmt = out, fmt
        self.parts: dict[str, int] = {}
        self.summary = Summary()

    def feed(self, name: str, t: pa.Table) -> None:
        """Write ``t`` as the next part of feed ``name``."""
        k = self.parts.get(name, 0)
        self.parts[name] = k + 1
        folder = self.out / name
        folder.mkdir(parents=True, exist_ok=True)
        self.summary.rows[name] = self.summary.rows.get(name, 0) + t.num_rows
        if self.fmt == "parquet":
            pq.write_table(t, folder / f"part-{k:05d}.parquet", compression="zstd")
            return
        cols = []
        for f, col in zip(t.schema, t.columns, strict=True):
            if f.type == TS:
                col = pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
            cols.append(col)
        csv_t = pa.Table.from_arrays(cols, names=t.column_names)
        pacsv.write_csv(csv_t, folder / f"part-{k:05d}.csv",
                        pacsv.WriteOptions(quoting_style="needed"))


def _province(cfg: WorldConfig, rng: np.random.Generator, seed: int) -> population.Province:
    counties = geography.counties()
    n_cells = max(300, cfg.world.subscribers // cfg.world.subscribers_per_cell)
    cells = geography.place_cells(rng, counties, n_cells)
    cix = cell_index(cells.county, counties.city, counties.population)
    tacs = make_tacs(rng)
    weights = phone_popularity(rng, len(tacs.phone))
    rng2 = np.random.default_rng([seed, 20])
    o = cfg.offices
    if (o.telemarketing_per_100k or o.collection_per_100k) and o.deskphone_share:
        tacs = with_deskphones(rng2, tacs, o.deskphone_listed_share)
    return population.Province(
        cfg=cfg, counties=counties, cells=cells, cix=cix, segments=load_segments(), tacs=tacs,
        phone_weights=weights, rng2=rng2,
    )


def _people_sims(rng: np.random.Generator, p: population.Province, people: Nodes,
                 reg: np.ndarray, channels: Channels, sanctions: list[dict[str, Any]]) -> Sims:
    n = len(people)
    person = np.arange(n)
    share = rng.random(n) < 0.08  # some people hold a second SIM
    person[share] = rng.integers(0, n, int(share.sum()))
    labels = np.array([f"person-{k}" for k in person], dtype=object)
    for row in sanctions:
        if row["node"] >= 0:
            labels[row["node"]] = row["person"]
    holder = np.full(n, "individual", dtype=object)
    for name, r in p.cfg.roles.work_roles().items():
        m = np.flatnonzero(people.role == ROLE[name])
        if r.holder_kind != "individual":  # a share of work SIMs is registered to the staff
            registered = p.rng2.random(len(m)) < r.registered_share
            holder[m[registered]] = r.holder_kind
    contacts = people.msisdn[rng.integers(0, n, n)]
    return ordinary_sims(
        rng, channels, node=np.arange(n), city=people.city, reg_s=reg, person=labels,
        holder=holder, contacts=contacts, echannel_share=p.cfg.social.echannel_share,
    )


def generate(cfg: WorldConfig, seed: int, out: Path, fmt: Format = "parquet",
             progress: Callable[[str], None] | None = None, overwrite: bool = False) -> Summary:
    """Simulate the province described by ``cfg`` and write its feeds and truth under ``out``."""
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InvalidInput(f"{out} is not empty; choose an empty directory or pass --overwrite")
        for name in (*FEED_NAMES, "truth"):
            shutil.rmtree(out / name, ignore_errors=True)
    t0 = time.perf_counter()
    cfg, params = prior.draw(cfg, seed)
    end = cfg.start + timedelta(days=cfg.world.days)
    if end > feed_now() + timedelta(days=1):  # the world writes feed time, as ingest judges it
        log.warning("world.window_in_future", end=str(end),
                    hint="ingest rejects timestamps more than a day ahead; pass an earlier --start")
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng([seed, 0])
    p = _province(cfg, rng, seed)
    say("population")
    channels = make_channels(rng, p.city_weights(), cfg.world.subscribers)
    people, reg = population.subscribers(rng, p)
    sanction_rows = trafficking.sanctions(rng, p, people, reg)
    people_sims = _people_sims(rng, p, people, reg, channels, sanction_rows)
    roaming = population.abroad(p.rng2, p, people)
    blocks = [people, population.offnet(rng, p), population.visitors(rng, p)]
    gangs = trafficking.gangs(rng, p, channels)
    crew = scenarios.crews(rng, p, channels, gangs)
    den = scenarios.dens(rng, p, channels, gangs)
    blocks += [gangs.nodes, crew.nodes, den.nodes, scenarios.offnet_fraud(rng, p).nodes,
               scenarios.spoofers(rng, p).nodes]
    # The look-alikes added later, from the second stream (none in the default province).
    r2 = p.rng2
    ours = [business.offices(r2, p, channels, "telemarketing"),
            business.offices(r2, p, channels, "collection"),
            business.companies(r2, p, channels), business.iot(r2, p, channels),
            business.relays(r2, p, channels)]
    first_new = len(blocks)
    blocks += [b.nodes for b in ours]
    blocks += [business.offnet_workers(r2, p).nodes,
               business.handlers(np.concatenate([gangs.nodes.peer, crew.nodes.peer]), p)]
    base = np.cumsum([0] + [len(b) for b in blocks])
    nodes = concat(blocks)
    # Number portability: some off-network numbers redrawn from another carrier's segments,
    # from a stream of its own once every block is built (every other draw stays as it was).
    ported = portability.port(np.random.default_rng([seed, 50]), p, nodes, cfg.start)
    assert crew.sims is not None and den.sims is not None
    sims = concat_sims([people_sims, gangs.sims.shifted(int(base[3])),
                        crew.sims.shifted(int(base[4])), den.sims.shifted(int(base[5])),
                        *[b.sims.shifted(int(base[first_new + k])) for k, b in enumerate(ours)
                          if b.sims is not None]])
    say("social graph")
    contacts = graph.build(
        rng, nodes.city.astype(np.int64), nodes.social > 0, median=cfg.social.degree_median,
        sigma=cfg.social.degree_sigma, max_degree=cfg.social.degree_max,
        local_share=cfg.social.local_share,
    )
    w = _Writer(out, fmt)
    start = cfg.start
    w.feed("cells", cells_table(p.cells, p.counties))
    key = world_key(seed)
    subs, orders = subscribers_and_orders(rng, start, nodes, sims, cfg.world.restricted_share,
                                          key)
    w.feed("subscribers", subs)
    w.feed("orders", orders)
    w.feed("sanctions", sanctions_table(rng, start, sanction_rows, key))
    w.feed("device_intel", device_intel_table(p.tacs))
    w.feed("roaming", roaming_table(start, roaming, nodes))
    w.feed("ported", portability.ported_table(start, ported, nodes))
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    engine = Day(p, nodes, contacts, seed)
    cell_labels = pa.array(p.cells.cell_id.tolist(), type=pa.string())
    call_seq = sms_seq = 0
    with pq.ParquetWriter(truth_dir / "calls.parquet", TRUTH_SCHEMAS["calls"],
                          compression="zstd") as truth_calls:
        for day in range(cfg.world.days):
            say(f"day {day + 1}/{cfg.world.days}")
            calls = engine.calls(day)
            ids = prefixed("C", np.arange(call_seq, call_seq + len(calls["t"])))
            call_seq += len(calls["t"])
            w.feed("calls", _calls_table(start, calls, ids, cell_labels))
            truth_calls.write_table(table("calls", {
                "call_id": ids, "is_fraud": calls["fraud"],
                "scenario": pick(pa.array(SCENARIOS), calls["scen"].astype(np.int64)),
                "route": pick(pa.array(ROUTES), calls["route"].astype(np.int64)),
            }, TRUTH_SCHEMAS))
            sms = engine.messages(day)
            sids = prefixed("S", np.arange(sms_seq, sms_seq + len(sms["t"])))
            sms_seq += len(sms["t"])
            w.feed("sms", _sms_table(start, sms, sids, cell_labels))
            log.info("world.day", day=day, calls=len(calls["t"]), sms=len(sms["t"]))
    w.summary.rows["truth/calls"] = call_seq
    c = cfg.clues
    w.feed("clues", clues_table(rng, start, cfg.world.days, nodes, engine.first_victim, c.share,
                                c.delay_hours_median, c.delay_hours_sigma))
    # Applications last, from a stream of their own: the numbers they draw change no other feed.
    apps, apps_truth = applications.applications(
        np.random.default_rng([seed, 40]), p, start, nodes, sims, registration_order(nodes, sims),
        subs.column("order_id").to_numpy(zero_copy_only=False), orders, channels, sanction_rows,
        key)
    w.feed("registrations", apps)
    # Each statement's retake (a second recording, had the check asked for one): drawn last,
    # from a stream of its own, so that no feed or other truth changes.
    retakes = applications.retakes(np.random.default_rng([seed, 41]), cfg, apps, apps_truth)
    say("truth")
    holder = np.full(len(nodes), None, dtype=object)
    holder[sims.node] = sims.holder
    hours = reverification(np.random.default_rng([seed, 30]), cfg.reverify, nodes, holder)
    truth = {
        "numbers": numbers_table(start, cfg.world.days, nodes, engine.first_fraud,
                                 engine.first_victim, hours),
        "dens": dens_table(den.truth, nodes, p.cells, p.counties),
        "gangs": gangs_table(gangs.truth, nodes, key),
        "registrations": apps_truth,
        "registration_retakes": retakes,
    }
    for name, t in truth.items():
        pq.write_table(t, truth_dir / f"{name}.parquet", compression="zstd")
        w.summary.rows[f"truth/{name}"] = t.num_rows
    (truth_dir / "params.json").write_text(json.dumps({
        "seed": seed, "randomised": cfg.randomise.enabled, "params": params}, indent=2))
    w.summary.seconds = time.perf_counter() - t0
    (out / "world.json").write_text(json.dumps({
        "seed": seed, "format": fmt, "config": cfg.model_dump(), "rows": w.summary.rows,
        "randomised": cfg.randomise.enabled,
    }, indent=2))
    log.info("world.generated", out=str(out), seconds=round(w.summary.seconds, 2),
             rows=w.summary.rows)
    return w.summary


def _calls_table(start: datetime, c: Batch, ids: pa.Array, cells: pa.Array) -> pa.Table:
    return table("calls", {
        "call_id": ids, "started_at": times(start, c["t"]),
        "duration_s": c["dur"], "caller": digits(c["a_num"]), "callee": digits(c["b_num"]),
        "ingress": pick(pa.array(INGRESS), c["ingress"].astype(np.int64)),
        "caller_cell": pick(cells, c["a_cell"].astype(np.int64)),
        "caller_imei": digits(c["imei"], c["imei"] < 0),
        "callee_cell": pick(cells, c["b_cell"].astype(np.int64)),
        "ingress_carrier": pick(pa.array(CARRIERS), c["carrier"].astype(np.int64)),
    })


def _sms_table(start: datetime, s: Batch, ids: pa.Array, cells: pa.Array) -> pa.Table:
    return table("sms", {
        "sms_id": ids, "sent_at": times(start, s["t"]),
        "sender": digits(s["a_num"]), "receiver": digits(s["b_num"]),
        "ingress": pick(pa.array(INGRESS), s["ingress"].astype(np.int64)),
        "sender_cell": pick(cells, s["a_cell"].astype(np.int64)),
    })
