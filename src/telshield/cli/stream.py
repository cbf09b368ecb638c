"""``telshield ingest stream`` and ``telshield ingest publish``: feeds over NATS JetStream."""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    InitOption,
    existing_data,
    settings_from,
)
from telshield.services.stream import BatchReport
from telshield.wiring.stream import publish_files, run_stream

console = Console()

SubjectOption = Annotated[str, typer.Option(
    "--subject", help="The subject messages are published on (one feed per subject).")]
StreamOption = Annotated[str | None, typer.Option(
    "--stream", help="JetStream stream; default [stream] stream.")]


def stream_cmd(
    subject: SubjectOption,
    feed: Annotated[str, typer.Option(help="The feed the messages hold (calls, sms, ...).")
                    ] = "calls",
    stream: StreamOption = None,
    batch: Annotated[int | None, typer.Option(
        "--batch", min=1, help="Messages a micro-batch; default [stream] batch.")] = None,
    max_wait: Annotated[float | None, typer.Option(
        "--max-wait", min=0.01, help="Seconds a fetch waits for the first message; default "
        "[stream] max_wait_s.")] = None,
    once: Annotated[bool, typer.Option(
        "--once", help="Stop when nothing is left to consume (none waiting, none unacknowledged)"
        " instead of running until SIGTERM or Ctrl-C.")] = False,
    quiet: Annotated[bool, typer.Option(help="No line per batch.")] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    init: InitOption = False,
) -> None:
    """Consume CSV micro-batches of one feed from NATS JetStream into the lake, exactly once.

    A batch is acknowledged only after its rows are committed; a batch delivered again adds
    nothing. Bad rows and bad messages are quarantined with the subject and sequence.
    """
    settings = existing_data(config, data_dir, init=init)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def line(b: BatchReport) -> None:
        if not quiet:
            q = sum(b.quarantined.values())
            console.print(
                f"batch seq {b.first_seq}-{b.last_seq}: {b.messages} message(s)"
                f"{f' ({b.redelivered} redelivered)' if b.redelivered else ''}, "
                f"{b.rows_read:,} row(s), added {b.added:,}, already in lake "
                f"{b.already_present:,}, quarantined {q:,}"
                f"{f', bad messages {b.bad_messages}' if b.bad_messages else ''} "
                f"in {b.seconds:.2f} s", highlight=False)

    r = run_stream(settings, subject=subject, feed_name=feed, stream=stream, batch=batch,
                   max_wait_s=max_wait, once=once, stop=lambda: stopping, on_batch=line)
    reasons = ", ".join(f"{k} {v:,}" for k, v in r.quarantined.most_common()) or "-"
    console.print(
        f"stream {r.feed}: {r.batches} batch(es), {r.messages} message(s) "
        f"({r.redelivered} redelivered), {r.rows_read:,} row(s) read, added {r.added:,}, "
        f"already in lake {r.already_present:,}, quarantined {sum(r.quarantined.values()):,} "
        f"({reasons}), bad messages {r.bad_messages}", highlight=False)
    if r.quarantined:
        console.print(f"see them with: telshield lake quarantine --feed {r.feed}")


def publish_cmd(
    paths: Annotated[list[Path], typer.Argument(help="CSV feed files.")],
    subject: SubjectOption,
    stream: StreamOption = None,
    rows: Annotated[int | None, typer.Option(
        "--rows", min=1, help="Records a message (each carries the header); default "
        "[stream] publish_rows.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Publish CSV feed files to a JetStream subject as messages of up to --rows records."""
    settings = settings_from(config, data_dir)
    p = publish_files(settings, paths, subject=subject, stream=stream, rows=rows)
    console.print(f"published {p.messages} message(s), {p.bytes:,} bytes, to {subject} "
                  f"(stream sequences {p.first_seq}-{p.last_seq})", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``stream`` and ``publish`` to ``telshield ingest``."""
    app.command("stream")(stream_cmd)
    app.command("publish")(publish_cmd)
