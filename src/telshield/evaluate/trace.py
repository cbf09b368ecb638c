"""Trace judged against the simulator's truth: for a sample of den SIMs and gang cards, the share
of its den's or gang's other numbers in the trace's top 20.

A den holds every SIM swapped through it over the run (dozens), more than a top 20 can hold, so
the share is of ``min(20, others)``: 100 % means the top 20 is all den (or gang) numbers. The
tracer never reads truth; only this module does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from telshield.domain.errors import InvalidInput

TOP = 20


@dataclass(frozen=True)
class Case:
    """One traced number: its group, how many of the group's others the top 20 holds."""

    group: str
    kind: str  # den kind or "gang"
    number: str
    others: int
    hits: int

    @property
    def share(self) -> float:
        """Hits over the most the top 20 could hold."""
        return self.hits / min(TOP, self.others) if self.others else float("nan")


def groups(world: Path) -> list[tuple[str, str, list[str]]]:
    """``(group id, kind, numbers)`` for each true den and gang."""
    out: list[tuple[str, str, list[str]]] = []
    for name, key in (("dens", "den_id"), ("gangs", "gang_id")):
        path = world / "truth" / f"{name}.parquet"
        if not path.exists():
            raise InvalidInput(f"{path} is missing; give a folder written by `telshield world "
                               "generate`")
        for r in pq.read_table(path).to_pylist():
            kind = str(r.get("kind") or "gang")
            out.append((str(r[key]), kind, sorted(str(m) for m in r["msisdns"])))
    return out


def sample(numbers: Sequence[str], per_group: int) -> list[str]:
    """Evenly spaced numbers of a group (deterministic)."""
    if len(numbers) <= per_group:
        return list(numbers)
    step = len(numbers) / per_group
    return [numbers[int(i * step)] for i in range(per_group)]


def judge(world: Path, top: Callable[[str], list[str]], per_group: int = 3) -> list[Case]:
    """Trace a sample of each group's numbers with ``top`` (number -> ranked linked numbers)."""
    cases = []
    for gid, kind, numbers in groups(world):
        for n in sample(numbers, per_group):
            others = set(numbers) - {n}
            hits = len(others & set(top(n)[:TOP]))
            cases.append(Case(group=gid, kind=kind, number=n, others=len(others), hits=hits))
    return cases
