"""The fixed protocol detection is judged on: 20 provinces drawn from the prior, 20,000
subscribers x 10 days each, detection every 6 h after 3 days' warm-up, rules as shipped.

    .venv/bin/python -m bench worlds                      # the protocol (seeds 1000..1019)
    .venv/bin/python -m bench worlds --quick              # 4 provinces, a first look
    .venv/bin/python -m bench worlds --seed-base 9000     # fresh seeds for a final judgement

It runs ``telshield evaluate detection --worlds N --randomise`` (the same command anyone can
run), which prints per-province figures, the median and the worst decile per tier and per honest
role, and writes them as JSON; then it reports the time the protocol took on this machine.
Provinces are cached by their parameters (and the simulator's source), so a second run with the
same seeds only re-runs detection. Seed bases 1000+ are for tuning; keep 9000+ unseen until a
rules or model version is final.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORLDS, SUBSCRIBERS, DAYS = 20, 20_000, 10


def main(argv: list[str]) -> None:
    """Run the protocol and print its figures and timing."""
    ap = argparse.ArgumentParser(prog="python -m bench worlds")
    ap.add_argument("--worlds", type=int, default=WORLDS)
    ap.add_argument("--quick", action="store_true", help="4 provinces instead of 20")
    ap.add_argument("--seed-base", type=int, default=1000)
    ap.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    ap.add_argument("--days", type=int, default=DAYS)
    ap.add_argument("--rules", type=Path, default=None, help="a rules file (default: shipped)")
    ap.add_argument("--worlds-dir", type=Path,
                    default=Path(tempfile.gettempdir()) / "telshield-bench-worlds",
                    help="province cache, kept between runs")
    ap.add_argument("--json", type=Path,
                    default=Path(tempfile.gettempdir()) / "telshield-bench-worlds.json")
    args = ap.parse_args(argv)
    n = 4 if args.quick else args.worlds
    cli = "import sys; from telshield.cli import main; sys.argv[0] = 'telshield'; main()"
    cmd = [sys.executable, "-c", cli, "evaluate", "detection", "--worlds", str(n),
           "--randomise", "--seed-base", str(args.seed_base), "--subscribers",
           str(args.subscribers), "--days", str(args.days), "--step", "6h", "--warmup-days",
           "3", "--worlds-dir", str(args.worlds_dir), "--json", str(args.json)]
    if args.rules:
        cmd += ["--rules", str(args.rules)]
    with tempfile.TemporaryDirectory() as data:
        t0 = time.perf_counter()
        subprocess.run([*cmd, "--data-dir", data], check=True)
        wall = time.perf_counter() - t0
    report = json.loads(args.json.read_text())
    gen = [w["generate_s"] for w in report["worlds"]]
    ev = [w["evaluate_s"] for w in report["worlds"]]
    fresh = [g for g in gen if g > 0]
    print(f"protocol: {n} provinces x {args.subscribers:,} subscribers x {args.days} days, "
          f"seeds {args.seed_base}..{args.seed_base + n - 1}; {wall / 60:.1f} min in all")
    if fresh:
        print(f"generation: {sum(fresh) / len(fresh):.0f} s a province ({len(fresh)} generated, "
              f"{n - len(fresh)} from the cache)")
    print(f"detection replay: {sum(ev) / len(ev):.0f} s a province")
    print()
    print(markdown(report))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def markdown(report: dict[str, Any]) -> str:
    """The summary as Markdown tables, for docs/performance.md."""
    s = report["summary"]
    lines = ["| tier | precision: median | worst decile | recall 24 h: median | worst decile |",
             "|---|---|---|---|---|"]
    for tier in ("watch", "verify"):
        p, r = s[tier]["precision"], s[tier]["recall_24h"]
        lines.append(f"| {tier} or above | {_num(p['median'])} | {_num(p['worst_decile'])} | "
                     f"{_num(r['median'])} | {_num(r['worst_decile'])} |")
    lines += ["", "| honest role | watch+: median | worst decile | pooled | verify+: median | "
              "worst decile | pooled |", "|---|---|---|---|---|---|---|"]
    for role, w in s["watch"]["fp_rate_by_role"].items():
        v = s["verify"]["fp_rate_by_role"][role]
        lines.append(f"| {role} | {_pct(w['median'])} | {_pct(w['worst_decile'])} | "
                     f"{w['pooled'][0]}/{w['pooled'][1]} | {_pct(v['median'])} | "
                     f"{_pct(v['worst_decile'])} | {v['pooled'][0]}/{v['pooled'][1]} |")
    lines += ["", "| seed | positives | watch+ precision | recall | verify+ precision | recall |",
              "|---|---|---|---|---|---|"]
    for w in report["worlds"]:
        a, b = w["tiers"]["watch"], w["tiers"]["verify"]
        lines.append(f"| {w['seed']} | {a['positives']} | {_num(a['precision'])} | "
                     f"{_num(a['recall_24h'])} | {_num(b['precision'])} | "
                     f"{_num(b['recall_24h'])} |")
    return "\n".join(lines)
