"""Route class of each call (省际 / 国际 / 网间 / 本地), from the numbering plan and the ingress.

The bar of the article is stated per route class, so the replay reports per class. A call's class
is decided from what the network sees, never from the simulator's truth:

1. ``international``: it came in through the international gateway, or either end is a foreign
   number;
2. ``inter_network``: either end is not a China Mobile number (another operator, a fixed line, a
   service number), or it came in over an interconnect presenting one of our own province's
   numbers (such a call did come from another network: the caller ID is spoofed);
3. ``local``: both ends are homed in our province;
4. ``inter_province``: everything else (a China Mobile number of another province at one end).

Numbers are classified once each (distinct values) by the numbering plan's prefix table as one
lazy expression (``telshield.detect.numbering.classify``), then mapped back onto the calls.
"""

from __future__ import annotations

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from telshield.detect.numbering import classify

ROUTES = ("inter_province", "international", "inter_network", "local")
BARRED = ("inter_province", "international", "inter_network")  # where the ≥ 95% bar applies
OWN_OPERATOR = "china_mobile"


def number_homes(numbers: pd.Series, plan: pa.Table, con: ibis.BaseBackend) -> pd.DataFrame:
    """Kind, operator and home province of each distinct number, indexed by the number."""
    distinct = pd.DataFrame({"n": pd.unique(numbers.astype(str))})
    expr = classify(ibis.memtable(distinct), "n", ibis.memtable(plan))
    got = con.execute(expr.select("n", "n_kind", "n_operator", "n_province"))
    got.columns = ["n", "kind", "operator", "province"]
    return got.drop_duplicates("n").set_index("n")


def route_classes(
    caller: pd.Series, callee: pd.Series, ingress: pd.Series, plan: pa.Table,
    con: ibis.BaseBackend, *, province: str = "Jiangsu",
) -> npt.NDArray[np.object_]:
    """The route class (one of ``ROUTES``) of each call, by the rules in this module's doc."""
    homes = number_homes(pd.concat([caller, callee], ignore_index=True), plan, con)
    a = homes.reindex(caller.astype(str).to_numpy())
    b = homes.reindex(callee.astype(str).to_numpy())
    ing = ingress.astype(str).to_numpy()
    a_kind, b_kind = a["kind"].to_numpy(), b["kind"].to_numpy()
    a_ours = a["operator"].to_numpy() == OWN_OPERATOR
    b_ours = b["operator"].to_numpy() == OWN_OPERATOR
    a_home = a["province"].to_numpy() == province
    b_home = b["province"].to_numpy() == province
    international = (ing == "international") | (a_kind == "international") | (
        b_kind == "international")
    spoofed_own = (ing == "interconnect") & a_ours & a_home
    inter_network = ~a_ours | ~b_ours | spoofed_own
    local = a_home & b_home
    out = np.where(international, "international", np.where(
        inter_network, "inter_network", np.where(local, "local", "inter_province")))
    return out.astype(object)
