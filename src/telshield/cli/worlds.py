"""``telshield evaluate detection --worlds N``: the multi-world protocol, printed and saved."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from telshield.evaluate.worlds import TIERS, Protocol, Spread, WorldsReport, evaluate_worlds
from telshield.settings import Settings

console = Console()


def run_worlds(settings: Settings, *, worlds: int, seed_base: int, randomise: bool,
               subscribers: int, days: int, world_config: Path | None, step: timedelta,
               warmup_days: int, rules: Path | None, cache: Path | None,
               json_out: Path | None) -> WorldsReport:
    """Generate or reuse the provinces, evaluate detection on each, print and save the report."""
    from telshield.services.detection import Detector
    from telshield.wiring.detection import detector as make_detector
    from telshield.wiring.world import load_config, randomised

    cfg = load_config(world_config, subscribers=subscribers, days=days)
    if randomise:
        cfg = randomised(cfg)
    protocol = Protocol(worlds=worlds, seed_base=seed_base, config=cfg, step=step,
                        warmup_days=warmup_days)

    def detector(world: Path) -> Detector:
        """Rules only, as ``evaluate detection --world`` builds it (the protocol's factory)."""
        return make_detector(settings, lake=world, keep_state=False, use_model=False,
                             rules_file=rules)

    folder = cache or settings.data_dir / "worlds"
    with Console(stderr=True).status("worlds") as status:
        report = evaluate_worlds(protocol, detector, folder,
                                 progress=lambda m: status.update(m))
    show(report)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json(), indent=2))
        console.print(f"written to {json_out}")
    return report


def _f(x: float, pct: bool = False) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:.2%}" if pct else f"{x:.3f}"


def show(report: WorldsReport) -> None:
    """Per-world figures, then median and worst decile per tier and per honest role."""
    p = report.protocol
    kind = "drawn from the prior" if p["randomised"] else "default mix"
    console.print(
        f"[bold]{p['worlds']} provinces[/] ({kind}), seeds {p['seeds'][0]}..{p['seeds'][-1]}, "
        f"{p['subscribers']:,} subscribers x {p['days']} days each; detection every "
        f"{p['step_hours']:g} h after {p['warmup_days']} days' warm-up; rules "
        f"{report.results[0].rules_version if report.results else '-'}")
    t = Table("seed", "positives", "watch+ precision", "watch+ recall 24 h",
              "verify+ precision", "verify+ recall 24 h", "alerted (watch+)", "gen s", "eval s")
    for r in report.results:
        w, v = r.tiers["watch"], r.tiers["verify"]
        t.add_row(str(r.seed), str(w.positives), _f(w.precision), _f(w.recall_24h),
                  _f(v.precision), _f(v.recall_24h), str(w.alerted), f"{r.generate_s:.0f}",
                  f"{r.evaluate_s:.0f}")
    console.print(t)
    s = Table("tier", "figure", "median", "worst decile", "worst", "best",
              title="across the provinces (worst decile: what 90 % of them reach or beat)")
    for tier in TIERS:
        for fig in ("precision", "recall_24h"):
            sp: Spread = report.spread(tier, fig)
            s.add_row(f"{tier}+", fig, _f(sp.median), _f(sp.worst_decile), _f(sp.worst),
                      _f(sp.best))
    console.print(s)
    for tier in TIERS:
        roles = Table("role", "median", "worst decile", "worst", "pooled", "worlds",
                      title=f"honest numbers alerted at {tier} or above, per role")
        for role in report.roles(tier):
            sp = report.fp_spread(tier, role)
            a, of = report.fp_pooled(tier, role)
            roles.add_row(role, _f(sp.median, True), _f(sp.worst_decile, True),
                          _f(sp.worst, True), f"{a}/{of}", str(sp.worlds))
        console.print(roles)
