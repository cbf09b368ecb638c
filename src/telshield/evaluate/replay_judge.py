"""Judging a replay against the simulator's truth: per route class, the share of fraud calls
intercepted, the share of legitimate calls blocked, and the time from a fraud number's first
fraud call to its first blocked call."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import numpy.typing as npt
import pandas as pd

from telshield.services.figures import BARRED, OUTCOMES, ROUTES, RouteFigures, route_figures

# Outcome codes of the decisions array (the engine's outcomes, by severity).
ALLOW, LABEL, WARN, REJECT = 0, 1, 2, 3
BAR_INTERCEPTED = 0.95  # the article: > 95% of inter-province/international/inter-network fraud
BAR_FALSE_BLOCKED = 0.0001  # our own bar: at most 0.01% of legitimate calls blocked


@dataclass(frozen=True)
class RouteResult:
    """What screening did on one route class (or a sum of classes)."""

    route: str
    fraud_calls: int
    intercepted: int  # fraud calls rejected
    warned: int  # fraud calls connected with a label or a warning to the callee
    before_alert: int  # fraud calls placed before their number's first alert (not yet known)
    legit_calls: int
    legit_blocked: int  # legitimate calls rejected
    fraud_numbers: int  # numbers that placed fraud calls on this route
    fraud_numbers_blocked: int  # ... of which at least one call was rejected
    median_minutes_to_block: float  # first fraud call -> first rejected one, blocked numbers

    @property
    def intercepted_share(self) -> float:
        """Share of fraud calls rejected (nan without fraud calls)."""
        return self.intercepted / self.fraud_calls if self.fraud_calls else float("nan")

    @property
    def blocked_share(self) -> float:
        """Share of legitimate calls rejected (nan without legitimate calls)."""
        return self.legit_blocked / self.legit_calls if self.legit_calls else float("nan")


def judge(
    route: npt.NDArray[np.object_], is_fraud: npt.NDArray[np.bool_],
    caller: npt.NDArray[np.int64], at: npt.NDArray[np.int64], outcome: npt.NDArray[np.int8],
    alerted: npt.NDArray[np.bool_] | None = None,
) -> list[RouteResult]:
    """One result per route class in ``ROUTES``, then one for the ``BARRED`` classes together.

    ``at`` is seconds; a number's delay is measured on its own calls of the route (of the
    barred routes together for the sum); numbers never blocked count in ``fraud_numbers`` only.
    ``alerted`` says, per call, whether its caller had been alerted on before the call.

    The call counts are the period figures' (``services.figures.route_figures``, the query the
    overview and the police report count with), labelled here with truth's ``is_fraud``; the
    per-number delays and ``before_alert`` need truth and the alerts and are counted here.
    """
    known = np.ones(len(route), dtype=bool) if alerted is None else alerted
    counts = screened_figures(route, is_fraud, outcome)
    out = [_one(counts[i], route == r, is_fraud, caller, at, outcome, known)
           for i, r in enumerate(ROUTES)]
    barred = np.isin(route, np.array(BARRED, dtype=object))
    out.append(_one(counts[len(ROUTES)], barred, is_fraud, caller, at, outcome, known))
    return out


def screened_figures(route: npt.NDArray[np.object_], is_fraud: npt.NDArray[np.bool_],
                     outcome: npt.NDArray[np.int8]) -> list[RouteFigures]:
    """The period figures' per-route counts of these calls (outcome ranks, truth's label)."""
    names = np.array(OUTCOMES, dtype=object)[outcome.astype(np.int64)]
    t = ibis.memtable(pd.DataFrame({"route": route.astype(object), "outcome": names,
                                    "fraud": is_fraud.astype(bool)}),
                      schema={"route": "string", "outcome": "string", "fraud": "boolean"})
    return route_figures(t)


def _one(n: RouteFigures, on: npt.NDArray[np.bool_], fraud: npt.NDArray[np.bool_],
         caller: npt.NDArray[np.int64], at: npt.NDArray[np.int64],
         outcome: npt.NDArray[np.int8], known: npt.NDArray[np.bool_]) -> RouteResult:
    rejected = outcome == REJECT
    f = on & fraud
    calls = pd.DataFrame({"n": caller[f], "t": at[f], "blocked": rejected[f]})
    first = calls.groupby("n")["t"].min()
    first_block = calls[calls["blocked"]].groupby("n")["t"].min()
    delay = (first_block - first.reindex(first_block.index)) / 60.0
    return RouteResult(
        route=n.route, fraud_calls=n.fraud_calls, intercepted=n.intercepted, warned=n.warned,
        before_alert=int((f & ~known).sum()), legit_calls=n.legit_calls,
        legit_blocked=n.legit_blocked, fraud_numbers=len(first),
        fraud_numbers_blocked=len(first_block),
        median_minutes_to_block=float(delay.median()) if len(delay) else float("nan"),
    )


def meets_bar(results: list[RouteResult]) -> bool:
    """Whether every barred route intercepts ≥ 95% of its fraud calls (and there were some)
    and, over all routes, at most 0.01% of legitimate calls are blocked."""
    by = {r.route: r for r in results}
    legit = sum(by[r].legit_calls for r in ROUTES)
    blocked = sum(by[r].legit_blocked for r in ROUTES)
    routes_ok = all(by[r].fraud_calls == 0 or by[r].intercepted_share >= BAR_INTERCEPTED
                    for r in BARRED)
    some = any(by[r].fraud_calls for r in BARRED)
    return some and routes_ok and (legit == 0 or blocked / legit <= BAR_FALSE_BLOCKED)
