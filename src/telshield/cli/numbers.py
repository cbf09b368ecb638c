"""``telshield numbers``: classify numbers against the numbering plan; build or show the plan."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from telshield.cli.common import (
    ConfigOption,
    DataDirOption,
    command_group,
    settings_from,
    table,
    whole,
)
from telshield.domain.numbers import NumberKind, classify, mask, normalise
from telshield.wiring.numbers import numbering_plan, plan_table

console = Console()
numbers_app = command_group(help="The numbering plan: what a number is, whose, and from where.")


@numbers_app.command("classify")
def classify_cmd(
    numbers: Annotated[
        list[str], typer.Argument(help="Numbers as written: +86 138-1234-5678, 025-84001234, 95588")
    ],
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Normalise and classify numbers: E.164, kind, operator, home province and city, masked."""
    settings = settings_from(config, data_dir)
    plan = numbering_plan(settings)
    t = table(whole("input"), whole("E.164"), "kind", "operator", "province", "city",
              whole("masked"), "note")
    t.title = "numbers"
    for raw in numbers:
        number = normalise(raw)
        if number is None:
            t.add_row(raw, "", NumberKind.INVALID.value, "", "", "", "", "not a number")
            continue
        info = classify(number, plan)
        note = ", ".join(
            x for x in (info.label, "virtual operator" if info.virtual else None, info.country)
            if x
        )
        t.add_row(
            raw, number, info.kind.value, info.operator.value, info.province or "",
            info.city or "", mask(number), note,
        )
    console.print(t)


@numbers_app.command("plan")
def plan_cmd(
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Compile the plan again from the metadata.")
    ] = False,
) -> None:
    """Build the prefix table (once, cached in the data directory) and count its rows."""
    settings = settings_from(config, data_dir)
    plan = plan_table(settings, rebuild=rebuild)
    t = Table(title=f"numbering plan: {plan.rows:,} prefix rows")
    t.add_column("kind")
    t.add_column("operator")
    t.add_column("rows", justify="right")
    for kind, operator, n in plan.summary:
        t.add_row(kind, operator, f"{n:,}")
    console.print(t)
    console.print(f"cached at {plan.path}")


def register(app: typer.Typer) -> None:
    """Add ``telshield numbers`` to the CLI."""
    app.add_typer(numbers_app, name="numbers")
