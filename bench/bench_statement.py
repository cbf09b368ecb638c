"""Time the video statement matcher (pinyin, numerals, alignment) on a mix of transcripts,
against a naive character comparison (``rapidfuzz.fuzz.ratio`` of the raw strings) in the same
run; print matches per second, the median and p99 per match, the ratio, and the cost of the
first match in a fresh process (the pinyin and numeral tables load then).

    .venv/bin/python -m bench statement --rounds 20000
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from rapidfuzz import fuzz

from telshield.domain.statement import StatementPolicy, render
from telshield.services.statement import match

# (transcript, tail of the number): honest readings with recognition errors, and a mule's.
MIX = [
    ("我本人实名登记并领取了尾号1234的电话卡", "1234"),
    ("嗯那个，我本人，呃，实名登记并领取了，尾号七三零六的电话卡", "7306"),
    ("我本人时名登记并灵取了尾号幺二三四的电话卡", "1234"),
    ("我本人实名登记并领取了尾号一千二百三十四的电话卡", "1234"),
    ("我本人实名登记并且领取了尾号是8899的这张电话卡", "8899"),
    ("我本人实名登记并领取了尾号5678的电话卡", "1234"),
    ("我替张三实名登记并领取了尾号1234的电话卡", "1234"),
    ("今天天气很好我们去公园玩吧", "1234"),
]
COLD = ("import time; t = time.perf_counter(); "
        "from telshield.domain.statement import StatementPolicy; "
        "from telshield.services.statement import match; "
        "match('我本人实名登记并领取了尾号1234的电话卡', StatementPolicy(), '1234'); "
        "print(time.perf_counter() - t)")


def _time(f: Callable[[str, str], object], rounds: int) -> list[float]:
    out = []
    for i in range(rounds):
        transcript, tail = MIX[i % len(MIX)]
        t = time.perf_counter()
        f(transcript, tail)
        out.append(time.perf_counter() - t)
    return sorted(out)


def main(argv: list[str]) -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(prog="python -m bench statement")
    p.add_argument("--rounds", type=int, default=20000)
    a = p.parse_args(argv)
    policy = StatementPolicy()
    cold = float(subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True,
                                check=True).stdout)
    for t, tail in MIX:  # warm both sides
        match(t, policy, tail)
    ours = _time(lambda t, tail: match(t, policy, tail), a.rounds)
    naive = _time(lambda t, tail: fuzz.ratio(t, render(policy.wording, tail)), a.rounds)
    for name, xs in (("matcher", ours), ("naive ratio", naive)):
        print(f"{name:12} {len(xs) / sum(xs):12,.0f} matches/s  median "
              f"{statistics.median(xs) * 1e6:8.1f} µs  p99 {xs[int(len(xs) * 0.99)] * 1e6:8.1f} µs")
    print(f"matcher / naive time per match: {sum(ours) / sum(naive):.1f}x; first match in a "
          f"fresh process (tables load): {cold * 1000:.0f} ms")
