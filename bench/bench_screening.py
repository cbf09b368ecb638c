"""Screening benchmarks, each against a baseline measured in the same run.

    python -m bench screening engine    [--numbers 10000000] [--calls 300000]
    python -m bench screening snapshot  [--numbers 100000000]
    python -m bench screening http      [--seconds 10]
    python -m bench screening sip       [--rate 5000] [--calls 50000]

engine:   decisions per CPU-second (process time, so other work on the machine does not count)
          of the single path and the batch path, against the plainest pure-Python decision
          (three dict lookups and a result dict per call).
snapshot: build time and bytes a number for N listed numbers.
http:     `telshield screen http` (granian, 1 worker, with a token: the face refuses to start
          without one; requests present it): POST /v1/decisions throughput against
          the empty endpoint on the same server, both GET /livez and POST /livez with the same
          body as the decision (read, then the same fixed answer: the floor for a request of
          that shape), for one call sent again and again (its caller soon
          over the velocity limits: every answer a reject, logged) and for 1,000 different calls
          in turn ("mixed", mostly allowed); wrk, 32 connections; the three alternate in four
          rounds, the best round of each is kept, and the worst per-round ratio is shown too; p99
          at a steady 1,000 decisions/s (hey, 10 clients x 100/s); batch endpoint decisions/s (1,000
          calls a request).
sip:      `telshield screen sip` under sipp at a fixed INVITE rate: the rate sipp reached (its
          cumulative call rate), failed calls, p99 of INVITE -> final answer, and the CPU share
          of the server and of sipp (both on the same machine).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np

from telshield.screening.engine import Engine
from telshield.screening.publish import publish
from telshield.screening.snapshot import BLACK, SUSPEND, VERIFY, WATCH, Snapshot, SnapshotInput

BIN = Path(sys.executable).parent
_TOKEN = "bench-token"


def _input(n: int, seed: int = 1) -> SnapshotInput:
    """N listed numbers: 80% blacklist, 20% under warning, all China mobile-like."""
    rng = np.random.default_rng(seed)
    numbers = rng.integers(8613000000000, 8619999999999, n, dtype=np.int64)
    flags = rng.choice(np.array([BLACK, SUSPEND, VERIFY, WATCH], np.uint8), n,
                       p=[0.8, 0.05, 0.05, 0.1])
    black = flags == BLACK
    return SnapshotInput(
        list_numbers=numbers[black], list_flags=flags[black],
        warned=numbers[~black], warned_tiers=flags[~black], as_of=time.time(), version="bench",
    )


def _calls(n: int, data: SnapshotInput, seed: int = 2) -> tuple[list[str], list[str], list[str]]:
    """Traffic: 97% ordinary numbers, 3% listed ones; mostly radio, some interconnect/intl."""
    rng = np.random.default_rng(seed)
    segs = np.array([130, 131, 132, 155, 156, 185, 186, 133, 153, 180, 189, 177])
    callers = 8600000000000 + segs[rng.integers(0, segs.size, n)] * 10**8 + rng.integers(
        0, 10**8, n)
    listed = rng.random(n) < 0.03
    pool = np.concatenate([data.list_numbers, data.warned])
    callers[listed] = pool[rng.integers(0, pool.size, int(listed.sum()))]
    callees = 8613800000000 + rng.integers(0, 10**8, n)
    ingress = rng.choice(np.array(["radio", "interconnect", "international"]), n,
                         p=[0.7, 0.25, 0.05])
    return [str(x) for x in callers], [str(x) for x in callees], ingress.tolist()


def bench_engine(args: argparse.Namespace) -> dict[str, float]:
    """Decisions per second per core: single path, batch path, and the set-lookup floor."""
    data = _input(args.numbers)
    engine = Engine()
    engine.swap(Snapshot.build(data))
    callers, callees, ingress = _calls(args.calls, data)
    now = time.time()
    # The baseline: the plainest pure-Python decision (dict lookups in a white list, a black
    # list and a score table, a result dict), as FACTS.md measured it; no spoof, no velocity.
    white = {c: True for c in callers[:1000]}
    black = {c: True for c in callers[1000 : 1000 + len(callers) // 30]}
    scores = {c: 0.9 for c in callers[-len(callers) // 50 :]}

    def naive(caller: str, callee: str) -> dict[str, object]:
        if caller in white:
            return {"outcome": "allow", "reasons": ("list:white",)}
        if caller in black:
            return {"outcome": "reject", "reasons": ("list:black",)}
        if scores.get(caller, 0.0) > 0.8:
            return {"outcome": "warn_callee", "reasons": ("score",)}
        return {"outcome": "allow", "reasons": ()}

    def floor() -> float:
        t = time.process_time()
        for a, b in zip(callers, callees, strict=True):
            naive(a, b)
        return len(callers) / (time.process_time() - t)

    def single() -> float:
        engine.velocity.reset()
        decide = engine.decide
        t = time.process_time()
        for a, b, i in zip(callers, callees, ingress, strict=True):
            decide(a, b, i, now)
        return len(callers) / (time.process_time() - t)

    def batch() -> float:
        engine.velocity.reset()
        t = time.process_time()
        for k in range(0, len(callers), 1000):
            engine.decide_batch(callers[k : k + 1000], callees[k : k + 1000],
                                ingress[k : k + 1000], now)
        return len(callers) / (time.process_time() - t)

    res = {"floor_per_s": max(floor() for _ in range(3)),
           "single_per_s": max(single() for _ in range(3)),
           "batch_per_s": max(batch() for _ in range(3))}
    res["single_vs_floor"] = res["single_per_s"] / res["floor_per_s"]
    res["batch_vs_floor"] = res["batch_per_s"] / res["floor_per_s"]
    return res


def bench_snapshot(args: argparse.Namespace) -> dict[str, float]:
    """Build time and memory for N numbers."""
    data = _input(args.numbers)
    snap = Snapshot.build(data)
    return {"numbers": len(snap), "build_s": snap.build_seconds,
            "bytes_per_number": snap.memory_bytes() / len(snap),
            "memory_mib": snap.memory_bytes() / 2**20}


@contextlib.contextmanager
def _server(kind: str, data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(data_dir), "TELSHIELD_LOG_LEVEL": "error",
           "TELSHIELD_SCREENING__SIP_METRICS_PORT": "0",
           # the HTTP face refuses to start without a token: the switch presents this one
           "TELSHIELD_SCREENING__HTTP_TOKEN": _TOKEN}
    cmd = [str(BIN / "telshield"), "screen", kind, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(6)
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} server died: {proc.stderr.read().decode()[-2000:]}")
        yield proc
    finally:
        proc.terminate()
        proc.wait(20)


def _wrk(url: str, seconds: int, script: Path | None = None) -> float:
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def bench_http(args: argparse.Namespace) -> dict[str, float]:
    """Throughput against the empty endpoint, steady-rate p99, batch decisions/s."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        data = _input(1_000_000)
        publish(data, d / "screening" / "snapshot")
        callers, callees, ingress = _calls(1000, data)
        one = json.dumps({"caller": callers[5], "callee": callees[5], "ingress": "radio"})
        many = json.dumps({"caller": callers, "callee": callees, "ingress": ingress})
        (d / "one.json").write_text(one)
        head = ('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'wrk.headers["Authorization"] = "Bearer {_TOKEN}"\n')
        for name, body in (("one.lua", one), ("many.lua", many)):
            (d / name).write_text(head + f"wrk.body = [[{body}]]\n")
        # The 1,000 calls in turn (mostly allowed, as in real traffic), one a request.
        bodies = ",\n".join(
            "[[" + json.dumps({"caller": a, "callee": b, "ingress": i}) + "]]"
            for a, b, i in zip(callers, callees, ingress, strict=True))
        (d / "mixed.lua").write_text(
            head + f"local bodies = {{{bodies}}}\nlocal k = 0\n"
            "request = function()\n  k = k % #bodies + 1\n"
            "  return wrk.format(nil, nil, nil, bodies[k])\nend\n")
        port = 18000 + os.getpid() % 1000
        base = f"http://127.0.0.1:{port}"
        with _server("http", d, port):
            # Empty and decide runs alternate (four rounds of a quarter of the time each) and
            # each keeps its best round: the neighbours' load shifts within a run, and
            # alternating exposes both endpoints to the same shifts.
            part = max(1, args.seconds // 4)
            empties, posts, singles, mixes = [], [], [], []
            for _ in range(4):
                empties.append(_wrk(base + "/livez", part))
                posts.append(_wrk(base + "/livez", part, d / "one.lua"))
                singles.append(_wrk(base + "/v1/decisions", part, d / "one.lua"))
                mixes.append(_wrk(base + "/v1/decisions", part, d / "mixed.lua"))
            empty, post, single, mixed = max(empties), max(posts), max(singles), max(mixes)
            batch = _wrk(base + "/v1/decisions/batch", args.seconds, d / "many.lua") * 1000
            hey = subprocess.run(
                ["hey", "-z", f"{args.seconds}s", "-c", "10", "-q", "100", "-m", "POST",
                 "-H", f"Authorization: Bearer {_TOKEN}",
                 "-T", "application/json", "-D", str(d / "one.json"), base + "/v1/decisions"],
                capture_output=True, text=True, check=True).stdout
        p99 = float(re.search(r"99% in ([\d.]+) secs", hey).group(1)) * 1000
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", hey).group(1))
    return {"empty_req_s": empty, "empty_post_req_s": post, "decide_req_s": single,
            "decide_vs_empty": single / empty, "decide_vs_empty_post": single / post,
            "decide_vs_empty_post_per_round": min(
                a / b for a, b in zip(singles, posts, strict=True)),
            "decide_vs_empty_per_round": min(a / b for a, b in zip(singles, empties, strict=True)),
            "mixed_req_s": mixed, "mixed_vs_empty": mixed / empty,
            "mixed_vs_empty_per_round": min(a / b for a, b in zip(mixes, empties, strict=True)),
            "batch_decisions_s": batch, "steady_rate": rate, "steady_p99_ms": p99}


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_sip(args: argparse.Namespace) -> dict[str, float]:
    """sipp at a fixed rate against the SIP face: the rate sipp reached (its own cumulative
    call rate), failed calls, p99 of INVITE -> final answer, and the CPU each side used."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        data = _input(1_000_000)
        publish(data, d / "screening" / "snapshot")
        callers, callees, _ = _calls(10_000, data)
        with (d / "calls.csv").open("w", newline="") as f:
            f.write("SEQUENTIAL\n")
            w = csv.writer(f, delimiter=";")
            for a, b in zip(callers, callees, strict=True):
                w.writerow([a, b, "radio", ""])
        port = 15000 + os.getpid() % 1000
        scenario = resources.files("telshield.screening") / "sipp" / "uac.xml"
        with _server("sip", d, port) as server:
            cpu0, kids0, drops0 = _cpu_s(server.pid), os.times(), _udp_rcvbuf_errors()
            t = time.perf_counter()
            proc = subprocess.run(
                ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-inf", str(d / "calls.csv"),
                 "-m", str(args.calls), "-r", str(args.rate), "-l", "2000", "-i", "127.0.0.1",
                 "-p", str(port + 1), "-timeout", "120s", "-nostdin", "-trace_rtt",
                 "-rtt_freq", "1000", "-trace_stat", "-fd", "1",
                 # sipp's default 64 KB socket buffer drops answers whenever sipp is not
                 # scheduled for a few ms; a switch's is larger (and so is the server's).
                 "-buff_size", str(4 * 2**20)],
                capture_output=True, text=True, cwd=d, check=False)
            wall = time.perf_counter() - t
            server_cpu, kids1 = _cpu_s(server.pid) - cpu0, os.times()
            drops = _udp_rcvbuf_errors() - drops0
        sipp_cpu = (kids1.children_user + kids1.children_system
                    - kids0.children_user - kids0.children_system)
        stat = _last_stat_row(d)
        rtts = []
        for path in d.glob("*_rtt.csv"):
            with path.open() as f:
                for row in csv.reader(f, delimiter=";"):
                    if len(row) > 1 and row[1].replace(".", "", 1).isdigit():
                        rtts.append(float(row[1]))
    return {"calls": args.calls, "offered_rate": args.rate, "wall_s": wall,
            "rate_reached": float(stat.get("CallRate(C)", -1)),
            "successful": float(stat.get("SuccessfulCall(C)", -1)),
            "failed": float(stat.get("FailedCall(C)", -1)),
            "p99_ms": float(np.percentile(rtts, 99)) if rtts else -1.0,
            "server_cpu_share": server_cpu / wall, "sipp_cpu_share": sipp_cpu / wall,
            "server_us_per_call": server_cpu / args.calls * 1e6,
            "udp_rcvbuf_drops": float(drops), "sipp_rc": float(proc.returncode)}


def _udp_rcvbuf_errors() -> int:
    """Datagrams the kernel dropped machine-wide for a full socket receive buffer so far."""
    rows = [r.split() for r in Path("/proc/net/snmp").read_text().splitlines()
            if r.startswith("Udp:")]
    return int(dict(zip(rows[0], rows[1], strict=True)).get("RcvbufErrors", 0))


def _last_stat_row(d: Path) -> dict[str, str]:
    """The last row of sipp's -trace_stat file, by column name."""
    path = next((p for p in d.glob("*.csv") if not p.name.endswith("_rtt.csv")
                 and p.name != "calls.csv"), None)
    if path is None:
        return {}
    rows = [r for r in csv.reader(path.open(), delimiter=";") if r]
    return dict(zip(rows[0], rows[-1], strict=False)) if len(rows) > 1 else {}


def main(argv: list[str]) -> None:
    """Parse arguments and run one benchmark; print its figures as JSON."""
    p = argparse.ArgumentParser(prog="python -m bench screening")
    p.add_argument("part", choices=["engine", "snapshot", "http", "sip"])
    p.add_argument("--numbers", type=int, default=10_000_000)
    p.add_argument("--calls", type=int, default=300_000)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rate", type=int, default=5000)
    args = p.parse_args(argv)
    if args.part in ("http", "sip") and not shutil.which("wrk" if args.part == "http" else "sipp"):
        sys.exit("needs wrk and hey (http) or sipp (sip): apt-get install wrk hey sip-tester")
    if args.part == "sip" and args.calls == 300_000:
        args.calls = 50_000
    fn = {"engine": bench_engine, "snapshot": bench_snapshot, "http": bench_http,
          "sip": bench_sip}[args.part]
    print(json.dumps(fn(args), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
