"""What ``telshield evaluate bundles`` runs: with an empty store over a world's feeds (dens and
gangs found first when asked), each sampled clue number gets its bundle, judged against truth."""

from __future__ import annotations

from pathlib import Path

from telshield.evaluate.bundles import Case, judge
from telshield.settings import Settings


def evaluate(settings: Settings, world: Path, *, per_group: int, find: bool) -> list[Case]:
    """Bundles for a sample of each true den's and gang's numbers taken as clues."""
    from telshield import wiring
    from telshield.wiring.bundles import bundles
    from telshield.wiring.dens import dens
    from telshield.wiring.gangs import gangs

    store = wiring.open_store(settings)
    try:
        if find:
            dens(settings, store, lake=world, with_cases=False).find(actor="evaluate")
            gangs(settings, store, lake=world, with_cases=False).find(actor="evaluate")
        svc = bundles(settings, wiring.disposal(settings, store=store, lake=world), lake=world)
        n = iter(range(1_000_000))
        return judge(world, lambda number: [m.msisdn for m in svc.bundle_clue(
            f"EVAL-{next(n)}", number, "", actor="evaluate").members], per_group=per_group)
    finally:
        dispose = getattr(store, "dispose", None)
        if dispose is not None:
            dispose()
