"""Trace judged against the simulator's truth: for a sample of den SIMs and gang cards, the share
of its den's or gang's other numbers in the trace's top 20.

A den holds every SIM swapped through it over the run (dozens), more than a top 20 can hold, so
the share is of ``min(20, others)``: 100 % means the top 20 is all den (or gang) numbers.

A number can belong to two groups: a gang's card sold on to a den is both. Its trace rightly
ranks the den's SIMs beside the gang's cards, and one top 20 cannot hold 80 % of both, so each
case is also judged against the numbers of all the groups it belongs to (``mates``,
``share_any``), beside the strict share of the group it was sampled from. The tracer never
reads truth; only this module does.
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
    also: tuple[str, ...] = ()  # the other groups the number belongs to
    mates: int = 0  # the other numbers of all its groups
    mate_hits: int = 0  # ... in the top 20

    @property
    def share(self) -> float:
        """Hits over the most the top 20 could hold."""
        return self.hits / min(TOP, self.others) if self.others else float("nan")

    @property
    def share_any(self) -> float:
        """The same over the numbers of all the groups the number belongs to."""
        return self.mate_hits / min(TOP, self.mates) if self.mates else float("nan")


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
    every = groups(world)
    member: dict[str, list[tuple[str, list[str]]]] = {}
    for gid, _, numbers in every:
        for n in numbers:
            member.setdefault(n, []).append((gid, numbers))
    for gid, kind, numbers in every:
        for n in sample(numbers, per_group):
            others = set(numbers) - {n}
            mates = {m for _, ns in member[n] for m in ns} - {n}
            ranked = set(top(n)[:TOP])
            cases.append(Case(group=gid, kind=kind, number=n, others=len(others),
                              hits=len(others & ranked),
                              also=tuple(g for g, _ in member[n] if g != gid),
                              mates=len(mates), mate_hits=len(mates & ranked)))
    return cases
