"""Route class of each call (省际 / 国际 / 网间 / 本地), from the numbering plan and the ingress.

The bar of the article is stated per route class, so the replay reports per class. A call's class
is decided from what the network sees, never from the simulator's truth, by the one rule the
overview page and the police report use too: ``telshield.services.figures.route_expr`` (its
doc lists the rule), applied as one lazy expression over the calls and the plan's prefix table.
"""

from __future__ import annotations

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from telshield.services.figures import (
    BARRED,
    OWN_OPERATOR,
    ROUTES,
    serving_carriers,
    with_route,
)

__all__ = ["BARRED", "OWN_OPERATOR", "ROUTES", "route_classes"]


def route_classes(
    caller: pd.Series, callee: pd.Series, ingress: pd.Series, plan: pa.Table,
    con: ibis.BaseBackend, *, province: str = "Jiangsu", ported: pa.Table | None = None,
) -> npt.NDArray[np.object_]:
    """The route class (one of ``ROUTES``) of each call, in the calls' order; ``ported`` (the
    ported feed's rows) gives the carrier serving a ported number."""
    calls = pd.DataFrame({"i": np.arange(len(caller), dtype=np.int64),
                          "caller": caller.astype(str).to_numpy(),
                          "callee": callee.astype(str).to_numpy(),
                          "ingress": ingress.astype(str).to_numpy()})
    serving = serving_carriers(ibis.memtable(ported)) if ported is not None and ported.num_rows \
        else None
    t = with_route(ibis.memtable(calls), ibis.memtable(plan), province=province, ported=serving)
    got = con.execute(t.select("i", "route").order_by("i"))
    return got["route"].to_numpy(dtype=object)
