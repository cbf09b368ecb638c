"""Composition of the numbering plan for the edges: the compiled prefix table, cached in the data
directory, and the plan for single numbers built from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from telshield.domain.numbers import NumberingPlan
from telshield.settings import Settings


@dataclass(frozen=True)
class PlanTable:
    """The compiled prefix table: its size, rows per (kind, operator) and where it is cached."""

    rows: int
    summary: list[tuple[str, str, int]]
    path: Path


def numbering_plan(settings: Settings) -> NumberingPlan:
    """The plan for classifying single numbers (compiled once, cached in the data directory)."""
    from telshield.reference.numbering import load_plan_table, plan_from_table

    return plan_from_table(load_plan_table(settings.data_dir))


def plan_table(settings: Settings, *, rebuild: bool = False) -> PlanTable:
    """Compile the prefix table (or read it from the cache) and describe it."""
    from telshield.reference.numbering import load_plan_table, plan_path, plan_summary

    table = load_plan_table(settings.data_dir, rebuild=rebuild)
    return PlanTable(rows=table.num_rows, summary=plan_summary(table),
                     path=plan_path(settings.data_dir))
