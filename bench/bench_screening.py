"""Screening benchmarks, each against a baseline measured in the same run.

    python -m bench screening engine    [--numbers 10000000] [--calls 300000] [--ported 1000000]
    python -m bench screening snapshot  [--numbers 100000000]
    python -m bench screening http      [--seconds 10]
    python -m bench screening sip       [--rate 5000] [--calls 50000]
    python -m bench screening workers   [--calls 20000] [--workers 1,2,4] [--transports un,u1]
    python -m bench screening redis     [--calls 20000] [--redis 127.0.0.1:6379]

engine:   decisions per CPU-second (process time, so other work on the machine does not count)
          of the single path and the batch path, against the plainest pure-Python decision
          (three dict lookups and a result dict per call). Then the stall: the calls sent
          again within the hour, each caller to another callee (velocity keeps counters for
          every caller seen twice), in batches of 1,000 with the cycle collector on as in a
          face: the longest batch (wall ms), the full collections it ran and their longest
          pause, and the objects the collector tracks at the end. Interconnect calls carry the
          trunk's carrier (2% not the one serving the number) and the snapshot holds --ported
          numbers of the portability database: the serving-carrier check's cost is the single
          and batch paths against the same calls without carriers (``*_no_carrier``), same run.
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
workers:  `telshield screen sip --workers N` for N in --workers, each run the same call script
          (about 8 calls a caller, 3% listed callers) sent by sipp as fast as the workers answer
          (at most --limit calls outstanding): INVITEs per second reached, against one worker in
          the same run; p99 of INVITE -> answer; CPU share of the workers and of sipp. sipp
          sends over one socket (``u1``: the kernel hands every datagram to one worker, which
          passes the others' callers on) or a socket a call (``un``: spread by the kernel).
          Every decision is logged; the velocity error of N workers is the share of calls whose
          decision differs from one worker's, and the velocity hits' count against one
          worker's. The runs count velocity per hour only (per-minute limits set out of reach),
          so that a minute boundary falling at another point of another run changes nothing;
          a run is not started in the last two minutes of an hour. A last run with caller
          affinity off (``sip_affinity = false``) shows the error it prevents.
redis:    what velocity kept in Redis would cost instead (the option for exact counts across
          hosts without affinity): one round trip a call to a Lua script counting the caller's
          calls and distinct callees per minute and hour (INCR, SADD, SCARD, EXPIRE), against
          ``Velocity.observe`` on the same calls in the same run; wall and CPU (ours and
          Redis's, from INFO) per call.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np

from telshield.screening.engine import Engine
from telshield.screening.numbering import CARRIER_CODE, compiled_index
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


def _ported(data: SnapshotInput, n: int, seed: int = 3) -> SnapshotInput:
    """``data`` with ``n`` ported numbers (China mobile-like, each to another carrier code)."""
    rng = np.random.default_rng(seed)
    return replace(data, ported=rng.integers(8613000000000, 8619999999999, n, dtype=np.int64),
                   ported_carriers=rng.integers(1, 4, n).astype(np.uint8))


def _carriers(callers: list[str], ingress: list[str], seed: int = 4) -> list[str | None]:
    """The trunk's carrier of each interconnect call: the one its segment names, 2% another."""
    plan = compiled_index()
    rng = np.random.default_rng(seed)
    names = [None, *CARRIER_CODE]
    out: list[str | None] = []
    for c, i in zip(callers, ingress, strict=True):
        if i != "interconnect":
            out.append(None)
            continue
        code = plan.carrier(c) or 1
        out.append(names[(code % 4) + 1 if rng.random() < 0.02 else code])
    return out


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
    data = _ported(_input(args.numbers), args.ported)
    engine = Engine()
    engine.swap(Snapshot.build(data))
    callers, callees, ingress = _calls(args.calls, data)
    carriers = _carriers(callers, ingress)
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

    none: list[str | None] = [None] * len(callers)

    def single(trunks: list[str | None]) -> float:
        engine.velocity.reset()
        decide = engine.decide
        t = time.process_time()
        for a, b, i, k in zip(callers, callees, ingress, trunks, strict=True):
            decide(a, b, i, now, None, k)
        return len(callers) / (time.process_time() - t)

    def batch(trunks: list[str | None] | None) -> float:
        engine.velocity.reset()
        t = time.process_time()
        for k in range(0, len(callers), 1000):
            engine.decide_batch(callers[k : k + 1000], callees[k : k + 1000],
                                ingress[k : k + 1000], now, None,
                                trunks[k : k + 1000] if trunks is not None else None)
        return len(callers) / (time.process_time() - t)

    res: dict[str, float] = {"floor_per_s": 0.0, "single_per_s": 0.0, "batch_per_s": 0.0,
                             "single_no_carrier_per_s": 0.0, "batch_no_carrier_per_s": 0.0}
    for _ in range(3):  # alternating, best of each
        res["floor_per_s"] = max(res["floor_per_s"], floor())
        res["single_per_s"] = max(res["single_per_s"], single(carriers))
        res["single_no_carrier_per_s"] = max(res["single_no_carrier_per_s"], single(none))
        res["batch_per_s"] = max(res["batch_per_s"], batch(carriers))
        res["batch_no_carrier_per_s"] = max(res["batch_no_carrier_per_s"], batch(None))
    res["single_vs_floor"] = res["single_per_s"] / res["floor_per_s"]
    res["batch_vs_floor"] = res["batch_per_s"] / res["floor_per_s"]
    res["single_vs_no_carrier"] = res["single_per_s"] / res["single_no_carrier_per_s"]
    res["batch_vs_no_carrier"] = res["batch_per_s"] / res["batch_no_carrier_per_s"]
    res["wrong_carrier_rejects"] = float(sum(
        "spoof:wrong_carrier" in d.reasons for d in engine.decide_batch(
            callers[:10000], callees[:10000], ingress[:10000], now, None, carriers[:10000])))
    res.update(_stall(engine, callers, callees, ingress, now))
    return res


def _stall(engine: Engine, callers: list[str], callees: list[str], ingress: list[str],
           now: float) -> dict[str, float]:
    """Every call twice in the hour (the second to another callee), batches of 1,000: the
    longest batch and the full (generation 2) collections the cycle collector ran meanwhile."""
    pauses: list[float] = []
    started = [0.0]

    def timer(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses.append(time.perf_counter() - started[0])

    engine.velocity.reset()
    again = callees[1:] + callees[:1]
    worst = 0.0
    gc.collect()
    gc.callbacks.append(timer)
    try:
        for these in (callees, again):
            for k in range(0, len(callers), 1000):
                t = time.perf_counter()
                engine.decide_batch(callers[k : k + 1000], these[k : k + 1000],
                                    ingress[k : k + 1000], now)
                worst = max(worst, time.perf_counter() - t)
    finally:
        gc.callbacks.remove(timer)
    return {"stall_worst_batch_ms": worst * 1000, "stall_full_collections": len(pauses),
            "stall_longest_collection_ms": max(pauses, default=0.0) * 1000,
            "stall_tracked_objects": len(gc.get_objects())}


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
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"{kind} server died: {err[-2000:]}")
        yield proc
    finally:
        proc.terminate()
        proc.wait(20)


def _figure(pattern: str, out: str) -> float:
    """The number ``pattern``'s first group finds in a load tool's report."""
    m = re.search(pattern, out)
    if m is None:
        raise RuntimeError(f"no {pattern!r} in the load tool's report:\n{out[-2000:]}")
    return float(m.group(1))


def _wrk(url: str, seconds: int, script: Path | None = None) -> float:
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds}s", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return _figure(r"Requests/sec:\s+([\d.]+)", out)


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
        p99 = _figure(r"99% in ([\d.]+) secs", hey) * 1000
        rate = _figure(r"Requests/sec:\s+([\d.]+)", hey)
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


_HOURLY = {  # velocity per hour only, within reach of the script's callers (see the docstring)
    "LABEL_CALLS_PER_HOUR": "6", "REJECT_CALLS_PER_HOUR": "12",
    "LABEL_CALLEES_PER_HOUR": "6", "REJECT_CALLEES_PER_HOUR": "12",
    **{f"{k}_{w}_PER_MINUTE": "1000000" for k in ("LABEL", "REJECT") for w in ("CALLS", "CALLEES")},
}


@contextlib.contextmanager
def _workers(d: Path, port: int, n: int, *, affinity: bool = True) -> Iterator[list[int]]:
    """``telshield screen sip --workers n``, every worker ready (its metrics answer); yields
    the pids of the supervisor and its workers."""
    import urllib.request

    metrics = 20000 + os.getpid() % 5000
    env = {**os.environ, "TELSHIELD_DATA_DIR": str(d), "TELSHIELD_LOG_LEVEL": "error",
           "TELSHIELD_SCREENING__SIP_METRICS_PORT": str(metrics),
           "TELSHIELD_SCREENING__LOG_ALLOWED": "true",
           "TELSHIELD_SCREENING__SIP_AFFINITY": str(affinity).lower(),
           **{f"TELSHIELD_SCREENING__{k}": v for k, v in _HOURLY.items()}}
    cmd = [str(BIN / "telshield"), "screen", "sip", "--port", str(port), "--workers", str(n)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        for m in range(metrics, metrics + n):
            while True:
                if proc.poll() is not None:
                    err = proc.stderr.read() if proc.stderr else b""
                    raise RuntimeError(f"sip died: {err.decode()[-2000:]}")
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{m}/metrics", timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the workers did not start in 120 s") from None
                    time.sleep(0.2)
        yield [proc.pid, *_descendants(proc.pid)]
    finally:
        proc.terminate()  # SIGTERM: the workers stop and flush their decision logs
        proc.wait(60)


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out += [int(child), *_descendants(int(child))]
    return out


def _script(d: Path, calls: int) -> list[tuple[str, str]]:
    """The call script: unique callees (a call is known by its callee), callers about 8
    calls each, 3% of calls from listed numbers."""
    data = _input(1_000_000)
    publish(data, d / "snapshot")
    rng = np.random.default_rng(3)
    callers, _, _ = _calls(max(1, calls // 8), data)
    picked = [callers[k] for k in rng.integers(0, len(callers), calls).tolist()]
    rows = [(c, f"8613{k:09d}") for k, c in enumerate(picked)]
    with (d / "calls.csv").open("w", newline="") as f:
        f.write("SEQUENTIAL\n")
        w = csv.writer(f, delimiter=";")
        for a, b in rows:
            w.writerow([a, b, "radio", ""])
    return rows


def _one_run(d: Path, args: argparse.Namespace, n: int, transport: str,
             affinity: bool = True) -> tuple[dict[str, float], dict[str, tuple[str, str]]]:
    """One run of the script through n workers: figures, and each call's decision by callee."""
    import datetime as dt

    run = d / f"run-{n}-{transport}-{int(affinity)}"
    (run / "screening").mkdir(parents=True)
    shutil.copytree(d / "snapshot", run / "screening" / "snapshot")
    port = 16000 + os.getpid() % 1000
    scenario = resources.files("telshield.screening") / "sipp" / "uac.xml"
    with _workers(run, port, n, affinity=affinity) as pids:
        now = dt.datetime.now()
        if now.minute >= 58:  # an hour boundary inside a run would reset the hourly counts
            time.sleep(3660 - now.minute * 60 - now.second)
        cpu0, kids0 = sum(_cpu_s(p) for p in pids), os.times()
        t = time.perf_counter()
        proc = subprocess.run(
            ["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-inf", str(d / "calls.csv"),
             "-m", str(args.calls), "-r", str(args.rate), "-l", str(args.limit), "-t", transport,
             "-max_socket", str(args.limit * 4), "-i", "127.0.0.1", "-p", str(port + 1),
             "-timeout", "300s", "-nostdin", "-trace_rtt", "-rtt_freq", "1000",
             "-trace_stat", "-fd", "1", "-buff_size", str(4 * 2**20)],
            capture_output=True, text=True, cwd=run, check=False)
        wall = time.perf_counter() - t
        server_cpu, kids1 = sum(_cpu_s(p) for p in pids) - cpu0, os.times()
    sipp_cpu = (kids1.children_user + kids1.children_system
                - kids0.children_user - kids0.children_system)
    stat = _last_stat_row(run)
    rtts = []
    for path in run.glob("*_rtt.csv"):
        with path.open() as f:
            for row in csv.reader(f, delimiter=";"):
                if len(row) > 1 and row[1].replace(".", "", 1).isdigit():
                    rtts.append(float(row[1]))
    from telshield.screening.decisionlog import read_decisions

    decided = {r.callee: (r.outcome, ",".join(r.reasons))
               for r in read_decisions(run / "screening" / "decisions")}
    return {"workers": n, "invites_s": float(stat.get("CallRate(C)", -1)),
            "wall_s": wall, "successful": float(stat.get("SuccessfulCall(C)", -1)),
            "failed": float(stat.get("FailedCall(C)", -1)), "logged": len(decided),
            "p99_ms": float(np.percentile(rtts, 99)) if rtts else -1.0,
            "workers_cpu_share": server_cpu / wall, "sipp_cpu_share": sipp_cpu / wall,
            "sipp_rc": float(proc.returncode)}, decided


def _velocity_hits(decided: dict[str, tuple[str, str]]) -> int:
    return sum("velocity:" in reasons for _, reasons in decided.values())


def bench_workers(args: argparse.Namespace) -> dict[str, object]:
    """INVITEs/s, p99 and CPU for 1..N workers, and the velocity error against one worker."""
    counts = [int(x) for x in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _script(d, args.calls)
        out: dict[str, object] = {"calls": args.calls, "limit": args.limit}
        base: dict[str, tuple[str, str]] = {}  # the decisions of the first run: one worker
        base_hits = 0.0
        for transport in args.transports.split(","):
            base_rate = 0.0
            for n in counts:
                fig, decided = _one_run(d, args, n, transport)
                if not base:
                    base, base_hits = decided, _velocity_hits(decided)
                base_rate = base_rate or fig["invites_s"]
                fig["vs_first"] = fig["invites_s"] / base_rate if base_rate > 0 else -1.0
                fig.update(_errors(base, base_hits, decided))
                out[f"{transport}_{n}"] = fig
        if counts[-1] > 1:  # callers spread by the kernel (a socket a call), no affinity
            fig, decided = _one_run(d, args, counts[-1], "un", affinity=False)
            fig.update(_errors(base, base_hits, decided))
            out[f"un_{counts[-1]}_no_affinity"] = fig
    return out


def _errors(base: dict[str, tuple[str, str]], base_hits: float,
            decided: dict[str, tuple[str, str]]) -> dict[str, float]:
    """Calls decided otherwise than by the first run, and the velocity hits' count error."""
    differ = sum(base.get(k) != v for k, v in decided.items()) + len(base.keys() - decided)
    hits = _velocity_hits(decided)
    return {"velocity_hits": float(hits),
            "velocity_count_error": abs(hits - base_hits) / base_hits if base_hits else -1.0,
            "decisions_differing": differ / max(1, len(base))}


_VELOCITY_LUA = """
local m = redis.call('INCR', KEYS[1]) if m == 1 then redis.call('EXPIRE', KEYS[1], 120) end
local h = redis.call('INCR', KEYS[2]) if h == 1 then redis.call('EXPIRE', KEYS[2], 7200) end
if redis.call('SADD', KEYS[3], ARGV[1]) == 1 then redis.call('EXPIRE', KEYS[3], 120) end
if redis.call('SADD', KEYS[4], ARGV[1]) == 1 then redis.call('EXPIRE', KEYS[4], 7200) end
return {m, redis.call('SCARD', KEYS[3]), h, redis.call('SCARD', KEYS[4])}
"""


class _Resp:
    """The least of a Redis client (RESP2 over one socket): enough to time round trips."""

    def __init__(self, address: str) -> None:
        import socket

        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)))
        self.file = self.sock.makefile("rb")

    def call(self, *args: str) -> object:
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            b = a.encode()
            parts.append(b"$%d\r\n%b\r\n" % (len(b), b))
        self.sock.sendall(b"".join(parts))
        return self._read()

    def _read(self) -> object:
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind in (b"+", b":"):
            return int(rest) if kind == b":" else rest.decode()
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.file.read(n + 2)[:-2].decode()
        return [self._read() for _ in range(int(rest))]


def bench_redis(args: argparse.Namespace) -> dict[str, float]:
    """Velocity in Redis (one Lua round trip a call) against the engine's own, per call."""
    from telshield.screening.velocity import Velocity, VelocityLimits

    data = _input(1000)
    callers, callees, _ = _calls(args.calls, data)
    rng = np.random.default_rng(4)
    callers = [callers[k] for k in rng.integers(0, max(1, args.calls // 8), args.calls)]
    v = Velocity(VelocityLimits())
    c_int, e_int = [int(c) for c in callers], [int(c) for c in callees]
    t, c0 = time.perf_counter(), time.process_time()
    for a, b in zip(c_int, e_int, strict=True):
        v.observe(a, b, time.time())
    local_wall, local_cpu = time.perf_counter() - t, time.process_time() - c0
    r = _Resp(args.redis)
    sha = str(r.call("SCRIPT", "LOAD", _VELOCITY_LUA))
    tag = f"bench{os.getpid()}"

    def redis_cpu() -> float:
        info = str(r.call("INFO", "cpu"))
        f = dict(x.split(":", 1) for x in info.split() if ":" in x)
        return float(f["used_cpu_user"]) + float(f["used_cpu_sys"])

    rc0 = redis_cpu()
    t, c0 = time.perf_counter(), time.process_time()
    for who, whom in zip(callers, callees, strict=True):
        now = time.time()
        minute, hour = int(now // 60), int(now // 3600)
        r.call("EVALSHA", sha, "4", f"{tag}:{who}:c:{minute}", f"{tag}:{who}:c:h{hour}",
               f"{tag}:{who}:e:{minute}", f"{tag}:{who}:e:h{hour}", whom)
    wall, cpu, rcpu = time.perf_counter() - t, time.process_time() - c0, redis_cpu() - rc0
    keys = r.call("KEYS", f"{tag}:*")
    if isinstance(keys, list):
        for k in range(0, len(keys), 500):
            r.call("DEL", *keys[k : k + 500])
    n = args.calls
    return {"calls": n, "local_us_per_call": local_wall / n * 1e6,
            "local_cpu_us_per_call": local_cpu / n * 1e6,
            "redis_us_per_call": wall / n * 1e6, "redis_client_cpu_us_per_call": cpu / n * 1e6,
            "redis_server_cpu_us_per_call": rcpu / n * 1e6,
            "redis_vs_local_wall": wall / local_wall}


def main(argv: list[str]) -> None:
    """Parse arguments and run one benchmark; print its figures as JSON."""
    p = argparse.ArgumentParser(prog="python -m bench screening")
    p.add_argument("part", choices=["engine", "snapshot", "http", "sip", "workers", "redis"])
    p.add_argument("--redis", default="127.0.0.1:6379", help="redis: host:port")
    p.add_argument("--workers", default="1,2,4", help="workers: the counts to run")
    p.add_argument("--transports", default="un,u1", help="workers: sipp -t values")
    p.add_argument("--limit", type=int, default=200, help="workers: calls outstanding")
    p.add_argument("--numbers", type=int, default=10_000_000)
    p.add_argument("--calls", type=int, default=300_000)
    p.add_argument("--ported", type=int, default=1_000_000,
                   help="engine: numbers in the portability database")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rate", type=int, default=5000)
    args = p.parse_args(argv)
    if args.part in ("http", "sip", "workers") and not shutil.which(
            "wrk" if args.part == "http" else "sipp"):
        sys.exit("needs wrk and hey (http) or sipp (sip): apt-get install wrk hey sip-tester")
    if args.part == "sip" and args.calls == 300_000:
        args.calls = 50_000
    if args.part == "redis" and args.calls == 300_000:
        args.calls = 20_000
    if args.part == "workers":
        args.calls = 20_000 if args.calls == 300_000 else args.calls
        args.rate = 50_000 if args.rate == 5000 else args.rate  # as fast as answered
    fn = {"engine": bench_engine, "snapshot": bench_snapshot, "http": bench_http,
          "sip": bench_sip, "workers": bench_workers, "redis": bench_redis}[args.part]
    print(json.dumps(fn(args), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
