"""``telshield trace NUMBER``: the numbers linked to a number (溯源), ranked, with evidence."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    EngineOption,
    emit,
    existing_data,
    table,
    whole,
)
from telshield.cli.users import ActorOption, default_actor
from telshield.domain.errors import InvalidInput
from telshield.services.trace import Trace, graphml

console = Console()


def render(t: Trace, fmt: str) -> str:
    """The trace as json or graphml (text is printed as tables)."""
    if fmt == "json":
        return json.dumps(asdict(t), ensure_ascii=False, indent=2)
    if fmt == "graphml":
        return graphml(t)
    raise InvalidInput(f"--format {fmt!r}: use text, json or graphml")


def trace_cmd(
    number: str,
    depth: Annotated[int, typer.Option(help="1: direct links; 2: one step further.")] = 2,
    fmt: Annotated[str, typer.Option("--format", help="text, json or graphml.")] = "text",
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    lake: Annotated[Path | None, typer.Option(help="Read feeds from this folder instead of "
                                              "the data directory's lake.")] = None,
    actor: ActorOption = "", engine: EngineOption = None, data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Trace a number: its registration and the numbers linked to it, strongest first."""
    from telshield import wiring
    from telshield.wiring.trace import tracer

    settings = existing_data(config, data_dir)
    t = tracer(settings, wiring.open_store(settings), lake=lake, engine=engine).trace(
        number, actor=actor or default_actor(), depth=depth)
    if fmt != "text":
        emit(render(t, fmt), out, console)
        return
    r = t.registration
    console.print(f"[bold]{t.number}[/] registered {r.get('registered_at', '?')} channel "
                  f"{r.get('channel_id', '?')} staff {r.get('staff_id', '?')} terminal "
                  f"{r.get('terminal_id') or '-'} order {r.get('order_id') or '-'}")
    tb = table(whole("number"), "strength", "evidence")
    for x in t.links[:20]:
        tb.add_row(x.msisdn, f"{x.strength:.2f}", "; ".join(
            f"{e.kind} {e.value}" + (f" via {e.via}" if e.via else "") + f" ({e.strength:.2f})"
            for e in x.evidence[:3]))
    console.print(tb)


def evaluate_trace_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`.",
                                        exists=True, file_okay=False)],
    per_group: Annotated[int, typer.Option(help="Numbers traced per den and gang.")] = 3,
    depth: Annotated[int, typer.Option(help="Trace depth.")] = 2,
    find: Annotated[bool, typer.Option(help="Run the den finder every --step-hours over the "
                                       "world and the gang finder once before tracing, so "
                                       "stored dens and gangs are evidence.")] = False,
    step_hours: Annotated[int, typer.Option(min=1, help="With --find: run the den finder "
                                            "this often.")] = 6,
    config: ConfigOption = None,
) -> None:
    """Share of a den's or gang's other numbers in the top 20 of a trace of one of them."""
    import tempfile
    from statistics import mean

    from telshield.cli.common import settings_from
    from telshield.cli.trace_evaluate import evaluate
    from telshield.evaluate.trace import TOP

    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_from(config, Path(tmp))
        cases, n_dens, n_gangs = evaluate(settings, world, per_group=per_group, depth=depth,
                                          find=find, step_hours=step_hours)
    if find:
        console.print(f"found first: {n_dens} den(s) (every {step_hours} h), {n_gangs} gang(s)")
    t = table(whole("group"), "kind", whole("number"), "others", f"in top {TOP}", "share",
              "also in", "share, all its groups")
    for c in cases:
        t.add_row(c.group, c.kind, c.number, str(c.others), str(c.hits), f"{c.share:.0%}",
                  ", ".join(c.also) or "-", f"{c.share_any:.0%}" if c.also else "")
    console.print(t)
    ok = sum(1 for c in cases if c.share >= 0.8)
    console.print(f"traces meeting the 80 % bar: {ok}/{len(cases)}; mean share "
                  f"{mean(c.share for c in cases):.1%}")
    dual = [c for c in cases if c.also]
    if dual:
        ok_any = sum(1 for c in cases if c.share_any >= 0.8)
        console.print(f"{len(dual)} traced number(s) belong to two groups (a gang's card in a "
                      f"den): judged on all of a number's groups, {ok_any}/{len(cases)} meet "
                      "the bar")


def register(app: typer.Typer) -> None:
    """Add ``telshield trace`` and ``telshield evaluate trace``."""
    from telshield.cli.evaluate import evaluate_app

    evaluate_app.command("trace")(evaluate_trace_cmd)
    app.command("trace")(trace_cmd)
