"""Streaming ingest from NATS JetStream: throughput against file ingest of the same rows, and
exactly-once under consumer kills.

    python -m bench stream --rows 200000 --kills 100

Throughput: one calls CSV is ingested as a file (``services.ingest``) and, in the same run,
published to a fresh stream as messages of ``--msg-rows`` records and consumed in
micro-batches of ``--batch`` messages (``services.stream``); both in fresh subprocesses, each
into a lake of its own. The consumer's time runs from its start until its last batch is
acknowledged (the closing empty fetch is left out); publishing is timed apart. The bar is
stream >= 0.5x file.

Kills: ``--kill-rows`` rows are published, then the CLI consumer (``telshield ingest stream
--once``) is started and SIGKILLed ``--kills`` times, each time at a random moment in the
``--kill-window`` seconds after it reported its first committed batch (so mid-batch: reading,
committing or acknowledging the next one), and restarted; a last run goes to the end. The lake
must then hold every published row exactly once, nothing quarantined, nothing pending.
NATS at $TELSHIELD_STREAM__URL (default nats://127.0.0.1:4222).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.bench_ingest import GENERATE

ROOT = Path(__file__).resolve().parents[1]
URL = os.environ.get("TELSHIELD_STREAM__URL", "nats://127.0.0.1:4222")

FILE = """
import time
from datetime import datetime
from pathlib import Path
from telshield.services.ingest import IngestOptions, ingest
t = time.perf_counter()
r = ingest("calls", [Path("{csv}")], IngestOptions(Path("{lake}"), Path("{q}")),
           now=datetime(2026, 11, 29))
assert r.added == {rows} and not r.quarantined, (r.added, r.quarantined)
print(time.perf_counter() - t)
"""

STREAM = """
import time
from datetime import datetime
from pathlib import Path
from telshield.feeds.jetstream import JetStream
from telshield.services.ingest import IngestOptions
from telshield.services.stream import StreamOptions, consume
t = time.perf_counter()
last = [t]
def done(b):
    last[0] = time.perf_counter()
with JetStream("{url}") as js:
    c = js.consumer("{stream}", "{subject}", "bench", ack_wait_s=60, max_ack_pending=100000)
    r = consume(c, IngestOptions(Path("{lake}"), Path("{q}")),
                StreamOptions("calls", Path("{spool}"), batch={batch}, max_wait_s=1.0),
                once=True, on_batch=done, now=lambda: datetime(2026, 11, 29))
assert r.added == {rows} and not r.quarantined, (r.added, r.quarantined)
print(last[0] - t, r.batches)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
            "TELSHIELD_STREAM__URL": URL}


def _child(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env())
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return out.stdout.strip().splitlines()[-1].split()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "telshield", "ingest", *args]


def _lake_rows(lake: Path) -> tuple[int, int]:
    import duckdb

    files = sorted((lake / "calls").rglob("*.parquet"))
    if not files:
        return 0, 0
    lst = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    n, d = duckdb.execute(
        f"SELECT count(*), count(DISTINCT call_id) FROM read_parquet({lst})").fetchall()[0]
    return int(n), int(d)


def throughput(d: Path, rows: int, msg_rows: int, batch: int) -> dict[str, object]:
    """File ingest against stream ingest of the same generated rows."""
    import duckdb

    from telshield.feeds.jetstream import JetStream
    from telshield.settings import load_settings
    from telshield.wiring.stream import publish_files

    csv = d / "calls.csv"
    duckdb.sql(GENERATE.format(rows=rows, path=csv))
    file_s = float(_child(FILE.format(csv=csv, lake=d / "lake-file", q=d / "q-file",
                                      rows=rows))[0])
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"BENCH_{tag}", f"bench.{tag}.calls"
    settings = load_settings(stream={"url": URL})
    t = time.perf_counter()
    pub = publish_files(settings, [csv], subject=subject, stream=stream, rows=msg_rows)
    publish_s = time.perf_counter() - t
    try:
        out = _child(STREAM.format(url=URL, stream=stream, subject=subject, lake=d / "lake-s",
                                   q=d / "q-s", spool=d / "spool", batch=batch, rows=rows))
    finally:
        with JetStream(URL) as js:
            js.delete_stream(stream)
    stream_s, batches = float(out[0]), int(out[1])
    assert _lake_rows(d / "lake-s") == (rows, rows)
    return {
        "rows": rows, "messages": pub.messages, "rows_per_message": msg_rows,
        "messages_per_batch": batch, "batches": batches,
        "file_ingest_s": round(file_s, 2), "file_rows_per_s": round(rows / file_s),
        "publish_s": round(publish_s, 2),
        "stream_ingest_s": round(stream_s, 2), "stream_rows_per_s": round(rows / stream_s),
        "stream_vs_file": round(file_s / stream_s, 2),
    }


def kills(d: Path, rows: int, n: int, window: float, msg_rows: int, batch: int,
          seed: int) -> dict[str, object]:
    """Kill the CLI consumer ``n`` times at random points, then count."""
    import duckdb

    from telshield.feeds.jetstream import JetStream

    csv = d / "kill.csv"
    duckdb.sql(GENERATE.format(rows=rows, path=csv))
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"BENCHK_{tag}", f"benchk.{tag}.calls"
    data = d / "data"
    env = {**_env(), "TELSHIELD_STREAM__ACK_WAIT_S": "1"}
    subprocess.run(_cli("publish", str(csv), "--subject", subject, "--stream", stream,
                        "--rows", str(msg_rows)), env=env, check=True, capture_output=True)
    cmd = _cli("stream", "--subject", subject, "--stream", stream, "--batch", str(batch),
               "--max-wait", "0.3", "--once", "--data-dir", str(data), "--init")
    rng = random.Random(seed)
    landed = finished_early = 0
    t = time.perf_counter()
    try:
        for _ in range(n):
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line.startswith("batch"):
                p.wait(60)
                finished_early += 1
                continue
            time.sleep(rng.uniform(0.0, window))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                landed += 1
            p.wait(60)
        final = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if final.returncode:
            raise SystemExit(final.stderr[-3000:])
        with JetStream(URL) as js:
            pending = js.consumer(stream, subject, "telshield-ingest-calls", ack_wait_s=1,
                                  max_ack_pending=10_000).pending()
    finally:
        with JetStream(URL) as js:
            js.delete_stream(stream)
    in_lake, distinct = _lake_rows(data / "lake")
    quarantined = sum(1 for _ in (data / "quarantine").rglob("*.parquet"))
    ok = in_lake == distinct == rows and quarantined == 0 and pending.unacked == 0 \
        and pending.waiting == 0
    return {
        "published_rows": rows, "kills_asked": n, "kills_landed": landed,
        "runs_that_found_nothing_left": finished_early, "rows_in_lake": in_lake,
        "distinct_keys": distinct, "quarantine_files": quarantined,
        "pending_after": [pending.waiting, pending.unacked], "exactly_once": ok,
        "seconds": round(time.perf_counter() - t, 1),
    }


def main(argv: list[str]) -> None:
    """Run the throughput comparison and the kill test; print the figures as JSON."""
    p = argparse.ArgumentParser(prog="python -m bench stream", description=__doc__)
    p.add_argument("--rows", type=int, default=200_000, help="rows for the throughput run")
    p.add_argument("--msg-rows", type=int, default=5000, help="records a message")
    p.add_argument("--batch", type=int, default=10, help="messages a micro-batch")
    p.add_argument("--kills", type=int, default=100)
    p.add_argument("--kill-rows", type=int, default=200_000)
    p.add_argument("--kill-msg-rows", type=int, default=500)
    p.add_argument("--kill-batch", type=int, default=2)
    p.add_argument("--kill-window", type=float, default=1.0, help="seconds after the first batch")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--skip-throughput", action="store_true")
    a = p.parse_args(argv)
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        d = Path(tmp)
        if not a.skip_throughput:
            result["throughput"] = throughput(d, a.rows, a.msg_rows, a.batch)
            print(json.dumps(result, indent=2), flush=True)
        if a.kills:
            result["kills"] = kills(d, a.kill_rows, a.kills, a.kill_window, a.kill_msg_rows,
                                    a.kill_batch, a.seed)
    print(json.dumps(result, indent=2))
    kill_result = result.get("kills")
    if isinstance(kill_result, dict) and not kill_result["exactly_once"]:
        sys.exit(1)
