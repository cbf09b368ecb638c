"""``telshield registration risk`` and ``telshield registration audit``: the channel / staff /
terminal risk ranking and the batch audit of past registrations, as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, existing_data, table, whole
from telshield.cli.detect import parse_time
from telshield.domain.paging import Page
from telshield.domain.regrisk import RiskBy
from telshield.services.regaudit import RISK_COLUMNS, Section, risk_dict

console = Console()
notes = Console(stderr=True)  # what is not the report: stdout stays one CSV or JSON document


class Format(StrEnum):
    """How a report is printed."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


FormatOption = Annotated[Format, typer.Option("--format", help="table, csv or json.")]
SinceOption = Annotated[str | None, typer.Option(
    "--since", help="Registrations from this time on, 'YYYY-MM-DD[ HH:MM]' (CST).")]


def _plain(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat()
    return v


def section_csv(s: Section) -> str:
    """One section as CSV text with a header line."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(s.columns)
    for r in s.rows:
        w.writerow([_plain(r[c]) for c in s.columns])
    return buf.getvalue()


def section_json(s: Section) -> dict[str, Any]:
    """One section as a JSON-ready object."""
    return {"title": s.title, "columns": list(s.columns),
            "rows": [{c: _plain(r[c]) for c in s.columns} for r in s.rows]}


def _print(sections: list[Section], fmt: Format) -> None:
    if fmt is Format.JSON:
        typer.echo(json.dumps({s.name: section_json(s) for s in sections}, ensure_ascii=False))
        return
    for s in sections:
        if fmt is Format.CSV:
            if len(sections) > 1:
                typer.echo(f"# {s.name}: {s.title}")
            typer.echo(section_csv(s), nl=False)
            continue
        t = table(*(whole(c) if c in ("key", "value", "id_hash") else c for c in s.columns))
        t.title = f"{s.title} ({len(s.rows)})"
        for r in s.rows:
            t.add_row(*(_cell(r[c]) for c in s.columns))
        console.print(t)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, datetime):
        return f"{v:%Y-%m-%d %H:%M}"
    return "" if v is None else str(v)


def _write(sections: list[Section], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for s in sections:
        (out / f"{s.name}.csv").write_text(section_csv(s), encoding="utf-8")
        (out / f"{s.name}.json").write_text(
            json.dumps(section_json(s), ensure_ascii=False, indent=1), encoding="utf-8")
    notes.print(f"{len(sections)} section(s) written to {out} as CSV and JSON", style="dim")


def risk_cmd(
    by: Annotated[str, typer.Option("--by", help="channel, staff or terminal.")] = "staff",
    since: SinceOption = None,
    all_time: Annotated[bool, typer.Option(
        "--all", help="Every registration (default: the last [registration] risk_days).")]
    = False,
    min_count: Annotated[int | None, typer.Option(
        "--min-count", help="Least registrations to be ranked (default: risk_min_count).")]
    = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows to show.")] = 20,
    fmt: FormatOption = Format.TABLE,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Channels, staff IDs or terminals ranked by the share of their registrations later
    alerted, clued or confirmed fraud (Wilson 95% lower bound first)."""
    from telshield import wiring
    from telshield.wiring.registrations import risk_ranking

    b = RiskBy.parse(by)
    settings = existing_data(config, data_dir)
    ranking = risk_ranking(settings, wiring.open_store(settings))
    rows = ranking.ranking(b, since=parse_time(since) if since else None, all_time=all_time,
                           min_count=min_count, page=Page(limit=top))
    _print([Section(f"risk_{b.value}", f"{b.value} risk ranking", RISK_COLUMNS,
                    [risk_dict(r, i + 1) for i, r in enumerate(rows)])], fmt)


def audit_cmd(
    since: Annotated[str, typer.Option("--since", help="Registrations and orders from this "
                                       "time on, 'YYYY-MM-DD[ HH:MM]' (CST).")],
    until: Annotated[str | None, typer.Option("--until", help="... and before this time.")]
    = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows of each risk ranking.")] = 20,
    fmt: FormatOption = Format.TABLE,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write each section here as <section>.csv and <section>.json.",
        file_okay=False)] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Past registrations that broke a rule (sanctioned holders, IDs over the card limit, bulk
    openings), the e-channel order anomaly report and the risk rankings."""
    from telshield import wiring
    from telshield.wiring.registrations import registration_audit

    settings = existing_data(config, data_dir)
    audit = registration_audit(settings, wiring.open_store(settings))
    sections = audit.run(parse_time(since), parse_time(until) if until else None, top=top)
    _print(sections, fmt)
    if out is not None:
        _write(sections, out)


def install(app: typer.Typer) -> None:
    """Add ``risk`` and ``audit`` to ``telshield registration``."""
    app.command("risk")(risk_cmd)
    app.command("audit")(audit_cmd)
