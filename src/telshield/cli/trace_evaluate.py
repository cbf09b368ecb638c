"""What ``telshield evaluate trace`` runs: with an empty store over a world's feeds (with
``find``, the den finder run every ``step_hours`` over the world's days as the operating cycle
would, then the gang finder once, so that stored dens and gangs become trace evidence), a sample
of each true den's and gang's numbers is traced and judged against truth."""

from __future__ import annotations

from pathlib import Path

from telshield.evaluate.dens import cutoffs
from telshield.evaluate.trace import Case, judge
from telshield.settings import Settings


def evaluate(settings: Settings, world: Path, *, per_group: int, depth: int, find: bool,
             step_hours: int = 6) -> tuple[list[Case], int, int]:
    """The judged traces, and how many dens and gangs the finders stored (0, 0 without
    ``find``)."""
    from telshield import wiring
    from telshield.domain.paging import Page
    from telshield.wiring.dens import dens
    from telshield.wiring.gangs import gangs
    from telshield.wiring.trace import tracer

    store = wiring.open_store(settings)
    try:
        n_dens = n_gangs = 0
        if find:
            d = dens(settings, store, lake=world, with_cases=False)
            start, end = d.span()
            for t in cutoffs(start, end, step_hours):
                d.find(actor="evaluate", until=t)
            n_dens = len(d.list(page=Page(limit=1000)))
            n_gangs = len(gangs(settings, store, lake=world, with_cases=False)
                          .find(actor="evaluate").gangs)
        svc = tracer(settings, store, lake=world)
        cases = judge(world, lambda n: [x.msisdn for x in svc.trace(
            n, actor="evaluate", depth=depth).links], per_group=per_group)
        return cases, n_dens, n_gangs
    finally:
        dispose = getattr(store, "dispose", None)
        if dispose is not None:
            dispose()
