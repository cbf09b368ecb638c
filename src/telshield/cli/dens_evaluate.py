"""The simulated operating cycle behind ``telshield evaluate dens``: the finder runs every few
hours over a world's calls with an empty store, then its dens are judged against truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from telshield.domain.paging import Page
from telshield.evaluate.dens import DenReport, best, cutoffs, judge, owner, read_truth
from telshield.settings import Settings

ALL = Page(limit=1000)


def evaluate(settings: Settings, world: Path, step_hours: int, engine: str | None = None
             ) -> DenReport:
    """Run the finder every ``step_hours`` over ``world`` (on ``engine``; default ``[engine]
    name``) and judge the stored dens."""
    from telshield import wiring
    from telshield.wiring.dens import dens

    truth = read_truth(world)
    owners = owner(truth)
    store = wiring.open_store(settings)
    try:
        svc = dens(settings, store, lake=world, with_cases=False, engine=engine)
        start, end = svc.span()
        found_at: dict[str, datetime] = {}
        for t in cutoffs(start, end, step_hours):
            svc.find(actor="evaluate", until=t)
            for d in svc.list(page=ALL):
                hit = best(svc.get(int(d.id or 0)), owners)
                if hit is not None:
                    found_at.setdefault(hit, t)
        found = [svc.get(int(d.id or 0)) for d in svc.list(page=ALL)]
        firsts, active = svc.first_calls(list(owners))
        cells = svc.cells()
    finally:
        dispose = getattr(store, "dispose", None)
        if dispose is not None:
            dispose()
    first_call: dict[str, datetime] = {}
    for m, at in firsts.items():
        first_call[owners[m]] = min(first_call.get(owners[m], at), at)
    return judge(found, truth, found_at, first_call, active, cells)
