"""Graph features over a number-to-number edge list: neighbours' scores, label propagation.

Vectorised with a sparse adjacency matrix (SciPy, which scikit-learn already brings).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from telshield.domain.errors import InvalidInput

PROPAGATION_STEPS = 10
PROPAGATION_ALPHA = 0.8  # share of a node's value that comes from its neighbours each step


def _adjacency(nodes: np.ndarray, edges: pd.DataFrame) -> tuple[object, np.ndarray]:
    from scipy import sparse

    cols = list(edges.columns[:2])
    if len(cols) < 2:
        raise InvalidInput("edge list needs two columns (source, target number)")
    index = pd.Index(nodes)
    src = index.get_indexer(edges[cols[0]].astype(str).to_numpy())
    dst = index.get_indexer(edges[cols[1]].astype(str).to_numpy())
    ok = (src >= 0) & (dst >= 0) & (src != dst)
    n = len(nodes)
    a = sparse.coo_matrix((np.ones(int(ok.sum())), (src[ok], dst[ok])), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype("float64")  # undirected, unweighted
    degree = np.asarray(a.sum(axis=1)).ravel()
    return a, degree


def graph_features(
    nodes: np.ndarray, edges: pd.DataFrame, scores: np.ndarray, seeds: np.ndarray
) -> pd.DataFrame:
    """Per node: mean and max neighbour score, degree, and label propagation from ``seeds``.

    ``scores`` are model scores of every node; ``seeds`` start the propagation (known labels
    where known, scores elsewhere). Edges to numbers outside ``nodes`` are ignored.
    """
    from scipy import sparse

    a, degree = _adjacency(nodes, edges)
    assert isinstance(a, sparse.csr_matrix | sparse.csr_array)
    safe = np.where(degree > 0, degree, 1.0)
    mean = (a @ scores) / safe
    coo = a.tocoo()
    best = np.zeros(len(nodes))
    np.maximum.at(best, coo.row, scores[coo.col])
    p = seeds.astype("float64").copy()
    for _ in range(PROPAGATION_STEPS):
        p = PROPAGATION_ALPHA * ((a @ p) / safe) + (1 - PROPAGATION_ALPHA) * seeds
    # The feature is the neighbours' propagated value, not the node's own (its seed may be its
    # label in training).
    p = (a @ p) / safe
    isolated = degree == 0
    mean[isolated], p[isolated] = np.nan, np.nan
    return pd.DataFrame({"nb_score_mean": mean, "nb_score_max": np.where(isolated, np.nan, best),
                         "nb_count": degree, "label_propagation": p})
