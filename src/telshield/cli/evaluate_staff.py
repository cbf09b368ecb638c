"""``telshield evaluate staff-risk``: where the simulator's colluding staff IDs rank in the staff
risk ranking (computed first, over the province's feeds and the store's alerts; the truth is
read only to judge it)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from telshield.cli.common import ConfigOption, DataDirOption, settings_from
from telshield.cli.detect import parse_time
from telshield.domain.paging import Page
from telshield.domain.regrisk import RiskBy

console = Console()


def staff_risk_cmd(
    world: Annotated[Path, typer.Option(help="Folder written by `telshield world generate`; "
                                        "its feeds are read as the lake.", exists=True,
                                        file_okay=False)],
    since: Annotated[str | None, typer.Option(
        help="Count registrations from this time on (CST); default: all.")] = None,
    min_count: Annotated[int | None, typer.Option(
        "--min-count", help="Least registrations to be ranked (default: risk_min_count).")]
    = None,
    top: Annotated[int, typer.Option(help="The top that the bar looks at.")] = 10,
    share: Annotated[float | None, typer.Option(
        help="The check's threshold to judge (default: risk_share_verify).")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Colluding staff IDs in the top N of the staff risk ranking (run `telshield detect` on
    the world first, with the same --data-dir, so that numbers are alerted)."""
    from telshield import wiring
    from telshield.evaluate.staff_risk import colluding_staff, gang_cards, judge
    from telshield.wiring.registrations import risk_ranking

    settings = settings_from(config, data_dir)
    ranking = risk_ranking(settings, wiring.open_store(settings), lake=world)
    start: datetime | None = parse_time(since) if since else None
    rows = ranking.ranking(RiskBy.STAFF, since=start, all_time=start is None,
                           min_count=min_count, page=Page(limit=1_000_000))
    t = settings.registration.risk_share_verify if share is None else share
    bad = ranking.bad_numbers()
    gangs = gang_cards(world)
    cards = {g: len(m & bad) for g, m in gangs.items()}
    r = judge(rows, colluding_staff(world), top=top, share_verify=t, bad_cards=cards)
    console.print(f"staff IDs ranked: {r.ranked}; colluding: {r.colluding} "
                  f"({r.colluding_ranked} ranked)")
    console.print(f"colluding staff IDs in the top {r.top}: {r.in_top} "
                  f"(precision {r.top_precision:.2f}); gangs with a staff ID in the top "
                  f"{r.top}: {r.gangs_in_top} of {r.gangs}")
    console.print(f"gangs with a card gone bad: {r.gangs_with_signal} of {r.gangs}; of them "
                  f"with a staff ID in the top {r.top}: {r.gangs_with_signal_in_top}")
    console.print("gang cards gone bad: " + ", ".join(f"{g} {cards[g]}/{len(gangs[g])}"
                                                     for g in sorted(gangs)))
    console.print(f"staff IDs above risk_share_verify {r.share_verify:g} (their applications "
                  f"verified): {r.flagged}, of them colluding: {r.flagged_colluding}")
    ranks = sorted(r.ranks.items(), key=lambda x: x[1])
    console.print("ranks: " + ", ".join(f"{s} {n}" for s, n in ranks))
