"""Clue bundles judged against the simulator's truth: for a sample of den SIMs and gang cards
taken as police clues, the share of the den's or gang's other numbers the clue's bundle holds,
and the share of the bundle's members that are not fraud numbers.

A bundle holds at most ``[clues] bundle_max_members`` numbers, and a den keeps every SIM swapped
through it over the run, so the share is given both of all the group's other numbers and of the
most the bundle could hold. The bundle service never reads truth; only this module does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from telshield.domain.errors import InvalidInput
from telshield.evaluate.trace import groups, sample

FRAUD_ROLES = frozenset({"fraud_sim", "den_sim", "trafficked_card", "offnet_fraud"})


@dataclass(frozen=True)
class Case:
    """One clue: its group, the group's other numbers, and what its bundle held."""

    group: str
    kind: str  # den kind or "gang"
    number: str
    others: int  # the group's other numbers
    size: int  # bundle members
    hits: int  # members of the same group
    not_fraud: int  # members that are not fraud numbers

    @property
    def recall(self) -> float:
        """Share of the group's other numbers in the bundle."""
        return self.hits / self.others if self.others else float("nan")

    def recall_capped(self, cap: int) -> float:
        """Hits over the most a bundle of ``cap`` members could hold."""
        return self.hits / min(cap, self.others) if self.others else float("nan")

    @property
    def innocent_share(self) -> float:
        """Share of the bundle's members that are not fraud (0 for an empty bundle)."""
        return self.not_fraud / self.size if self.size else 0.0


def fraud_numbers(world: Path) -> set[str]:
    """The numbers the simulator made fraud numbers (truth)."""
    path = world / "truth" / "numbers.parquet"
    if not path.exists():
        raise InvalidInput(f"{path} is missing; give a folder written by `telshield world "
                           "generate`")
    t = pq.read_table(path, columns=["msisdn", "role"]).to_pylist()
    return {str(r["msisdn"]) for r in t if r["role"] in FRAUD_ROLES}


def judge(world: Path, bundle: Callable[[str], list[str]], per_group: int = 3) -> list[Case]:
    """Take a sample of each true den's and gang's numbers as clues; ``bundle`` gives the
    members a clue on a number gets."""
    fraud = fraud_numbers(world)
    cases = []
    for gid, kind, numbers in groups(world):
        for n in sample(numbers, per_group):
            others = set(numbers) - {n}
            members = set(bundle(n)) - {n}
            cases.append(Case(group=gid, kind=kind, number=n, others=len(others),
                              size=len(members), hits=len(others & members),
                              not_fraud=len(members - fraud)))
    return cases
