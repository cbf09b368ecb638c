"""``telshield ingest`` and ``telshield lake``: get feeds into the lake and see what it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    InitOption,
    command_group,
    existing_data,
    settings_from,
    table,
    whole,
)
from telshield.services.ingest import (
    INGEST_ORDER,
    IngestOptions,
    IngestReport,
    ingest,
    ingest_all,
    input_bytes,
)
from telshield.services.lake import lake_stats
from telshield.wiring.ingest import (
    check_feed_file,
    feed_specs,
    feeds_markdown,
    ingest_options,
    quarantined,
)

console = Console()
lake_app = command_group(help="Look into the lake: what each feed holds and what was quarantined.")


ProfileOption = Annotated[
    str | None,
    typer.Option(help="Feed profile the files are read through: a name in ingest.profile_dir "
                 "or a .toml path (docs/feeds.md, Feed profiles)."),
]


def ingest_cmd(
    feed: Annotated[
        str,
        typer.Argument(
            help="Feed name (cells, subscribers, orders, calls, sms, clues, sanctions, "
            "device_intel, roaming, ported, registrations), or 'all' to ingest every <feed>/ "
            "folder of each PATH."
        ),
    ],
    paths: Annotated[
        list[Path], typer.Argument(help="CSV or Parquet files, or directories of them.")
    ],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    chunk_rows: Annotated[
        int | None, typer.Option(help="Rows per chunk when streaming (bounds memory).")
    ] = None,
    init: InitOption = False,
    profile: ProfileOption = None,
) -> None:
    """Validate feed files and add their new rows to the lake; bad rows go to quarantine.

    Re-ingesting a file adds nothing. Exits non-zero only when a file cannot be read at all.
    """
    settings = existing_data(config, data_dir, init=init)
    opts = ingest_options(settings, profile, None if feed == "all" else [feed])
    if chunk_rows:
        opts = IngestOptions(**{**opts.__dict__, "chunk_rows": chunk_rows})
    reports: list[IngestReport] = []
    folders = [d / f for d in paths for f in INGEST_ORDER if (d / f).is_dir()]
    total = input_bytes(folders if feed == "all" else paths) if feed != "all" or folders else 0
    with _progress() as bar:
        task = bar.add_task(f"ingest {feed}", total=total or None)

        def for_each(n: int) -> None:
            bar.advance(task, n)

        if feed == "all":
            for d in paths:
                reports.extend(ingest_all(d, opts, progress=for_each))
        else:
            reports.append(ingest(feed, paths, opts, progress=for_each))
    console.print(_summary(reports))
    for r in reports:
        for link in r.skipped:
            console.print(f"[yellow]skipped {link}[/]: a link that leaves the folder (or names a "
                          "file read already); put the file itself in the folder")
        if r.quarantine_file:
            console.print(
                f"[yellow]{sum(r.quarantined.values()):,} {r.feed} row(s) quarantined[/] in "
                f"{r.quarantine_file}; see them with: telshield lake quarantine --feed {r.feed}"
            )


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _summary(reports: list[IngestReport]) -> Table:
    t = table(whole("feed"), *(whole(c, justify="right") for c in (
        "files", "rows read", "added", "already\nin lake", "quarantined")), "reasons")
    t.title = "ingest"
    for r in reports:
        reasons = ", ".join(f"{k} {v:,}" for k, v in r.quarantined.most_common())
        t.add_row(
            r.feed,
            str(len(r.files)),
            f"{r.rows_read:,}",
            f"{r.added:,}",
            f"{r.already_present:,}",
            f"{sum(r.quarantined.values()):,}",
            reasons or "-",
        )
    return t


@lake_app.command("stats")
def stats_cmd(data_dir: DataDirOption = None, config: ConfigOption = None) -> None:
    """Rows, files, size and days per feed, and quarantined rows by reason."""
    settings = existing_data(config, data_dir)
    t = table(whole("feed"), *(whole(c, justify="right") for c in ("rows", "files", "MiB",
                                                                     "days")),
              "first day", "last day", "quarantined")
    t.title = f"lake at {settings.lake_dir}"
    for s in lake_stats(settings.lake_dir, settings.quarantine_dir):
        q = ", ".join(f"{k} {v:,}" for k, v in s.quarantined.most_common()) or "-"
        t.add_row(
            s.feed,
            f"{s.rows:,}",
            str(s.files),
            f"{s.bytes / 2**20:,.1f}",
            str(s.days),
            s.first_day or "-",
            s.last_day or "-",
            q,
        )
    console.print(t)


@lake_app.command("quarantine")
def quarantine_cmd(
    feed: Annotated[str | None, typer.Option(help="Only this feed.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only this reason code.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (0 = all).")] = 20,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON object a row, for scripts and re-feeding.")
    ] = False,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Show quarantined rows: file, line, reasons and the original record."""
    import orjson

    settings = existing_data(config, data_dir)
    rows = quarantined(settings, feed, reason)
    if limit:
        rows = rows.slice(0, limit)
    if json_lines:
        for r in rows.to_pylist():
            typer.echo(orjson.dumps(r, default=str).decode())
        return
    t = Table(title=f"{rows.num_rows:,} quarantined row(s)")
    for col in ("feed", "file", "line", "problems", "record"):
        t.add_column(col, overflow="fold")
    for r in rows.to_pylist():
        t.add_row(r["feed"], r["source_file"], str(r["line"]), r["problems"], r["record"])
    console.print(t)


class _IngestGroup(TyperGroup):
    """``telshield ingest``: ``stream`` and ``publish`` are sub-commands; anything else is the
    file ingest (``telshield ingest FEED PATH...``, also ``telshield ingest files ...``)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # the vendored click's Context
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["files", *args]
        return super().parse_args(ctx, args)


ingest_app = command_group(
    cls=_IngestGroup, no_args_is_help=True,
    help="Get feeds into the lake: files (telshield ingest FEED PATH...) or a message stream.",
)


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``lake`` to the CLI."""
    from telshield.cli import stream

    ingest_app.command("files")(ingest_cmd)
    stream.register(ingest_app)
    app.add_typer(ingest_app, name="ingest")
    app.add_typer(lake_app, name="lake")
    app.add_typer(feeds_app, name="feeds")


feeds_app = command_group(help="The feeds' schemas and checks.")


@feeds_app.command("describe")
def describe_cmd(
    feed: Annotated[str | None, typer.Argument(help="One feed; all when omitted.")] = None,
    markdown: Annotated[bool, typer.Option(help="Print docs/feeds.md instead.")] = False,
) -> None:
    """Show each feed's columns, types, checks and key."""
    if markdown:
        typer.echo(feeds_markdown(), nl=False)
        return
    for spec in feed_specs(feed):
        t = Table(title=f"{spec.name} — {spec.doc}", title_justify="left")
        for col in ("column", "type", "required", "check", "meaning"):
            t.add_column(col)
        for c in spec.columns:
            t.add_row(c.name, str(c.type), "yes" if c.required else "no", c.check.value, c.doc)
        console.print(t)
        console.print(f"key: {', '.join(spec.key)}; partitioned by: {spec.time_column or '-'}\n")


@feeds_app.command("check")
def check_cmd(
    path: Annotated[Path, typer.Argument(help="A CSV or Parquet file as the source exports it.")],
    feed: Annotated[str, typer.Option(help="The feed the file holds.")],
    profile: ProfileOption = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Before ingest: what the profile still needs for FILE (unknown and missing columns,
    unmapped values with counts, unparseable times, hash format mismatches). Exits 1 when an
    ingest would quarantine rows or refuse the file, 0 when every row would be ingested."""
    settings = settings_from(config, data_dir)
    r = check_feed_file(settings, path, feed, profile)
    typer.echo(f"{r.path}: feed {r.feed}, profile {r.profile or '(none)'}")
    typer.echo(f"columns: {', '.join(r.header)}")
    if r.unknown:
        typer.echo(f"unknown columns (ignored; rename them in [{r.feed}.columns] if they are "
                   f"ours): {', '.join(r.unknown)}")
    if r.missing:
        typer.echo(f"missing columns (ingest refuses the file; rename them in [{r.feed}.columns] "
                   f"or give [{r.feed}.defaults]): {', '.join(r.missing)}")
        raise typer.Exit(1)
    typer.echo(f"rows: {r.rows:,}; would be quarantined: {r.would_quarantine:,}")
    for reason, n in r.quarantined.most_common():
        typer.echo(f"  {reason}: {n:,} row(s)")
    for p in r.problems:
        what = {"bad_enum": "unmapped values", "bad_type": "unparseable values",
                "bad_hash": "values not in the declared hash format (not shown)"}.get(
                    p.reason, p.reason)
        typer.echo(f"{p.column} (export column {p.source_column!r}): {what}: {p.rows:,} row(s)")
        for value, n in p.values:
            typer.echo(f"    {value!r}: {n:,}")
    for line, reason in r.malformed[:20]:
        typer.echo(f"line {line}: {reason}")
    if r.duplicates:
        typer.echo(f"repeated keys ({', '.join(feed_specs(r.feed)[0].key)}): {r.duplicates:,} "
                   "row(s)")
    if not r.ready:
        raise typer.Exit(1)
    typer.echo("ready: every row would be ingested")
