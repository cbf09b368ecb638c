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
    ap.add_argument("--json", type=Path, default=Path("bench-worlds.json"))
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
