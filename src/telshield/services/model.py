"""Model use cases: train and score on any feature table, or on the lake; versioned artefacts.

An artefact is a folder ``<models_dir>/<version>/`` with ``model.txt`` (LightGBM) and
``meta.json`` (feature list, training window, label source, metrics, created time).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import structlog

from telshield.detect import model as m
from telshield.detect import tuning
from telshield.domain.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import lightgbm

log = structlog.get_logger(__name__)


@dataclass
class Artefact:
    """A trained model with what it needs to be used and judged."""

    version: str
    booster: lightgbm.Booster
    features: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_graph(self) -> bool:
        """Whether the model reads graph features (it then needs an edge list to score)."""
        return bool(self.meta.get("graph"))


def save(art_booster: lightgbm.Booster, features: list[str], meta: dict[str, Any],
         models_dir: Path) -> Artefact:
    """Write a new artefact version and return it."""
    text = art_booster.model_to_string()
    now = datetime.now(UTC)
    version = f"m{now:%Y%m%dT%H%M%S}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    d = models_dir / version
    d.mkdir(parents=True, exist_ok=False)
    (d / "model.txt").write_text(text)
    meta = {**meta, "version": version, "features": features, "created_at": now.isoformat()}
    (d / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    log.info("model.saved", version=version, path=str(d))
    return Artefact(version, art_booster, features, meta)


def load(models_dir: Path, version: str | None = None) -> Artefact:
    """The artefact ``version`` (default: the newest) from ``models_dir``."""
    import lightgbm

    if version is None:
        found = sorted(p.name for p in models_dir.glob("m*") if (p / "meta.json").exists()) \
            if models_dir.exists() else []
        if not found:
            raise NotFound(f"no trained model in {models_dir}; run `telshield model train` first")
        version = found[-1]
    d = models_dir / version
    if not (d / "model.txt").exists():
        raise NotFound(f"model version {version!r} not found in {models_dir}")
    meta = json.loads((d / "meta.json").read_text())
    booster = lightgbm.Booster(model_str=(d / "model.txt").read_text())
    return Artefact(version, booster, list(meta["features"]), meta)


def latest_or_none(models_dir: Path) -> Artefact | None:
    """The newest artefact, or None when none was trained."""
    try:
        return load(models_dir)
    except NotFound:
        return None


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet table; numbers stay text."""
    if not path.exists():
        raise InvalidInput(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pd.read_csv(path, dtype={0: str}, keep_default_na=True)
    raise InvalidInput(f"{path}: use a .csv or .parquet file")


@dataclass(frozen=True)
class TableSpec:
    """How to read a bring-your-own feature table."""

    label: str = "label"
    id_column: str = "msisdn"


def _prepare(frame: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, list[str]]:
    if spec.id_column not in frame.columns:
        raise InvalidInput(f"feature table needs an id column {spec.id_column!r} "
                           f"(columns: {', '.join(map(str, frame.columns[:10]))}...)")
    frame = frame.rename(columns={spec.id_column: "msisdn"})
    frame["msisdn"] = frame["msisdn"].astype(str)
    features = [c for c in frame.columns if c not in ("msisdn", spec.label)
                and pd.api.types.is_numeric_dtype(frame[c])]
    if not features:
        raise InvalidInput("feature table has no numeric feature columns")
    return frame.reset_index(drop=True), features


def _labels(frame: pd.DataFrame, spec: TableSpec) -> np.ndarray:
    if spec.label not in frame.columns:
        raise InvalidInput(f"feature table has no label column {spec.label!r}; pass --label NAME")
    y = pd.to_numeric(frame[spec.label], errors="coerce")
    if y.isna().any() or not set(y.unique()) <= {0, 1}:
        raise InvalidInput(f"label column {spec.label!r} must hold only 0 and 1")
    return y.to_numpy(dtype=int)


def train_table(
    frame: pd.DataFrame, spec: TableSpec, models_dir: Path, *,
    edges: pd.DataFrame | None = None, folds: int = 5, inner: int = 3,
    progress: Callable[[str], None] | None = None,
) -> tuple[Artefact, dict[str, float]]:
    """Nested cross-validation (hyperparameters, calibration and threshold chosen inside each
    outer part), then train on the whole table and save the artefact with what it chose."""
    frame, features = _prepare(frame, spec)
    y = _labels(frame, spec)
    nested = tuning.nested_cv(frame, y, features, edges=edges, outer=folds, inner=inner,
                              progress=progress)
    choice = tuning.deployed(nested, y)
    names = list(features)
    if edges is not None:
        stage1 = m.oof_scores(frame, y, features, k=folds)
        frame = m.with_graph(frame, y, np.ones(len(y), bool), features, edges, stage1)
        names += list(m.GRAPH_FEATURES)
    booster = m.fit(frame, y, names, params=choice.params)
    meta = {"source": "table", "label": spec.label, "rows": len(y), "positives": int(y.sum()),
            "metrics_cv": nested.metrics, "selection": "nested cross-validation",
            "folds": {"outer": folds, "inner": inner}, "params": choice.params,
            "threshold": choice.threshold, "calibration": choice.calibration.to_json(),
            "graph": edges is not None, "stage1_features": features}
    art = save(booster, names, meta, models_dir)
    if edges is not None:
        stage1_booster = m.fit(frame, y, features)
        (models_dir / art.version / "stage1.txt").write_text(stage1_booster.model_to_string())
    return art, nested.metrics


def score_table(
    frame: pd.DataFrame, art: Artefact, spec: TableSpec, *, edges: pd.DataFrame | None = None,
    models_dir: Path | None = None,
) -> tuple[pd.DataFrame, dict[str, float] | None]:
    """Scores (and top reasons) for each row; metrics too when the table has labels."""
    import lightgbm

    frame = frame.rename(columns={spec.id_column: "msisdn"}).reset_index(drop=True)
    frame["msisdn"] = frame["msisdn"].astype(str)
    if art.uses_graph:
        if edges is None or models_dir is None:
            raise InvalidInput(f"model {art.version} uses graph features: pass --edges")
        stage1 = lightgbm.Booster(model_file=str(models_dir / art.version / "stage1.txt"))
        s1 = m.predict(stage1, frame)
        # Labels of the scored table are never used to build its features.
        frame = m.with_graph(frame, None, np.zeros(len(frame), bool), art.features, edges, s1)
    # Models saved before calibration existed score raw, at 0.5.
    scores = tuning.Calibration.from_json(art.meta.get("calibration"))(
        m.predict(art.booster, frame))
    threshold = float(art.meta.get("threshold", 0.5))
    why = m.reasons(art.booster, frame)
    out = pd.DataFrame({"msisdn": frame["msisdn"], "score": scores,
                        "reasons": ["; ".join(f"{c.feature}={c.value:g}" for c in r)
                                    for r in why]})
    out["fraud"] = scores >= threshold
    metrics = (m.metrics(_labels(frame, spec), scores, threshold)
               if spec.label in frame.columns else None)
    return out, metrics
